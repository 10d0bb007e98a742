package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.log.FlushThread;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Many threads, random delays before every page table CAS ({@link Jitter}), and a background flusher:
 * no change is lost, repeated or reordered, relocations never fail a caller, and ids and page ids are
 * never handed out twice.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PageCacheStressTest {
    private static final int SCALE = Integer.getInteger("toboggan.test.scale", 1);
    private static final long SEED = Long.getLong("toboggan.test.seed", System.nanoTime());

    private final SimulatedStorage disk = new SimulatedStorage();
    private final FlushThread flusher = new FlushThread("stress-flusher", Duration.ofMillis(2));
    private PageCache<List<Integer>, Integer> pc;

    @BeforeEach
    void open() {
        System.out.println(getClass().getSimpleName() + " seed " + SEED);
        Jitter.activate(true);
        pc = PageCache.open(config(), disk, flusher, IntListMaterializer.INSTANCE);
        flusher.start(pc.log());
    }

    private static PageCacheConfig config() {
        return Stores.small().withConsolidationThreshold(4).withIdgenPersistInterval(3);
    }

    @AfterEach
    void close() {
        Jitter.activate(false);
        flusher.close();
        pc.close();
    }

    /** Runs {@code body(thread index, random)} on {@code threads} threads at once; rethrows the first failure. */
    private static void race(int threads, Worker body) throws InterruptedException {
        CountDownLatch start = new CountDownLatch(1);
        List<Throwable> failures = new ArrayList<>();
        List<Thread> running = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int index = t;
            Thread thread = new Thread(() -> {
                try {
                    start.await();
                    body.run(index, new SplittableRandom(SEED * 31 + index));
                } catch (Throwable e) {
                    synchronized (failures) {
                        failures.add(e);
                    }
                }
            }, "stress-" + t);
            thread.start();
            running.add(thread);
        }
        start.countDown();
        for (Thread thread : running) {
            thread.join();
        }
        if (!failures.isEmpty()) {
            AssertionError error = new AssertionError("a worker failed (seed " + SEED + ")", failures.get(0));
            failures.stream().skip(1).forEach(error::addSuppressed);
            throw error;
        }
    }

    interface Worker {
        void run(int thread, SplittableRandom random) throws Exception;
    }

    private static int token(int thread, int seq) {
        return thread * 1_000_000 + seq;
    }

    /** Each writer's tokens appear at most once, in the order it linked them. */
    private static void assertWritersInOrder(List<Integer> page, int writers) {
        int[] lastSeq = new int[writers];
        java.util.Arrays.fill(lastSeq, -1);
        for (int token : page) {
            int writer = token / 1_000_000;
            int seq = token % 1_000_000;
            assertThat(seq).as("writer %d's links are in order and not repeated in %s", writer, page)
                    .isGreaterThan(lastSeq[writer]);
            lastSeq[writer] = seq;
        }
    }

    /**
     * Larger scales run more rounds on fresh pages, not longer rounds: a page's value grows with its links
     * and every consolidation logs it whole, so the log (which the simulated disk holds in memory, and no
     * cleaner trims here) would grow with the square of a round's length.
     */
    @Test
    void concurrentLinksAreNeitherLostNorRepeated() throws Exception {
        Map<Long, List<Integer>> before = new HashMap<>();
        for (int round = 0; round < SCALE; round++) {
            before.putAll(racingLinksOnSharedPages());
        }
        flusher.close();
        pc.close();
        pc = Stores.open(disk, config());
        for (Map.Entry<Long, List<Integer>> page : before.entrySet()) {
            assertThat(pc.get(page.getKey()).value()).isEqualTo(page.getValue());
        }
    }

    /** Four writers link onto three pages while pages move and readers check them; returns each page's value. */
    private Map<Long, List<Integer>> racingLinksOnSharedPages() throws Exception {
        int pages = 3;
        int writers = 4;
        int linksPerWriter = 400;
        long[] pids = new long[pages];
        for (int i = 0; i < pages; i++) {
            pids[i] = pc.allocate(List.of()).pid();
        }
        Map<Long, Set<Integer>> linked = new ConcurrentHashMap<>();
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicInteger done = new AtomicInteger();
        race(writers + 2, (thread, random) -> {
            if (thread < writers) {
                for (int seq = 0; seq < linksPerWriter; seq++) {
                    long pid = pids[random.nextInt(pages)];
                    int token = token(thread, seq);
                    while (true) {
                        Page<List<Integer>> view = pc.get(pid);
                        if (pc.link(pid, view, token).succeeded()) {
                            break;
                        }
                    }
                    linked.computeIfAbsent(pid, p -> ConcurrentHashMap.newKeySet()).add(token);
                }
                if (done.incrementAndGet() == writers) {
                    writing.set(false);
                }
            } else if (thread == writers) {
                while (writing.get()) {
                    long pid = pids[random.nextInt(pages)];
                    if (random.nextBoolean()) {
                        pc.pageOut(pid);
                    } else {
                        pc.rewrite(pid);
                    }
                }
            } else {
                while (writing.get()) {
                    assertWritersInOrder(pc.get(pids[random.nextInt(pages)]).value(), writers);
                }
            }
        });
        for (long pid : pids) {
            List<Integer> value = pc.get(pid).value();
            assertWritersInOrder(value, writers);
            assertThat(new HashSet<>(value)).isEqualTo(linked.getOrDefault(pid, Set.of()));
        }
        assertThat(linked.values().stream().mapToInt(Set::size).sum()).isEqualTo(writers * linksPerWriter);
        Map<Long, List<Integer>> values = new HashMap<>();
        for (long pid : pids) {
            values.put(pid, pc.get(pid).value());
        }
        return values;
    }

    /** Rounds on fresh pages at larger scales, as above. */
    @Test
    void relocationsAndPageOutsNeverFailALinker() throws Exception {
        for (int round = 0; round < SCALE; round++) {
            linksRacingMoves();
        }
        PageCacheMetrics.Snapshot metrics = pc.metrics();
        assertThat(metrics.conflicts()).as("no link was handed back").isZero();
        assertThat(metrics.get(PageCacheMetrics.Op.REWRITE).count()).isPositive();
    }

    /** Three writers, one page each, link while other threads move and page out their pages. */
    private void linksRacingMoves() throws Exception {
        int writers = 3;
        int linksPerWriter = 400;
        long[] pids = new long[writers];
        for (int i = 0; i < writers; i++) {
            pids[i] = pc.allocate(List.of()).pid();
        }
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicInteger done = new AtomicInteger();
        race(writers + 2, (thread, random) -> {
            if (thread < writers) {
                long pid = pids[thread];
                Page<List<Integer>> view = pc.get(pid);
                for (int seq = 0; seq < linksPerWriter; seq++) {
                    CasResult<List<Integer>> r = pc.link(pid, view, token(thread, seq));
                    assertThat(r.succeeded()).as("only moves race with this writer").isTrue();
                    view = r.page();
                    if (random.nextInt(10) == 0) {
                        view = pc.get(pid);
                    }
                }
                if (done.incrementAndGet() == writers) {
                    writing.set(false);
                }
            } else {
                while (writing.get()) {
                    long pid = pids[random.nextInt(writers)];
                    if (thread == writers) {
                        pc.rewrite(pid);
                    } else {
                        pc.pageOut(pid);
                        pc.get(pid);
                    }
                }
            }
        });
        for (int w = 0; w < writers; w++) {
            List<Integer> value = pc.get(pids[w]).value();
            assertThat(value).hasSize(linksPerWriter);
            assertWritersInOrder(value, writers);
        }
    }

    @SuppressWarnings("try") // the resource is used for its scope only
    @Test
    void pageIdsAreNeverHandedOutTwiceWhileInUse() throws Exception {
        Set<Long> live = ConcurrentHashMap.newKeySet();
        int threads = 4;
        int rounds = 300 * SCALE;
        race(threads, (thread, random) -> {
            List<Page<List<Integer>>> mine = new ArrayList<>();
            for (int i = 0; i < rounds; i++) {
                // The guard spans the free and the removal from "live": the id cannot come back before.
                try (Guard guard = pc.pin()) {
                    if (mine.isEmpty() || random.nextInt(3) > 0) {
                        Page<List<Integer>> page = pc.allocate(List.of(thread, i));
                        assertThat(live.add(page.pid())).as("page %d is handed out twice", page.pid()).isTrue();
                        mine.add(page);
                    } else {
                        Page<List<Integer>> page = mine.remove(random.nextInt(mine.size()));
                        assertThat(pc.get(page.pid()).value()).isEqualTo(page.value());
                        assertThat(pc.free(page.pid(), page).succeeded()).isTrue();
                        live.remove(page.pid());
                    }
                }
            }
        });
        long freeBelowNext = pc.nextPid() - PageCache.FIRST_USER_PID - live.size();
        assertThat(freeBelowNext).isGreaterThanOrEqualTo(0);
        for (long pid : live) {
            assertThat(pc.get(pid)).isNotNull();
        }
    }

    @SuppressWarnings("try") // the resource is used for its scope only
    @Test
    void idsAreUniqueAndRisingPerThreadWithConcurrentBatches() throws Exception {
        Set<Long> ids = ConcurrentHashMap.newKeySet();
        AtomicLong total = new AtomicLong();
        Page<List<Integer>> shared = pc.allocate(List.of());
        int threads = 4;
        int perThread = 500 * SCALE;
        race(threads, (thread, random) -> {
            long last = -1;
            for (int i = 0; i < perThread; i++) {
                long id;
                if (thread == 0 && random.nextInt(4) == 0) {
                    try (Batch batch = pc.openBatch()) {
                        id = pc.generateId();
                        Page<List<Integer>> view = pc.get(shared.pid());
                        pc.link(shared.pid(), view, (int) id);
                    }
                } else {
                    id = pc.generateId();
                }
                assertThat(id).isGreaterThan(last);
                last = id;
                assertThat(ids.add(id)).as("id %d handed out twice", id).isTrue();
                total.incrementAndGet();
            }
        });
        assertThat(ids).hasSize((int) total.get());
    }

    @Test
    void rootsChangeOnlyByCompareAndSet() throws Exception {
        long[] pids = new long[5];
        for (int i = 0; i < pids.length; i++) {
            pids[i] = pc.allocate(List.of(i)).pid();
        }
        assertThat(pc.casRoot("ring", PageCache.NO_ROOT, pids[0])).isTrue();
        AtomicInteger moves = new AtomicInteger();
        race(4, (thread, random) -> {
            for (int i = 0; i < 200 * SCALE; i++) {
                long current = pc.root("ring");
                int at = (int) (current - pids[0]);
                if (pc.casRoot("ring", current, pids[(at + 1) % pids.length])) {
                    moves.incrementAndGet();
                }
                if (random.nextInt(50) == 0) {
                    pc.rewrite(PageCache.META_PID);
                }
            }
        });
        assertThat(pc.root("ring")).isEqualTo(pids[moves.get() % pids.length]);
    }
}
