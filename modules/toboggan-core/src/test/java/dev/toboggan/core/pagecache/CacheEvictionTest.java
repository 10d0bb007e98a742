package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.SimulatedStorage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The cache's capacity, accounting and policy, with the eviction work run by the callers themselves
 * ({@link Background#NONE}); the Evictor actor's supervision is tested in toboggan-actors.
 */
class CacheEvictionTest {
    private static final long CAPACITY = 1 << 20;
    /** Each page: 200 ints, about 4 KB by IntListMaterializer's estimate. */
    private static final int PAGE_INTS = 200;

    private final SimulatedStorage disk = new SimulatedStorage();
    private PageCache<List<Integer>, Integer> pc;

    @AfterEach
    void close() {
        if (pc != null) {
            pc.close();
        }
    }

    private PageCache<List<Integer>, Integer> open(PageCacheConfig config) {
        pc = Stores.open(disk, config.withLog(config.log().withSegmentSize(1 << 20)).withCacheCapacity(CAPACITY));
        return pc;
    }

    private static List<Integer> page(int seed) {
        List<Integer> values = new ArrayList<>(PAGE_INTS);
        for (int i = 0; i < PAGE_INTS; i++) {
            values.add(seed + i);
        }
        return Collections.unmodifiableList(values);
    }

    /** The sum of the weights of the resident user pages, walking the table. */
    private long residentInTable() {
        long sum = 0;
        for (long pid = PageCache.FIRST_USER_PID; pid < pc.nextPid(); pid++) {
            sum += Page.weightOf(pc.tableEntry(pid));
        }
        return sum;
    }

    @Test
    void residentBytesAreTheSumOfTheResidentPagesWeightsThroughEveryKindOfChange() {
        open(Stores.small().withCacheCapacity(64L << 20));
        Page<List<Integer>> a = pc.allocate(page(1));
        Page<List<Integer>> b = pc.allocate(page(2));
        assertThat(pc.cacheStats().residentBytes()).isEqualTo(residentInTable()).isEqualTo(a.weight() + b.weight());
        Page<List<Integer>> a2 = pc.link(a.pid(), a, 7).page();
        assertThat(a2.weight()).isGreaterThan(a.weight());
        pc.replace(b.pid(), b, List.of(1));
        pc.flush();
        assertThat(pc.pageOut(a.pid())).isTrue();
        assertThat(pc.tableEntry(a.pid())).as("paged out: the bare locations, no Page shell").isInstanceOf(long[].class);
        assertThat(pc.cacheStats().residentBytes()).isEqualTo(residentInTable());
        Page<List<Integer>> back = pc.get(a.pid());
        assertThat(back.value()).isEqualTo(a2.value());
        assertThat(back.ts()).isEqualTo(a2.ts());
        pc.free(b.pid(), pc.get(b.pid()));
        assertThat(pc.cacheStats().residentBytes()).isEqualTo(residentInTable()).isEqualTo(back.weight());
        assertThat(pc.cacheStats().misses()).isEqualTo(1);
    }

    @Test
    void changesThatTakeTheCacheOverCapacityAreNoticedWithinAThreadsCheckBytes() {
        open(Stores.small());
        long checkBytes = CAPACITY / CacheEvictor.CHECK_DIVISOR;
        List<Long> pids = new ArrayList<>();
        for (int i = 0; pc.cacheStats().residentBytes() < CAPACITY - 8 * 4096; i++) {
            pids.add(pc.allocate(page(i)).pid()); // arrivals: each reads the total
        }
        assertThat(pc.cacheStats().evictions()).isZero();
        // Links add a few bytes each and are not arrivals: the thread reads the total only every checkBytes.
        long maxSeen = 0;
        long largestLink = 0;
        for (int i = 0; i < 20_000; i++) {
            long pid = pids.get(i % 8);
            Page<List<Integer>> view = pc.get(pid);
            CasResult<List<Integer>> linked = pc.link(pid, view, i);
            if (linked.succeeded()) {
                largestLink = Math.max(largestLink, linked.page().weight() - view.weight());
            }
            maxSeen = Math.max(maxSeen, pc.cacheStats().residentBytes());
        }
        assertThat(pc.cacheStats().evictions()).as("the links took the cache over its capacity").isPositive();
        assertThat(maxSeen).isLessThanOrEqualTo(CAPACITY + checkBytes + largestLink);
        assertThat(pc.cacheStats().residentBytes()).isEqualTo(residentInTable());
    }

    @Test
    void aStoreOpensWithNothingResidentAndReadsPagesBackOnTheirFirstAccess() {
        open(Stores.small());
        List<Long> pids = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            pids.add(pc.allocate(page(i)).pid());
        }
        pc.close();
        open(Stores.small());
        assertThat(pc.cacheStats().residentBytes()).isZero();
        assertThat(pc.tableEntry(pids.get(0))).as("loaded as bare locations, no Page shell").isInstanceOf(long[].class);
        for (int i = 0; i < pids.size(); i++) {
            assertThat(pc.get(pids.get(i)).value()).isEqualTo(page(i));
        }
        assertThat(pc.cacheStats().misses()).isEqualTo(pids.size());
        assertThat(pc.cacheStats().residentBytes()).isEqualTo(residentInTable()).isPositive();
    }

    @Test
    void writingTenTimesTheCapacityKeepsTheCacheUnderCapacityPlusSlackAndLosesNothing() {
        open(Stores.small());
        long limit = pc.evictor().waitLimit();
        long maxSeen = 0;
        List<Long> pids = new ArrayList<>();
        long written = 0;
        for (int i = 0; written < 10 * CAPACITY; i++) {
            Page<List<Integer>> p = pc.allocate(page(i));
            pids.add(p.pid());
            written += p.weight();
            maxSeen = Math.max(maxSeen, pc.cacheStats().residentBytes());
        }
        // One page past the limit at most: a write is admitted below it and then adds its page.
        assertThat(maxSeen).isLessThanOrEqualTo(limit + 8192);
        assertThat(pc.cacheStats().evictions()).isPositive();
        assertThat(pc.cacheStats().residentBytes()).isEqualTo(residentInTable());
        for (int i = 0; i < pids.size(); i += 7) {
            assertThat(pc.get(pids.get(i)).value()).isEqualTo(page(i));
        }
        assertThat(pc.cacheStats().misses()).isPositive();
        assertThat(pc.cacheStats().residentBytes()).isLessThanOrEqualTo(limit + 8192);
    }

    @Test
    void aScanOverColdPagesDoesNotEvictTheHotWorkingSet() {
        open(Stores.small());
        int fits = (int) (CAPACITY / pc.allocate(page(0)).weight());
        List<Long> cold = new ArrayList<>();
        for (int i = 0; i < 4 * fits; i++) {
            cold.add(pc.allocate(page(i)).pid());
        }
        List<Long> hot = new ArrayList<>();
        for (int i = 0; i < fits / 4; i++) {
            hot.add(pc.allocate(page(-i)).pid());
        }
        Random random = new Random(42);
        for (int round = 0; round < 50; round++) {
            for (long pid : hot) {
                if (random.nextInt(4) != 0) {
                    pc.get(pid);
                }
            }
        }
        for (long pid : cold) { // the scan: each cold page read once, paging in 4x the capacity
            pc.get(pid);
        }
        long hotResident = hot.stream().filter(pid -> pc.tableEntry(pid) instanceof Page<?>).count();
        assertThat(hotResident).as("hot pages still resident after the scan").isGreaterThanOrEqualTo(hot.size() * 9L / 10);
    }

    /**
     * While the cache is far from full no hit and no write is recorded, so reads and writes ask for no
     * eviction runs (each would drain the records into the policy); from half the capacity on they are
     * recorded again.
     */
    @Test
    void hitsAndWritesAreRecordedOnlyOnceTheCacheIsHalfFull() {
        open(Stores.small());
        long weight = pc.allocate(page(0)).weight();
        List<Long> pids = new ArrayList<>();
        for (int i = 1; i < CAPACITY / weight / 8; i++) {
            pids.add(pc.allocate(page(i)).pid());
        }
        long runsBefore = pc.evictor().runs();
        for (int round = 0; round < 2000; round++) {
            for (long pid : pids) {
                pc.get(pid);
            }
        }
        assertThat(pc.evictor().runs()).as("eviction runs after %d hits on an eighth-full cache", 2000 * pids.size())
                .isEqualTo(runsBefore);
        relink(pids, 4 * AccessBuffers.RING);
        assertThat(pc.evictor().runs()).as("eviction runs after %d writes on an eighth-full cache", 4 * AccessBuffers.RING)
                .isEqualTo(runsBefore);

        while (pc.evictor().residentBytes() <= CAPACITY * 5 / 8) {
            pids.add(pc.allocate(page(pids.size())).pid());
        }
        runsBefore = pc.evictor().runs();
        relink(pids, 4 * AccessBuffers.RING);
        assertThat(pc.evictor().runs()).as("eviction runs after %d writes on a cache over half full", 4 * AccessBuffers.RING)
                .isGreaterThan(runsBefore);
        runsBefore = pc.evictor().runs();
        for (int round = 0; round < 200; round++) {
            for (long pid : pids) {
                pc.get(pid);
            }
        }
        assertThat(pc.evictor().runs()).as("eviction runs after %d hits on a cache over half full", 200 * pids.size())
                .isGreaterThan(runsBefore);
    }

    /** Links {@code writes} deltas, one page of {@code pids} after the other. */
    private void relink(List<Long> pids, int writes) {
        for (int i = 0; i < writes; i++) {
            long pid = pids.get(i % pids.size());
            assertThat(pc.link(pid, pc.get(pid), i).succeeded()).isTrue();
        }
    }

    /**
     * Pages every lookup passes through (a tree's inner nodes, here pages whose first int is negative) have
     * only one hit in {@value CacheEvictor#PASSED_THROUGH_HIT_SAMPLE_EVERY} recorded: they must still stay
     * resident while lookups page the leaves under them in and out, four times the capacity of them.
     *
     * <p>Checked once the policy has learnt them, at every lookup after ten cachefuls of lookups. Allocated
     * before the leaves, the inner pages start paged out as cold; each comes back through the window and
     * probation, and one whose sampled hits all stay unrecorded while it crosses probation (one record in 128
     * lookups, about 700 lookups there: 0.3 % of its page-ins) can lose its place to a churning leaf and be
     * paged in again. The hits are sampled by {@link java.util.concurrent.ThreadLocalRandom}, so the test
     * cannot fix them: checked from the 64th lookup on, it failed three runs in 3 000; in those 3 000 runs
     * no inner page was paged out after lookup 1 151 (4.5 cachefuls).
     */
    @Test
    void pagesEveryLookupPassesThroughStayResidentOnTheirSampledHits() {
        Materializer<List<Integer>, Integer> tree = new IntListMaterializer() {
            @Override
            public boolean isPassedThrough(List<Integer> page) {
                return !page.isEmpty() && page.get(0) < 0;
            }
        };
        PageCacheConfig config = Stores.small();
        pc = PageCache.open(config.withLog(config.log().withSegmentSize(1 << 20)).withCacheCapacity(CAPACITY), disk,
                Background.NONE, tree);
        List<Long> inner = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            inner.add(pc.allocate(page(-1_000_000 * (i + 1))).pid());
        }
        int fits = (int) (CAPACITY / pc.get(inner.get(0)).weight());
        List<Long> leaves = new ArrayList<>();
        for (int i = 0; i < 4 * fits; i++) {
            leaves.add(pc.allocate(page(i)).pid());
        }
        Random random = new Random(7);
        long evictionsBefore = pc.cacheStats().evictions();
        int learnt = 10 * fits;
        for (int lookup = 1; lookup <= 40 * fits; lookup++) {
            assertThat(pc.get(inner.get(random.nextInt(inner.size()))).value().get(0)).isNegative();
            pc.get(leaves.get(random.nextInt(leaves.size())));
            if (lookup > learnt) {
                assertThat(inner).as("inner pages resident after %d lookups", lookup)
                        .allMatch(pid -> pc.tableEntry(pid) instanceof Page<?>);
            }
        }
        assertThat(pc.cacheStats().evictions() - evictionsBefore).as("the leaves did cycle through the cache")
                .isGreaterThan(10L * fits);
    }

    @Test
    void aCallerThatCannotGetRoomFailsCleanlyAfterTheTimeoutAndChangesNothing() {
        // Nobody may page out: flush-every 0 and a port claiming the work, which never runs it.
        Background stalled = new Background() {
            @Override
            public void flushNeeded() {}

            @Override
            public boolean evictionNeeded() {
                return true;
            }
        };
        PageCacheConfig config = Stores.small().withLog(Stores.small().log().withSegmentSize(1 << 20))
                .withCacheCapacity(CAPACITY).withCacheWaitTimeout(Duration.ofMillis(200));
        pc = PageCache.open(config, disk, stalled, IntListMaterializer.INSTANCE);
        long nextBefore = -1;
        assertThatThrownBy(() -> {
            while (true) {
                pc.allocate(page(1));
            }
        }).isInstanceOf(CacheFullException.class).hasMessageContaining("cache-capacity");
        nextBefore = pc.nextPid();
        assertThatThrownBy(() -> pc.allocate(page(1))).isInstanceOf(CacheFullException.class);
        assertThat(pc.nextPid()).as("the refused allocation took no id").isEqualTo(nextBefore);
        pc.evictor().run(); // the work, once it runs, makes room: the flush it needs is done by the run itself
        assertThat(pc.cacheStats().residentBytes()).isLessThanOrEqualTo(CAPACITY);
        assertThat(pc.allocate(page(2)).value()).isEqualTo(page(2));
    }
}
