package dev.toboggan;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.Jitter;
import dev.toboggan.engine.EngineSettings;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;

/**
 * A time-bounded stress of the trees on the whole store (the engine's Flusher and Snapshotter running, on a
 * simulated disk), with random delays before every page table CAS: writers insert, remove, swap and apply
 * batches on keys they own in two trees, all threads race compare-and-swap increments of shared counters
 * and generate ids, and scanners run range and prefix scans throughout. Invariants:
 * <ul>
 *   <li>while everything runs: scans return keys in strictly increasing order, each with a value that
 *       names it; the keys no writer ever removes are always there; batches are seen in the order they
 *       were applied (a scan reads forward in time, so a later key never holds an older batch);
 *   <li>at quiescent points (every second or so writers pause): each tree equals the union of the
 *       writers' models exactly, random range scans (forward and reverse) equal the model's sub-maps,
 *       the counters equal the increments that succeeded, and the structure checks out ({@link
 *       TreeVerifier}: invariants, no leaked page);
 *   <li>generated ids never repeat; after a clean close and reopen, everything is exactly the model;
 *   <li>a tree rebuilt again and again under a scratch name (a generation at a time, {@link Db#buildTree}) and
 *       renamed onto tree {@code live} ({@link Db#renameTree}), which a reader reads through one {@link Tree}
 *       object: it never misses a key, its generations never go back (along a scan either), and at quiescent
 *       points it is the last generation renamed; a tree filled and cleared ({@link Tree#clear}) each round
 *       counts what it held and is empty at those points.
 * </ul>
 * {@code -Dtoboggan.stress.seconds} sets the duration (a few seconds by default, 20 minutes with {@code
 * -Pstress}); {@code -Dtoboggan.test.seed} replays the random choices (the interleavings differ).
 */
class TreeStressTest {
    private static final long SECONDS = Long.getLong("toboggan.stress.seconds", 6);
    private static final long SEED = Long.getLong("toboggan.test.seed", System.nanoTime());
    private static final int WRITERS = 3;
    private static final int SCANNERS = 2;
    private static final int KEYS = 400;
    private static final int BATCH_KEYS = 4;
    private static final String[] TREES = {"s0", "s1"};
    /** Keys of each generation of tree {@code live}: {@link #key}{@code (LIVE, i)}. */
    private static final int LIVE = 8;
    private static final int LIVE_KEYS = 300;
    private static final Config CONFIG = ConfigFactory.parseString("""
            toboggan.segment-size = 32KiB
            toboggan.flush-every = 5ms
            toboggan.snapshot-after-ops = 1024
            toboggan.snapshot-interval = 1s
            toboggan.tree.node-split-size = 256B
            toboggan.tree.max-inline-value = 24B
            """);

    private final ReentrantReadWriteLock quiesce = new ReentrantReadWriteLock();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final AtomicLong[] increments = {new AtomicLong(), new AtomicLong()};
    private final Set<Long> ids = ConcurrentHashMap.newKeySet();
    /** Each writer's model per tree: written only by that writer, read by the checker while writers pause. */
    private final List<List<NavigableMap<byte[], byte[]>>> models = new ArrayList<>();
    /** The generation last renamed onto tree {@code live}. */
    private final java.util.concurrent.atomic.AtomicInteger liveGeneration = new java.util.concurrent.atomic.AtomicInteger();

    @Test
    void writersScannersAndCountersKeepEveryInvariantUnderJitter() throws Exception {
        System.out.println("TreeStressTest seed " + SEED + " (rerun with -Dtoboggan.test.seed=" + SEED + "), " + SECONDS
                + " s");
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "stress");
        SimulatedStorage disk = new SimulatedStorage();
        EngineSettings settings = EngineSettings.fromConfig(CONFIG, Path.of("/store"));
        TreeSettings trees = TreeSettings.fromConfig(CONFIG);
        ExecutorService pool = Executors.newCachedThreadPool();
        Store db = Toboggan.open(settings, trees, system, disk);
        Jitter.activate(true);
        try {
            for (int w = 0; w < WRITERS; w++) {
                models.add(List.of(TestKeys.model(), TestKeys.model()));
                for (String tree : TREES) {
                    // The permanent keys: even j below KEYS / 4, never removed.
                    for (int j = 0; j < KEYS / 4; j += 2) {
                        byte[] k = key(w, j);
                        byte[] v = value(k, 0);
                        db.tree(tree).insert(k, v);
                        models.get(w).get(tree.equals("s0") ? 0 : 1).put(k, v);
                    }
                }
            }
            db.buildTree("live", generation(0), 1);
            List<Future<?>> tasks = new ArrayList<>();
            Store running = db;
            tasks.add(pool.submit(() -> swap(running, new SplittableRandom(SEED * 17))));
            tasks.add(pool.submit(() -> readLive(running.tree("live"), new SplittableRandom(SEED * 19))));
            for (int w = 0; w < WRITERS; w++) {
                int writer = w;
                tasks.add(pool.submit(() -> write(running, writer, new SplittableRandom(SEED + writer))));
            }
            for (int s = 0; s < SCANNERS; s++) {
                int scanner = s;
                tasks.add(pool.submit(() -> scan(running, new SplittableRandom(SEED * 7 + scanner))));
            }
            SplittableRandom r = new SplittableRandom(SEED * 13);
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
            int checks = 0;
            while (System.nanoTime() < end) {
                Thread.sleep(1000);
                for (Future<?> task : tasks) {
                    if (task.isDone()) {
                        task.get(); // a worker that stopped early failed: report why
                    }
                }
                quiesce.writeLock().lock();
                try {
                    checkQuiescent(db, r);
                    checks++;
                } finally {
                    quiesce.writeLock().unlock();
                }
            }
            stop.set(true);
            for (Future<?> task : tasks) {
                task.get(60, TimeUnit.SECONDS);
            }
            checkQuiescent(db, r);
            db.close();
            Jitter.activate(false);
            db = Toboggan.open(settings, trees, system, disk);
            checkQuiescent(db, r);
            System.out.println("TreeStressTest: " + checks + " quiescent checks, " + (increments[0].get()
                    + increments[1].get()) + " counter increments, " + ids.size() + " ids, " + liveGeneration.get()
                    + " generations of tree live renamed into place");
        } finally {
            Jitter.activate(false);
            stop.set(true);
            pool.shutdownNow();
            db.close();
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    /** Writer {@code w}'s key {@code j}. */
    private static byte[] key(int w, int j) {
        return ByteBuffer.allocate(5).put((byte) w).putInt(j).array();
    }

    /** A value that names its key and a version; inline or paged depending on the version. */
    private static byte[] value(byte[] key, int version) {
        int padding = version % 7 == 0 ? 60 : version % 4;
        return ByteBuffer.allocate(key.length + 4 + padding).put(key).putInt(version).array();
    }

    private static int versionOf(byte[] value) {
        return ByteBuffer.wrap(value, 5, 4).getInt();
    }

    private static final byte[] COUNTER = {(byte) 0xFF, 'c'};

    private void write(Store db, int w, SplittableRandom r) {
        int version = 1;
        while (!stop.get()) {
            quiesce.readLock().lock();
            try {
                int t = r.nextInt(2);
                Tree tree = db.tree(TREES[t]);
                NavigableMap<byte[], byte[]> model = models.get(w).get(t);
                // The batch keys sit at the top of the writer's range; the others churn below them.
                int j = 1 + 2 * r.nextInt(KEYS / 2 - BATCH_KEYS);
                byte[] k = key(w, j);
                int roll = r.nextInt(100);
                if (roll < 45) {
                    byte[] v = value(k, version++);
                    tree.insert(k, v);
                    model.put(k, v);
                } else if (roll < 60) {
                    tree.remove(k);
                    model.remove(k);
                } else if (roll < 70) {
                    byte[] v = r.nextInt(4) == 0 ? null : value(k, version++);
                    assertThat(tree.compareAndSwap(k, model.get(k), v).succeeded()).as("swap of an owned key").isTrue();
                    if (v == null) {
                        model.remove(k);
                    } else {
                        model.put(k, v);
                    }
                } else if (roll < 80) {
                    Batch batch = new Batch();
                    int v = version++;
                    for (int b = 0; b < BATCH_KEYS; b++) {
                        byte[] bk = key(w, KEYS - 1 - b);
                        batch.insert(bk, value(bk, v));
                        model.put(bk, value(bk, v));
                    }
                    tree.applyBatch(batch);
                } else if (roll < 92) {
                    int c = r.nextInt(2);
                    Tree counters = db.tree(TREES[c]);
                    while (true) {
                        byte[] current = counters.get(COUNTER);
                        long n = current == null ? 0 : ByteBuffer.wrap(current).getLong();
                        if (counters.compareAndSwap(COUNTER, current, ByteBuffer.allocate(8).putLong(n + 1).array())
                                .succeeded()) {
                            increments[c].incrementAndGet();
                            break;
                        }
                    }
                } else {
                    long id = db.generateId();
                    assertThat(ids.add(id)).as("id %d generated twice", id).isTrue();
                }
            } finally {
                quiesce.readLock().unlock();
            }
        }
    }

    /** Generation {@code g} of tree {@code live}: every key, each value naming it and {@code g}. */
    private static Iterator<Map.Entry<byte[], byte[]>> generation(int g) {
        NavigableMap<byte[], byte[]> entries = TestKeys.model();
        for (int i = 0; i < LIVE_KEYS; i++) {
            byte[] k = key(LIVE, i);
            entries.put(k, value(k, g));
        }
        return entries.entrySet().iterator();
    }

    /**
     * Each round builds the next generation under a scratch name (full nodes or a fill of 0.7) and renames it onto
     * tree {@code live}, then fills tree {@code junk} and clears it.
     */
    private void swap(Store db, SplittableRandom r) {
        int g = 0;
        while (!stop.get()) {
            quiesce.readLock().lock();
            try {
                g++;
                db.buildTree("scratch", generation(g), r.nextBoolean() ? 1 : 0.7);
                assertThat(db.renameTree("scratch", "live")).as("generation %d replaced the one before", g).isTrue();
                liveGeneration.set(g);
                Tree junk = db.tree("junk");
                int n = r.nextInt(200);
                for (int i = 0; i < n; i++) {
                    junk.insert(key(LIVE, i), value(key(LIVE, i), g));
                }
                assertThat(junk.clear()).as("entries cleared").isEqualTo(n);
            } finally {
                quiesce.readLock().unlock();
            }
        }
    }

    /** Reads tree {@code live} through one object while it is replaced: whole, and never an older generation. */
    private void readLive(Tree live, SplittableRandom r) {
        int seen = 0;
        while (!stop.get()) {
            if (r.nextBoolean()) {
                byte[] k = key(LIVE, r.nextInt(LIVE_KEYS));
                byte[] v = live.get(k);
                assertThat(v).as("key %s of tree live", TestKeys.hex(k)).isNotNull();
                assertThat(Arrays.equals(v, 0, 5, k, 0, 5)).as("a value names its key").isTrue();
                assertThat(versionOf(v)).as("a generation after %d", seen).isGreaterThanOrEqualTo(seen);
                seen = versionOf(v);
            } else {
                Iterator<Map.Entry<byte[], byte[]>> it = r.nextBoolean() ? live.iterator() : live.rangeReverse(null, null);
                int count = 0;
                int last = 0;
                while (it.hasNext()) {
                    Map.Entry<byte[], byte[]> e = it.next();
                    assertThat(Arrays.equals(e.getValue(), 0, 5, e.getKey(), 0, 5)).as("a value names its key").isTrue();
                    assertThat(versionOf(e.getValue())).as("generations along a scan").isGreaterThanOrEqualTo(last);
                    last = versionOf(e.getValue());
                    count++;
                }
                assertThat(count).as("keys of a scan of tree live").isEqualTo(LIVE_KEYS);
            }
        }
    }

    /** Checks what must hold while writers run. */
    private void scan(Store db, SplittableRandom r) {
        while (!stop.get()) {
            Tree tree = db.tree(TREES[r.nextInt(2)]);
            int w = r.nextInt(WRITERS);
            Iterator<Map.Entry<byte[], byte[]>> it = r.nextBoolean()
                    ? tree.scanPrefix(new byte[] {(byte) w})
                    : tree.range(key(w, 0), key(w, KEYS));
            byte[] previous = null;
            int permanent = 0;
            int batchVersion = -1;
            int batchSeen = 0;
            while (it.hasNext()) {
                Map.Entry<byte[], byte[]> e = it.next();
                byte[] k = e.getKey();
                assertThat(previous == null || Arrays.compareUnsigned(previous, k) < 0).as("scan order").isTrue();
                assertThat(Arrays.equals(e.getValue(), 0, 5, k, 0, 5)).as("a value names its key").isTrue();
                int j = ByteBuffer.wrap(k, 1, 4).getInt();
                if (j < KEYS / 4 && j % 2 == 0) {
                    permanent++;
                }
                if (j >= KEYS - BATCH_KEYS) {
                    // Iterators are weakly consistent: one reading leaf by leaf may see a batch that spans
                    // leaves applied after it read the first. But it reads forward in time, and each batch
                    // has a higher version than the one before: versions never go down along the scan.
                    int v = versionOf(e.getValue());
                    assertThat(v).as("a batch key read later in a scan holds an older batch").isGreaterThanOrEqualTo(
                            batchVersion);
                    batchVersion = v;
                    batchSeen++;
                }
                previous = k;
            }
            assertThat(permanent).as("permanent keys of writer %d seen by a full scan", w).isEqualTo(KEYS / 8);
            assertThat(batchSeen).as("batch keys seen").isIn(0, BATCH_KEYS);
        }
    }

    /** Checks what must hold while nobody writes: exact contents, scans, counters, structure. */
    private void checkQuiescent(Store db, SplittableRandom r) {
        for (int t = 0; t < TREES.length; t++) {
            NavigableMap<byte[], byte[]> expected = TestKeys.model();
            for (int w = 0; w < WRITERS; w++) {
                expected.putAll(models.get(w).get(t));
            }
            long count = increments[t].get();
            if (count > 0) {
                expected.put(COUNTER, ByteBuffer.allocate(8).putLong(count).array());
            }
            Tree tree = db.tree(TREES[t]);
            assertThat(TestKeys.drain(tree.iterator())).as("tree %s", TREES[t]).isEqualTo(TestKeys.show(expected));
            for (int i = 0; i < 10; i++) {
                byte[] from = key(r.nextInt(WRITERS), r.nextInt(KEYS));
                byte[] to = key(r.nextInt(WRITERS), r.nextInt(KEYS));
                if (Arrays.compareUnsigned(from, to) > 0) {
                    byte[] swap = from;
                    from = to;
                    to = swap;
                }
                assertThat(TestKeys.drain(tree.range(from, to))).as("range scan")
                        .isEqualTo(TestKeys.show(expected.subMap(from, true, to, false)));
                List<String> reverse = new ArrayList<>(TestKeys.show(expected.subMap(from, true, to, false)));
                java.util.Collections.reverse(reverse);
                assertThat(TestKeys.drain(tree.rangeReverse(from, to))).as("reverse range scan").isEqualTo(reverse);
            }
        }
        NavigableMap<byte[], byte[]> live = TestKeys.model();
        generation(liveGeneration.get()).forEachRemaining(e -> live.put(e.getKey(), e.getValue()));
        assertThat(TestKeys.drain(db.tree("live").iterator())).as("tree live").isEqualTo(TestKeys.show(live));
        assertThat(db.tree("junk").isEmpty()).as("tree junk, cleared").isTrue();
        assertThat(db.treeNames()).doesNotContain("scratch");
        TreeVerifier.verify(db);
    }
}
