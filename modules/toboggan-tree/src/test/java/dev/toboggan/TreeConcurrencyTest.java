package dev.toboggan;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.Failpoints;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.Jitter;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Several writers and scanners at once, on tiny nodes (so splits race with everything) and with random
 * delays before page table CASes: iterators stay weakly consistent, CAS loops lose no update, batches are
 * never seen in part, and the final contents and structure are exact.
 */
class TreeConcurrencyTest {
    private static final int SCALE = Integer.getInteger("toboggan.test.scale", 1);
    private static final long SEED = Long.getLong("toboggan.test.seed", System.nanoTime());

    private Store db;
    private ExecutorService pool;

    @BeforeAll
    static void printSeed() {
        System.out.println("TreeConcurrencyTest seed " + SEED + " (rerun with -Dtoboggan.test.seed=" + SEED + ")");
    }

    @BeforeEach
    void open() {
        db = PageCacheBackend.open(new SimulatedStorage(), PageCacheBackend.smallConfig(16 * 1024), new TreeSettings(160, 24));
        pool = Executors.newCachedThreadPool();
        Jitter.activate(true);
    }

    @AfterEach
    void close() throws InterruptedException {
        Jitter.activate(false);
        pool.shutdownNow();
        pool.awaitTermination(10, TimeUnit.SECONDS);
        db.close();
    }

    /** Writer {@code w}'s key {@code j}: its own range, interleaved with the permanent keys. */
    private static byte[] key(int w, int j) {
        return ByteBuffer.allocate(5).put((byte) w).putInt(j).array();
    }

    /** A value that names its key and a version, of a size that is inline or paged depending on the version. */
    private static byte[] value(byte[] key, int version) {
        int padding = version % 5 == 0 ? 40 : version % 3;
        return ByteBuffer.allocate(key.length + 4 + padding).put(key).putInt(version).array();
    }

    private static boolean valueNames(byte[] value, byte[] key) {
        return value.length >= key.length + 4 && Arrays.equals(value, 0, key.length, key, 0, key.length);
    }

    @Test
    void writersAndScannersNeverSeeAnInconsistentTree() throws Exception {
        int writers = 3;
        int keysPerWriter = 300;
        int opsPerWriter = 5000 * SCALE;
        // Permanent keys (even j) exist for the whole run; writers churn the odd ones.
        for (int w = 0; w < writers; w++) {
            for (int j = 0; j < keysPerWriter; j += 2) {
                db.insert(key(w, j), value(key(w, j), 0));
            }
        }
        AtomicBoolean done = new AtomicBoolean();
        List<Future<NavigableMap<byte[], byte[]>>> writing = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            int id = w;
            writing.add(pool.submit(() -> writer(id, keysPerWriter, opsPerWriter, new SplittableRandom(SEED + id))));
        }
        List<Future<Long>> scanning = new ArrayList<>();
        for (int s = 0; s < 2; s++) {
            long seed = SEED + 100 + s;
            scanning.add(pool.submit(() -> scanner(writers, keysPerWriter, done, new SplittableRandom(seed))));
        }
        Future<?> flusher = pool.submit(() -> {
            while (!done.get()) {
                db.flush();
                Thread.sleep(2);
            }
            return null;
        });
        NavigableMap<byte[], byte[]> expected = TestKeys.model();
        for (Future<NavigableMap<byte[], byte[]>> f : writing) {
            expected.putAll(f.get(120, TimeUnit.SECONDS));
        }
        done.set(true);
        long scans = 0;
        for (Future<Long> f : scanning) {
            scans += f.get(60, TimeUnit.SECONDS);
        }
        flusher.get(10, TimeUnit.SECONDS);
        assertThat(scans).isPositive();
        Jitter.activate(false);
        assertThat(TestKeys.drain(db.iterator())).isEqualTo(TestKeys.show(expected));
        TreeVerifier.verify(db);
    }

    /** Inserts, overwrites and removes writer {@code w}'s odd keys; returns its final contents (permanent keys included). */
    private NavigableMap<byte[], byte[]> writer(int w, int keys, int ops, SplittableRandom r) {
        NavigableMap<byte[], byte[]> mine = TestKeys.model();
        for (int j = 0; j < keys; j += 2) {
            mine.put(key(w, j), value(key(w, j), 0));
        }
        for (int i = 1; i <= ops; i++) {
            int j = r.nextInt(keys);
            byte[] k = key(w, j);
            if (j % 2 == 0) {
                byte[] v = value(k, i);
                assertThat(db.insert(k, v)).isEqualTo(mine.put(k, v));
            } else if (r.nextInt(3) == 0) {
                assertThat(db.remove(k)).isEqualTo(mine.remove(k));
            } else if (r.nextInt(4) == 0) {
                byte[] v = value(k, i);
                SwapResult s = db.compareAndSwap(k, mine.get(k), v);
                assertThat(s.succeeded()).isTrue();
                mine.put(k, v);
            } else {
                byte[] v = value(k, i);
                assertThat(db.insert(k, v)).isEqualTo(mine.put(k, v));
            }
            if (i % 50 == 0) {
                assertThat(db.get(k)).isEqualTo(mine.get(k));
            }
        }
        return mine;
    }

    /** Scans random ranges both ways until told to stop; returns how many scans it made. */
    private long scanner(int writers, int keys, AtomicBoolean done, SplittableRandom r) {
        long scans = 0;
        while (!done.get() || scans < 4) {
            byte[] from = r.nextInt(4) == 0 ? null : key(r.nextInt(writers), r.nextInt(keys));
            byte[] to = r.nextInt(4) == 0 ? null : key(r.nextInt(writers), r.nextInt(keys));
            if (from != null && to != null && Arrays.compareUnsigned(from, to) > 0) {
                byte[] t = from;
                from = to;
                to = t;
            }
            boolean reverse = r.nextBoolean();
            Iterator<Map.Entry<byte[], byte[]>> it = reverse ? db.rangeReverse(from, to) : db.range(from, to);
            List<byte[]> seen = new ArrayList<>();
            byte[] previous = null;
            while (it.hasNext()) {
                Map.Entry<byte[], byte[]> e = it.next();
                byte[] k = e.getKey();
                assertThat(valueNames(e.getValue(), k)).as("value of %s", TestKeys.hex(k)).isTrue();
                if (from != null) {
                    assertThat(Arrays.compareUnsigned(k, from)).as("below from").isGreaterThanOrEqualTo(0);
                }
                if (to != null) {
                    assertThat(Arrays.compareUnsigned(k, to)).as("past to").isLessThan(0);
                }
                if (previous != null) {
                    int order = Arrays.compareUnsigned(previous, k);
                    assertThat(reverse ? order > 0 : order < 0).as("order (or a repeat) at %s", TestKeys.hex(k)).isTrue();
                }
                previous = k;
                seen.add(k);
            }
            NavigableMap<byte[], Boolean> returned = new java.util.TreeMap<>(Arrays::compareUnsigned);
            seen.forEach(k -> returned.put(k, true));
            for (int w = 0; w < writers; w++) {
                for (int j = 0; j < keys; j += 2) {
                    byte[] k = key(w, j);
                    boolean inRange = (from == null || Arrays.compareUnsigned(k, from) >= 0)
                            && (to == null || Arrays.compareUnsigned(k, to) < 0);
                    if (inRange) {
                        assertThat(returned.containsKey(k)).as("permanent key %s missed", TestKeys.hex(k)).isTrue();
                    }
                }
            }
            scans++;
        }
        return scans;
    }

    @Test
    void compareAndSwapLoopsLoseNoIncrement() throws Exception {
        int threads = 4;
        int increments = 800 * SCALE;
        byte[][] counters = {TestKeys.utf8("c1"), TestKeys.utf8("c2"), TestKeys.utf8("c3")};
        List<Callable<Void>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            SplittableRandom r = new SplittableRandom(SEED + t);
            tasks.add(() -> {
                for (int i = 0; i < increments; i++) {
                    byte[] counter = counters[r.nextInt(counters.length)];
                    while (true) {
                        byte[] current = db.get(counter);
                        long n = current == null ? 0 : ByteBuffer.wrap(current).getLong();
                        // Every tenth count gets a long value: a value page that the next swap frees.
                        byte[] next = ByteBuffer.allocate(n % 10 == 9 ? 64 : 8).putLong(n + 1).array();
                        if (db.compareAndSwap(counter, current, next).succeeded()) {
                            break;
                        }
                    }
                    // Filler keys make the counters' leaves split while the loops run.
                    db.insert(ByteBuffer.allocate(6).putShort((short) 7).putInt(r.nextInt()).array(), new byte[10]);
                }
                return null;
            });
        }
        for (Future<Void> f : pool.invokeAll(tasks)) {
            f.get();
        }
        long total = 0;
        for (byte[] counter : counters) {
            byte[] v = db.get(counter);
            total += v == null ? 0 : ByteBuffer.wrap(v).getLong();
        }
        assertThat(total).isEqualTo((long) threads * increments);
        Jitter.activate(false);
        TreeVerifier.verify(db);
    }

    /**
     * {@link Db#transaction}s move amounts between accounts kept in two trees, each counting its transfer in a
     * third tree, and abort (by throwing) when the account to take from holds too little; read-only
     * transactions sum every account; a plain writer fills the account trees with other keys (splits, merges,
     * value pages). Every audit sees the total the accounts started with, and each thread's count in the
     * ledger equals the transfers it saw commit (none lost, none made twice).
     */
    @Test
    void transactionsMoveAmountsWithoutMakingOrLosingAny() throws Exception {
        int accounts = 8;
        long start = 1000;
        int transfers = 300 * SCALE;
        String[] trees = {"checking", "savings"};
        for (String tree : trees) {
            for (int a = 0; a < accounts; a++) {
                db.tree(tree).insert(account(a), balance(start));
            }
        }
        long total = start * accounts * trees.length;
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong audits = new AtomicLong();
        AtomicLong aborts = new AtomicLong();
        List<Callable<Void>> tasks = new ArrayList<>();
        int movers = 3;
        long[] committed = new long[movers];
        for (int t = 0; t < movers; t++) {
            int thread = t;
            SplittableRandom r = new SplittableRandom(SEED + 100 + t);
            tasks.add(() -> {
                for (int i = 0; i < transfers; i++) {
                    String fromTree = trees[r.nextInt(2)];
                    String toTree = trees[r.nextInt(2)];
                    byte[] from = account(r.nextInt(accounts));
                    byte[] to = account(r.nextInt(accounts));
                    long amount = 1 + r.nextInt(400);
                    try {
                        db.transaction(tx -> {
                            long source = amount(tx.tree(fromTree).get(from));
                            if (source < amount) {
                                throw new IllegalStateException("too little: " + source + " < " + amount);
                            }
                            tx.tree(fromTree).insert(from, balance(source - amount));
                            tx.tree(toTree).insert(to, balance(amount(tx.tree(toTree).get(to)) + amount));
                            byte[] count = TestKeys.be(thread);
                            tx.tree("ledger").insert(count, balance(amount(tx.tree("ledger").get(count)) + 1));
                            return null;
                        });
                        committed[thread]++;
                    } catch (IllegalStateException e) {
                        assertThat(e).hasMessageStartingWith("too little");
                        aborts.incrementAndGet();
                    }
                }
                return null;
            });
        }
        Callable<Void> auditor = () -> {
            while (!done.get()) {
                long sum = db.transaction(tx -> {
                    long s = 0;
                    for (String tree : trees) {
                        for (int a = 0; a < accounts; a++) {
                            s += amount(tx.tree(tree).get(account(a)));
                        }
                    }
                    return s;
                });
                assertThat(sum).as("the sum an audit saw").isEqualTo(total);
                audits.incrementAndGet();
            }
            return null;
        };
        Callable<Void> filler = () -> {
            SplittableRandom r = new SplittableRandom(SEED + 99);
            while (!done.get()) {
                Tree tree = db.tree(trees[r.nextInt(2)]);
                byte[] key = ByteBuffer.allocate(5).put((byte) 9).putInt(r.nextInt(3000)).array();
                if (r.nextInt(3) == 0) {
                    tree.remove(key);
                } else {
                    tree.insert(key, new byte[r.nextInt(40)]);
                }
            }
            return null;
        };
        List<Future<Void>> running = new ArrayList<>();
        running.add(pool.submit(auditor));
        running.add(pool.submit(filler));
        for (Future<Void> f : pool.invokeAll(tasks)) {
            f.get();
        }
        done.set(true);
        for (Future<Void> f : running) {
            f.get();
        }
        long sum = 0;
        for (String tree : trees) {
            for (int a = 0; a < accounts; a++) {
                sum += amount(db.tree(tree).get(account(a)));
            }
        }
        assertThat(sum).isEqualTo(total);
        for (int t = 0; t < movers; t++) {
            assertThat(amount(db.tree("ledger").get(TestKeys.be(t)))).as("thread %d's transfers", t).isEqualTo(committed[t]);
        }
        assertThat(audits.get()).isPositive();
        System.out.println("transfers committed " + Arrays.stream(committed).sum() + ", aborted " + aborts.get()
                + ", audits " + audits.get());
        Jitter.activate(false);
        TreeVerifier.verify(db);
    }

    /**
     * Transactions that take the first entry of a queue tree ({@link TransactionalTree#first}), remove it and
     * record it as taken by their thread, from several threads while a producer appends: every item is taken
     * exactly once (a range read that did not see a concurrent take would take the item again), and what is
     * left in the queue plus what was taken is what was produced.
     */
    @Test
    void transactionsTakeEachQueuedItemOnce() throws Exception {
        int items = 400 * SCALE;
        int takers = 3;
        AtomicBoolean produced = new AtomicBoolean();
        long[] taken = new long[takers];
        List<Callable<Void>> tasks = new ArrayList<>();
        tasks.add(() -> {
            for (int i = 0; i < items; i++) {
                db.tree("queue").insert(TestKeys.be(i), ByteBuffer.allocate(i % 3 == 0 ? 40 : 8).putLong(i).array());
            }
            produced.set(true);
            return null;
        });
        for (int t = 0; t < takers; t++) {
            int thread = t;
            tasks.add(() -> {
                while (true) {
                    boolean done = produced.get();
                    byte[] item = db.transaction(tx -> {
                        Map.Entry<byte[], byte[]> head = tx.tree("queue").first();
                        if (head == null) {
                            return null;
                        }
                        tx.tree("queue").remove(head.getKey());
                        tx.tree("taken").applyBatch(new Batch().insert(head.getKey(), TestKeys.be(thread)));
                        return head.getKey();
                    });
                    if (item != null) {
                        taken[thread]++;
                    } else if (done) {
                        return null;
                    }
                }
            });
        }
        for (Future<Void> f : pool.invokeAll(tasks)) {
            f.get();
        }
        assertThat(Arrays.stream(taken).sum()).as("items taken, counted by the takers").isEqualTo(items);
        assertThat(db.tree("taken").size()).isEqualTo(items);
        assertThat(db.tree("queue").isEmpty()).isTrue();
        System.out.println("queue: taken " + Arrays.toString(taken) + "; " + db.metrics().transactions());
        Jitter.activate(false);
        TreeVerifier.verify(db);
    }

    /**
     * Threads each book a room if no booking of it exists yet: a transaction reads the room's range of keys and,
     * if it is empty, inserts a booking of its own. Serializable means one booking per room, however the
     * threads race (a booking inserted into the range after another transaction read it empty is a conflict).
     */
    @Test
    void onlyOneOfRacingTransactionsBooksAnEmptyRange() throws Exception {
        int rooms = 60 * SCALE;
        int threads = 4;
        java.util.concurrent.CyclicBarrier together = new java.util.concurrent.CyclicBarrier(threads);
        List<Callable<Void>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            tasks.add(() -> {
                for (int r = 0; r < rooms; r++) {
                    byte[] from = TestKeys.utf8("room/" + r + "/");
                    byte[] to = BLinkTree.prefixEnd(from);
                    byte[] booking = TestKeys.utf8("room/" + r + "/by-" + thread);
                    together.await(10, TimeUnit.SECONDS); // every thread tries the same room at once
                    db.transaction(tx -> {
                        if (tx.range(from, to, 1).isEmpty()) {
                            tx.insert(booking, new byte[] {(byte) thread});
                        }
                        return null;
                    });
                }
                return null;
            });
        }
        for (Future<Void> f : pool.invokeAll(tasks)) {
            f.get();
        }
        for (int room = 0; room < rooms; room++) {
            assertThat(TestKeys.drain(db.scanPrefix(TestKeys.utf8("room/" + room + "/")))).as("room %d's bookings", room)
                    .hasSize(1);
        }
        Jitter.activate(false);
        TreeVerifier.verify(db);
    }

    private static byte[] account(int a) {
        return TestKeys.utf8("account-" + a);
    }

    /** A balance; odd ones padded past the inline limit, so they live in value pages. */
    private static byte[] balance(long amount) {
        return ByteBuffer.allocate(amount % 2 == 1 ? 40 : 8).putLong(amount).array();
    }

    private static long amount(byte[] balance) {
        return balance == null ? 0 : ByteBuffer.wrap(balance).getLong();
    }

    /**
     * {@link Tree#fetchAndUpdate} and {@link Tree#updateAndFetch} from several threads: every increment lands
     * once, and the values each call returns (before and after its increment) are each counter's 0..n-1 and
     * 1..n, each once. The updates change their argument in place, which must not confuse the swap.
     */
    @Test
    void updatesOfSeveralThreadsEachSeeADistinctValue() throws Exception {
        int threads = 4;
        int increments = 600 * SCALE;
        byte[][] counters = {TestKeys.utf8("u1"), TestKeys.utf8("u2")};
        java.util.function.UnaryOperator<byte[]> increment = current -> {
            if (current == null) {
                return ByteBuffer.allocate(8).putLong(1).array();
            }
            long n = ByteBuffer.wrap(current).getLong();
            ByteBuffer.wrap(current).putLong(n + 1); // in place, on purpose
            return n % 10 == 9 ? Arrays.copyOf(current, 64) : current; // now and then a value page
        };
        List<Callable<List<long[]>>> tasks = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            SplittableRandom r = new SplittableRandom(SEED + 100 + t);
            tasks.add(() -> {
                List<long[]> seen = new ArrayList<>(); // counter, value before, value after
                for (int i = 0; i < increments; i++) {
                    int c = r.nextInt(counters.length);
                    if (r.nextBoolean()) {
                        byte[] before = db.fetchAndUpdate(counters[c], increment);
                        long n = before == null ? 0 : ByteBuffer.wrap(before).getLong();
                        seen.add(new long[] {c, n, n + 1});
                    } else {
                        long n = ByteBuffer.wrap(db.updateAndFetch(counters[c], increment)).getLong();
                        seen.add(new long[] {c, n - 1, n});
                    }
                    db.insert(ByteBuffer.allocate(6).putShort((short) 8).putInt(r.nextInt()).array(), new byte[10]);
                }
                return seen;
            });
        }
        List<java.util.Set<Long>> befores = List.of(new java.util.HashSet<>(), new java.util.HashSet<>());
        for (Future<List<long[]>> f : pool.invokeAll(tasks)) {
            for (long[] s : f.get()) {
                assertThat(befores.get((int) s[0]).add(s[1])).as("value %d of counter %d seen twice", s[1], s[0]).isTrue();
            }
        }
        for (int c = 0; c < counters.length; c++) {
            long n = befores.get(c).size();
            assertThat(ByteBuffer.wrap(db.get(counters[c])).getLong()).isEqualTo(n);
            assertThat(befores.get(c)).allMatch(v -> v >= 0 && v < n);
        }
        assertThat(befores.get(0).size() + befores.get(1).size()).isEqualTo(threads * increments);
        Jitter.activate(false);
        TreeVerifier.verify(db);
    }

    /** {@link Tree#popMin} and {@link Tree#popMax} from several threads while a producer inserts: each entry is taken once. */
    @Test
    void poppersTakeEveryEntryOnce() throws Exception {
        int entries = 1500 * SCALE;
        Tree queue = db.tree("queue");
        AtomicBoolean produced = new AtomicBoolean();
        List<Callable<List<Integer>>> tasks = new ArrayList<>();
        tasks.add(() -> {
            for (int i = 0; i < entries; i++) {
                queue.insert(ByteBuffer.allocate(4).putInt(i).array(), ByteBuffer.allocate(8).putInt(i).array());
            }
            produced.set(true);
            return List.of();
        });
        for (int t = 0; t < 3; t++) {
            boolean min = t != 2;
            tasks.add(() -> {
                List<Integer> taken = new ArrayList<>();
                while (true) {
                    boolean done = produced.get();
                    Map.Entry<byte[], byte[]> e = min ? queue.popMin() : queue.popMax();
                    if (e == null) {
                        if (done) {
                            return taken;
                        }
                        Thread.onSpinWait();
                        continue;
                    }
                    int k = ByteBuffer.wrap(e.getKey()).getInt();
                    assertThat(ByteBuffer.wrap(e.getValue()).getInt()).isEqualTo(k);
                    taken.add(k);
                }
            });
        }
        java.util.Set<Integer> all = new java.util.HashSet<>();
        for (Future<List<Integer>> f : pool.invokeAll(tasks)) {
            for (int k : f.get()) {
                assertThat(all.add(k)).as("entry %d taken twice", k).isTrue();
            }
        }
        assertThat(all).hasSize(entries);
        assertThat(queue.isEmpty()).isTrue();
        Jitter.activate(false);
        TreeVerifier.verify(db);
    }

    @Test
    void noReaderSeesPartOfABatch() throws Exception {
        Tree tree = db.tree("batches");
        readersSeeBatchesWhole(tree, tree, (first, last) -> tree.applyBatch(first));
    }

    /** {@link Db#applyBatches}: a batch's first keys in one tree, its last ones in another. */
    @Test
    void noReaderSeesPartOfABatchOverTwoTrees() throws Exception {
        Tree firsts = db.tree("firsts");
        Tree lasts = db.tree("lasts");
        readersSeeBatchesWhole(firsts, lasts, (first, last) -> db.applyBatches(Map.of("firsts", first, "lasts", last)));
    }

    /**
     * A reader meets a batch at a set moment: the batch sets a key, then inserts forty smaller keys, downwards,
     * so the first split of that key's leaf carries the key into a new right half that no later change of the
     * batch touches, then sets a last key. At every tenth change of the batch after its first ten (a page cache
     * failpoint's callback on the batch's thread), another thread reads the first key: it must not return while
     * the batch is applied (it would see the first change without the last): the callback waits until the read
     * is counted as waiting for a batch (up to 30 s: a thread starved of CPU starts late) and finds it not done
     * then; each returns the new value once the batch is done.
     */
    @Test
    void aReaderThatMeetsABatchWaitsForItEvenOnAPageOneOfItsSplitsMade() throws Exception {
        byte[] first = TestKeys.be(1000);
        byte[] last = TestKeys.be(2000);
        db.insert(first, TestKeys.utf8("old"));
        db.insert(last, TestKeys.utf8("old"));
        Batch batch = new Batch().insert(first, TestKeys.utf8("new"));
        for (int i = 40; i >= 1; i--) {
            batch.insert(TestKeys.be(i), new byte[8]);
        }
        batch.insert(last, TestKeys.utf8("new"));
        Thread batcher = Thread.currentThread();
        AtomicLong links = new AtomicLong();
        List<Future<byte[]>> reads = new ArrayList<>();
        List<String> returnedEarly = new ArrayList<>();
        Failpoints.callback("pagecache.reserve.link", () -> {
            if (Thread.currentThread() != batcher || links.incrementAndGet() < 10 || links.get() % 10 != 0) {
                return;
            }
            long waitedBefore = db.metrics().concurrency().readsThatWaitedForABatch();
            Future<byte[]> read = pool.submit(() -> db.get(first));
            reads.add(read);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!read.isDone() && db.metrics().concurrency().readsThatWaitedForABatch() == waitedBefore
                    && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            if (read.isDone()) {
                try {
                    returnedEarly.add("link " + links.get() + ": " + new String(read.get(),
                            java.nio.charset.StandardCharsets.UTF_8));
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
        });
        try {
            db.applyBatch(batch);
        } finally {
            Failpoints.reset();
        }
        assertThat(reads).as("reads made while the batch was applied").hasSizeGreaterThanOrEqualTo(2);
        assertThat(returnedEarly).as("reads that returned before the batch was done").isEmpty();
        assertThat(db.metrics().concurrency().readsThatWaitedForABatch()).as("reads counted as waiting for a batch")
                .isGreaterThanOrEqualTo(reads.size());
        for (Future<byte[]> read : reads) {
            assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(TestKeys.utf8("new"));
        }
        Jitter.activate(false);
        TreeVerifier.verify(db);
    }

    /**
     * Batches set 16 keys close together to the batch's number, in key order, while a writer inserts and
     * removes other keys among them, so that a batch's later changes often split the leaf an earlier one
     * landed in and move that change to a new page: readers read two of the keys, the one the batch changes
     * first before the other, and must never see the first newer than the second. (A reader waits for a batch
     * only on pages the batch registered: the new halves of its splits must be among them.)
     */
    @Test
    void noReaderSeesPartOfABatchWhoseChangesSplitLeaves() throws Exception {
        int slots = 16;
        int batches = 1500 * SCALE;
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong checks = new AtomicLong();
        Callable<Void> batcher = () -> {
            for (int g = 1; g <= batches; g++) {
                Batch batch = new Batch();
                for (int i = 0; i < slots; i++) {
                    batch.insert(TestKeys.be(i * 8), ByteBuffer.allocate(4 + g % 9).putInt(g).array());
                }
                db.applyBatch(batch);
            }
            done.set(true);
            return null;
        };
        Callable<Void> reader = () -> {
            SplittableRandom r = new SplittableRandom(SEED + 7);
            while (!done.get()) {
                int i = r.nextInt(slots - 1);
                int j = i + 1 + r.nextInt(slots - 1 - i);
                byte[] first = db.get(TestKeys.be(i * 8));
                byte[] second = db.get(TestKeys.be(j * 8));
                int a = first == null ? 0 : ByteBuffer.wrap(first).getInt();
                int b = second == null ? 0 : ByteBuffer.wrap(second).getInt();
                assertThat(b).as("slot %d read after slot %d, which the batch changes before it", j, i)
                        .isGreaterThanOrEqualTo(a);
                checks.incrementAndGet();
            }
            return null;
        };
        Callable<Void> churn = () -> {
            SplittableRandom r = new SplittableRandom(SEED + 8);
            while (!done.get()) {
                byte[] key = TestKeys.be(r.nextInt(slots * 8));
                if (key[3] % 8 == 0) {
                    continue; // a slot: the batches' own
                }
                if (r.nextInt(3) == 0) {
                    db.remove(key);
                } else {
                    db.insert(key, new byte[r.nextInt(24)]);
                }
            }
            return null;
        };
        for (Future<Void> f : pool.invokeAll(List.of(batcher, reader, reader, churn))) {
            f.get();
        }
        assertThat(checks.get()).isPositive();
        Jitter.activate(false);
        TreeVerifier.verify(db);
    }

    /**
     * Batches set a group of keys to the batch's number, the first half in {@code firstTree}, the rest in
     * {@code lastTree} ({@code apply} gets the two halves; one batch if the trees are one); readers read the
     * group's first key, then its last: never older than the first.
     */
    private void readersSeeBatchesWhole(Tree firstTree, Tree lastTree,
            java.util.function.BiConsumer<Batch, Batch> apply) throws Exception {
        int group = 8;
        int batches = 600 * SCALE;
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong checks = new AtomicLong();
        Callable<Void> batcher = () -> {
            for (int g = 1; g <= batches; g++) {
                Batch first = new Batch();
                Batch last = firstTree == lastTree ? first : new Batch();
                for (int i = 0; i < group; i++) {
                    // The first key of the group goes first in the batch, the last goes last.
                    (i < group / 2 ? first : last).insert(TestKeys.be(i * 1000),
                            ByteBuffer.allocate(g % 4 == 0 ? 48 : 4).putInt(g).array());
                }
                apply.accept(first, last);
            }
            done.set(true);
            return null;
        };
        Callable<Void> reader = () -> {
            while (!done.get()) {
                byte[] first = firstTree.get(TestKeys.be(0));
                byte[] last = lastTree.get(TestKeys.be((group - 1) * 1000));
                int a = first == null ? 0 : ByteBuffer.wrap(first).getInt();
                int b = last == null ? 0 : ByteBuffer.wrap(last).getInt();
                assertThat(b).as("the last key of a batch read after its first").isGreaterThanOrEqualTo(a);
                checks.incrementAndGet();
            }
            return null;
        };
        Callable<Void> writer = () -> {
            SplittableRandom r = new SplittableRandom(SEED);
            while (!done.get()) {
                Tree tree = r.nextBoolean() ? firstTree : lastTree;
                tree.insert(TestKeys.be(2 * r.nextInt(4000) + 1), new byte[r.nextInt(30)]);
            }
            return null;
        };
        for (Future<Void> f : pool.invokeAll(List.of(batcher, reader, reader, writer))) {
            f.get();
        }
        assertThat(checks.get()).isPositive();
        Jitter.activate(false);
        TreeVerifier.verify(db);
    }

    /**
     * Readers of a tree that is dropped and created again while another tree reuses its freed page ids:
     * every read either fails because the tree was dropped, or returns that tree's own data, never a
     * reused page's.
     */
    /**
     * Clears race with writers, scanners and point readers of the tree, and with a writer of another tree: each
     * writer inserts its own keys in order, so a clear, being atomic, leaves of each writer's keys exactly a suffix
     * (no key present after a later one was cleared), every key is counted by exactly one clear or is still there,
     * and no reader sees a key out of order, twice, or with another key's value.
     */
    @Test
    void clearsRemoveAtomicallyWhileWritersAndReadersRun() throws Exception {
        int writers = 2;
        int keysPerWriter = 3000 * SCALE;
        Tree tree = db.tree("cleared");
        Tree other = db.tree("other");
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong cleared = new AtomicLong();
        AtomicLong clears = new AtomicLong();
        AtomicLong reads = new AtomicLong();
        List<Callable<Void>> work = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            int id = w;
            work.add(() -> {
                for (int j = 0; j < keysPerWriter; j++) {
                    byte[] k = key(id, j);
                    assertThat(tree.insert(k, value(k, j))).as("a first insert of %s", TestKeys.hex(k)).isNull();
                }
                return null;
            });
        }
        work.add(() -> {
            for (int j = 0; j < keysPerWriter; j++) {
                byte[] k = key(9, j % 500);
                other.insert(k, value(k, j));
            }
            return null;
        });
        Callable<Void> clearer = () -> {
            SplittableRandom r = new SplittableRandom(SEED);
            while (!done.get()) {
                Thread.sleep(r.nextInt(3));
                cleared.addAndGet(tree.clear());
                clears.incrementAndGet();
            }
            return null;
        };
        Callable<Void> reader = () -> {
            SplittableRandom r = new SplittableRandom(SEED + 7);
            while (!done.get()) {
                Tree read = r.nextInt(4) == 0 ? other : tree;
                if (r.nextBoolean()) {
                    byte[] k = key(read == other ? 9 : r.nextInt(writers), r.nextInt(read == other ? 500 : keysPerWriter));
                    byte[] v = read.get(k);
                    assertThat(v == null || valueNames(v, k)).as("the value of %s", TestKeys.hex(k)).isTrue();
                } else {
                    boolean reverse = r.nextBoolean();
                    Iterator<Map.Entry<byte[], byte[]>> it = reverse ? read.rangeReverse(null, null) : read.iterator();
                    byte[] previous = null;
                    while (it.hasNext()) {
                        Map.Entry<byte[], byte[]> e = it.next();
                        assertThat(valueNames(e.getValue(), e.getKey())).as("the value of %s", TestKeys.hex(e.getKey()))
                                .isTrue();
                        if (previous != null) {
                            int order = Arrays.compareUnsigned(previous, e.getKey());
                            assertThat(reverse ? order > 0 : order < 0).as("order (or a repeat) at %s",
                                    TestKeys.hex(e.getKey())).isTrue();
                        }
                        previous = e.getKey();
                    }
                }
                reads.incrementAndGet();
            }
            return null;
        };
        List<Future<Void>> background = List.of(pool.submit(clearer), pool.submit(reader), pool.submit(reader));
        for (Future<Void> f : pool.invokeAll(work)) {
            f.get();
        }
        done.set(true);
        for (Future<Void> f : background) {
            f.get(60, TimeUnit.SECONDS);
        }
        Jitter.activate(false);
        assertThat(clears.get()).isPositive();
        assertThat(reads.get()).isPositive();
        assertThat(cleared.get() + tree.size()).as("keys cleared and left").isEqualTo((long) writers * keysPerWriter);
        for (int w = 0; w < writers; w++) {
            int first = keysPerWriter;
            while (first > 0 && tree.get(key(w, first - 1)) != null) {
                first--;
            }
            for (int j = 0; j < first; j++) {
                assertThat(tree.get(key(w, j))).as("key %d of writer %d, before its last cleared one %d", j, w, first - 1)
                        .isNull();
            }
        }
        assertThat(other.size()).isEqualTo(500);
        TreeVerifier.verify(db);
    }

    /**
     * A tree rebuilt again and again under a scratch name (generation g: every key, each value naming its key and
     * g) and renamed onto the live one, while readers read the live tree through the one object they hold: a get
     * never misses a key (the live tree is never empty nor partial) and never goes back to an older generation
     * than the reader saw before; a scan misses no key, and its generations never go back along the scan.
     */
    @Test
    void readersOfATreeReplacedByRenamesSeeOneWholeGenerationAfterAnother() throws Exception {
        int keys = 400;
        int generations = 30 * SCALE;
        java.util.function.IntFunction<Iterator<Map.Entry<byte[], byte[]>>> generation = g -> {
            NavigableMap<byte[], byte[]> entries = TestKeys.model();
            for (int i = 0; i < keys; i++) {
                byte[] k = key(0, i);
                entries.put(k, value(k, g));
            }
            return entries.entrySet().iterator();
        };
        db.buildTree("live", generation.apply(0));
        Tree live = db.tree("live");
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong reads = new AtomicLong();
        Callable<Void> swapper = () -> {
            for (int g = 1; g <= generations; g++) {
                db.buildTree("scratch", generation.apply(g));
                assertThat(db.renameTree("scratch", "live")).isTrue();
            }
            done.set(true);
            return null;
        };
        Callable<Void> reader = () -> {
            SplittableRandom r = new SplittableRandom(SEED + 11);
            int seen = 0;
            while (!done.get()) {
                if (r.nextBoolean()) {
                    byte[] k = key(0, r.nextInt(keys));
                    byte[] v = live.get(k);
                    assertThat(v).as("key %s of the live tree", TestKeys.hex(k)).isNotNull();
                    assertThat(valueNames(v, k)).isTrue();
                    int g = ByteBuffer.wrap(v, k.length, 4).getInt();
                    assertThat(g).as("a generation after %d", seen).isGreaterThanOrEqualTo(seen);
                    seen = g;
                } else {
                    Iterator<Map.Entry<byte[], byte[]>> it = live.iterator();
                    int count = 0;
                    int last = 0;
                    while (it.hasNext()) {
                        Map.Entry<byte[], byte[]> e = it.next();
                        assertThat(e.getKey()).isEqualTo(key(0, count));
                        int g = ByteBuffer.wrap(e.getValue(), e.getKey().length, 4).getInt();
                        assertThat(g).as("generations along a scan").isGreaterThanOrEqualTo(last);
                        last = g;
                        count++;
                    }
                    assertThat(count).as("keys of a scan").isEqualTo(keys);
                }
                reads.incrementAndGet();
            }
            return null;
        };
        for (Future<Void> f : pool.invokeAll(List.of(swapper, reader, reader))) {
            f.get();
        }
        assertThat(reads.get()).isPositive();
        Jitter.activate(false);
        assertThat(db.treeNames()).containsExactly(Db.DEFAULT_TREE, "live");
        assertThat(ByteBuffer.wrap(live.get(key(0, 5)), 5, 4).getInt()).isEqualTo(generations);
        TreeVerifier.verify(db);
    }

    /**
     * Each tree has its own structure sequence: while a structure change of one tree runs (a clear, a drop, a merge
     * hold it), a reader of another tree reads on, and a reader of that tree waits for the change's end.
     */
    @Test
    void aStructureChangeOfOneTreeHoldsUpOnlyThatTreesReaders() throws Exception {
        Jitter.activate(false);
        BLinkTree a = (BLinkTree) db.tree("a");
        Tree b = db.tree("b");
        byte[] k = TestKeys.utf8("k");
        a.insert(k, TestKeys.utf8("in a"));
        b.insert(k, TestKeys.utf8("in b"));
        Future<byte[]> readOfA;
        long stamp = db.concurrency().enterExclusive();
        a.beginStructureChange();
        try {
            assertThat(pool.submit(() -> b.get(k)).get(10, TimeUnit.SECONDS)).as("a read of the other tree")
                    .isEqualTo(TestKeys.utf8("in b"));
            readOfA = pool.submit(() -> a.get(k));
            Thread.sleep(200);
            assertThat(readOfA.isDone()).as("a read of the tree whose structure changes").isFalse();
        } finally {
            a.endStructureChange();
            db.concurrency().exitExclusive(stamp);
        }
        assertThat(readOfA.get(10, TimeUnit.SECONDS)).isEqualTo(TestKeys.utf8("in a"));
    }

    /**
     * A clear, a drop and a rename onto a tree hold the exclusive side for their structure change only: while the
     * torn-down tree's pages are freed, in the batch that change opened, a writer of another tree completes, a reader
     * of the tree sees it as the change left it, and an exclusive operation (a batch) and a flush wait for the seal.
     * Each case fails if the frees run before the exclusive side is let go (the writer times out).
     */
    @Test
    void aTeardownFreesItsPagesWhileWritersGoOn() throws Exception {
        Jitter.activate(false);
        Tree other = db.tree("other");
        Map<String, Runnable> teardowns = new java.util.LinkedHashMap<>();
        teardowns.put("clear", () -> assertThat(db.tree("torn").clear()).isEqualTo(2_000));
        teardowns.put("drop", () -> assertThat(db.dropTree("torn")).isTrue());
        teardowns.put("rename onto", () -> assertThat(db.renameTree("fresh", "torn")).isTrue());
        byte[] probe = TestKeys.be(7);
        int round = 0;
        for (Map.Entry<String, Runnable> teardown : teardowns.entrySet()) {
            round++;
            Tree torn = db.tree("torn");
            for (int i = 0; i < 2_000; i++) {
                torn.insert(TestKeys.be(i), value(TestKeys.utf8("torn"), i));
            }
            db.tree("fresh").insert(probe, TestKeys.utf8("fresh"));
            Thread tearer = Thread.currentThread();
            // its first free comes after the structure change: the frees start there
            AtomicBoolean firstFree = new AtomicBoolean(true);
            List<Future<?>> batches = new ArrayList<>();
            List<String> seen = new ArrayList<>();
            byte[] written = TestKeys.be(round);
            byte[] batched = TestKeys.be(100 + round);
            Failpoints.callback("pagecache.reserve.free", () -> {
                if (Thread.currentThread() != tearer || !firstFree.compareAndSet(true, false)) {
                    return;
                }
                try {
                    pool.submit(() -> other.insert(written, TestKeys.utf8("beside"))).get(10, TimeUnit.SECONDS);
                    seen.add(String.valueOf(pool.submit(() -> {
                        try {
                            byte[] v = db.tree("torn").get(probe);
                            return v == null ? "absent" : new String(v, java.nio.charset.StandardCharsets.UTF_8);
                        } catch (IllegalStateException dropped) {
                            return "ended";
                        }
                    }).get(10, TimeUnit.SECONDS)));
                    Future<?> batch = pool.submit(() -> other.applyBatch(new Batch().insert(batched, TestKeys.utf8("b"))));
                    Future<?> flush = pool.submit(other::flush);
                    batches.add(batch);
                    batches.add(flush);
                    Thread.sleep(200);
                    assertThat(batch.isDone()).as("%s: a batch while the frees have yet to run", teardown.getKey())
                            .isFalse();
                    // the write beside is in memory only: were it made durable now, a crash before the seal would
                    // lose it with the unsealed batch, which recovery drops with everything after it
                    assertThat(flush.isDone()).as("%s: a flush while the frees have yet to run", teardown.getKey())
                            .isFalse();
                } catch (Exception e) {
                    throw new AssertionError(teardown.getKey() + ": the writer beside the frees did not complete", e);
                }
            });
            try {
                teardown.getValue().run();
            } finally {
                Failpoints.reset();
            }
            assertThat(batches).as("%s: the frees ran", teardown.getKey()).hasSize(2);
            for (Future<?> waited : batches) {
                waited.get(10, TimeUnit.SECONDS);
            }
            assertThat(seen).as("%s: what a reader of the tree saw", teardown.getKey())
                    .containsExactly(teardown.getKey().equals("rename onto") ? "fresh" : "absent");
            assertThat(other.get(written)).isEqualTo(TestKeys.utf8("beside"));
            assertThat(other.get(batched)).isEqualTo(TestKeys.utf8("b"));
            TreeVerifier.verify(db);
            if (db.treeNames().contains("torn")) {
                db.dropTree("torn");
            }
            db.dropTree("fresh");
        }
    }

    @Test
    void readersOfADroppedTreeNeverSeeAnotherTreesPages() throws Exception {
        int drops = 40 * SCALE;
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong reads = new AtomicLong();
        Callable<Void> dropper = () -> {
            SplittableRandom r = new SplittableRandom(SEED);
            for (int round = 0; round < drops; round++) {
                Tree a = db.tree("a");
                for (int i = 0; i < 60; i++) {
                    a.insert(TestKeys.be(i), value(TestKeys.utf8("a"), r.nextInt(1000)));
                }
                db.dropTree("a");
                Tree b = db.tree("b");
                for (int i = 0; i < 60; i++) {
                    b.insert(TestKeys.be(i), value(TestKeys.utf8("b"), r.nextInt(1000)));
                }
            }
            done.set(true);
            return null;
        };
        Callable<Void> reader = () -> {
            SplittableRandom r = new SplittableRandom(SEED + 1);
            while (!done.get()) {
                try {
                    Tree a = db.tree("a");
                    if (r.nextBoolean()) {
                        byte[] v = a.get(TestKeys.be(r.nextInt(60)));
                        assertThat(v == null || valueNames(v, TestKeys.utf8("a"))).as("a value of tree a").isTrue();
                    } else {
                        Iterator<Map.Entry<byte[], byte[]>> it = r.nextBoolean() ? a.iterator() : a.rangeReverse(null, null);
                        while (it.hasNext()) {
                            assertThat(valueNames(it.next().getValue(), TestKeys.utf8("a"))).as("a value of tree a").isTrue();
                        }
                    }
                    reads.incrementAndGet();
                } catch (IllegalStateException e) {
                    assertThat(e).hasMessageContaining("dropped");
                }
            }
            return null;
        };
        for (Future<Void> f : pool.invokeAll(List.of(dropper, reader, reader))) {
            f.get();
        }
        assertThat(reads.get()).isPositive();
        Jitter.activate(false);
        TreeVerifier.verify(db);
    }
}
