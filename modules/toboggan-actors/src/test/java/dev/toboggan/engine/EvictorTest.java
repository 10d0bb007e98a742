package dev.toboggan.engine;

import static dev.toboggan.engine.EngineTestSupport.DIR;
import static dev.toboggan.engine.EngineTestSupport.runConcurrently;
import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.Failpoints;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.BytesMaterializer;
import dev.toboggan.core.pagecache.PageCache;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The Evictor actor keeps the cache under its capacity, and a killed Evictor loses nothing and lets nothing grow. */
class EvictorTest {
    private static final int PAGE = 4096;
    private static final long CAPACITY = 2L << 20;

    @AfterEach
    void disarm() {
        Failpoints.reset();
    }

    private static EngineSettings settings() {
        return EngineTestSupport.settings(DIR, "toboggan.cache-capacity = 2MiB\ntoboggan.segment-size = 1MiB");
    }

    /** Writes {@code bytes} of new pages, recording the pids and the highest resident bytes seen. */
    private static void write(PageCache<byte[], byte[]> cache, long bytes, List<Long> pids, AtomicLong peak) {
        for (long written = 0; written < bytes; written += PAGE) {
            long pid = cache.allocate(BytesMaterializer.page(pids.size(), PAGE)).pid();
            pids.add(pid);
            peak.accumulateAndGet(cache.cacheStats().residentBytes(), Math::max);
        }
    }

    @Test
    void theEvictorKeepsTheCacheUnderItsCapacityAndPagesComeBackOnTheirNextRead() {
        SimulatedStorage disk = new SimulatedStorage();
        try (Engine<byte[], byte[]> engine = Engine.open(settings(), BytesMaterializer.INSTANCE, disk)) {
            PageCache<byte[], byte[]> cache = engine.pageCache();
            List<Long> pids = new ArrayList<>();
            AtomicLong peak = new AtomicLong();
            write(cache, 8 * CAPACITY, pids, peak);
            long pageWeight = cache.get(pids.get(pids.size() - 1)).weight();
            assertThat(peak.get()).as("at most one page over capacity + slack")
                    .isLessThanOrEqualTo(cache.evictor().waitLimit() + pageWeight);
            Awaitility.await().atMost(10, TimeUnit.SECONDS)
                    .until(() -> cache.cacheStats().residentBytes() <= CAPACITY);
            assertThat(cache.cacheStats().evictions()).isPositive();
            long missesBefore = cache.cacheStats().misses();
            for (int i = 0; i < pids.size(); i += 5) {
                assertThat(BytesMaterializer.isPage(cache.get(pids.get(i)).value(), i, PAGE)).isTrue();
            }
            assertThat(cache.cacheStats().misses()).as("reads of paged-out pages are misses").isGreaterThan(missesBefore);
            assertThat(engine.evictorStarts()).isEqualTo(1);
        }
    }

    @Test
    void aKilledEvictorRestartsWhileWritersWaitAndNothingIsLost() throws Exception {
        SimulatedStorage disk = new SimulatedStorage();
        List<Long> pids = Collections.synchronizedList(new ArrayList<>());
        long pageWeight;
        try (Engine<byte[], byte[]> engine = Engine.open(settings(), BytesMaterializer.INSTANCE, disk)) {
            PageCache<byte[], byte[]> cache = engine.pageCache();
            AtomicLong peak = new AtomicLong();
            pageWeight = cache.get(cache.allocate(BytesMaterializer.page(-1, PAGE)).pid()).weight();
            Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> engine.evictorStarts() == 1);
            Failpoints.arm("evictor.run", 0b1111_1111); // the next eight runs fail: eight restarts, with backoff
            List<List<Long>> written = List.of(new ArrayList<>(), new ArrayList<>());
            runConcurrently(60,
                    written.stream().<Runnable>map(mine -> () -> write(cache, 4 * CAPACITY, mine, peak)).toList());
            assertThat(engine.evictorStarts()).as("restarted after each failed run").isGreaterThanOrEqualTo(9);
            assertThat(peak.get()).as("while the Evictor was down, writers waited: one page each over the limit at most")
                    .isLessThanOrEqualTo(cache.evictor().waitLimit() + 2 * pageWeight);
            for (int t = 0; t < written.size(); t++) {
                for (int i = 0; i < written.get(t).size(); i += 3) {
                    assertThat(BytesMaterializer.isPage(cache.get(written.get(t).get(i)).value(), i, PAGE)).isTrue();
                }
                pids.addAll(written.get(t));
            }
            assertThat(engine.failure()).isNull();
        }
        try (Engine<byte[], byte[]> engine = Engine.open(settings(), BytesMaterializer.INSTANCE, disk)) {
            assertThat(engine.pageCache().cacheStats().residentBytes()).as("a reopened store starts paged out")
                    .isZero();
            long seen = pids.stream().filter(pid -> engine.pageCache().get(pid) != null).count();
            assertThat(seen).as("every page written before the clean close").isEqualTo(pids.size());
        }
    }
}
