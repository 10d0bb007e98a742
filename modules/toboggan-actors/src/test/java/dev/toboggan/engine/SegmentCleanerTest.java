package dev.toboggan.engine;

import static dev.toboggan.engine.EngineTestSupport.DIR;
import static dev.toboggan.engine.EngineTestSupport.add;
import static dev.toboggan.engine.EngineTestSupport.runConcurrently;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.Failpoints;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.CounterMaterializer;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.SegmentCleaning;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The SegmentCleaner actor: cleans under load, survives being killed, and does nothing when idle. */
class SegmentCleanerTest {
    private static final int PAGES = 2000;

    @AfterEach
    void tearDown() {
        Failpoints.reset();
    }

    private static EngineSettings settings() {
        return EngineTestSupport.settings(DIR, "toboggan.segment-size = 16KiB\ntoboggan.snapshot-interval = 0");
    }

    /** Counters: each writer thread adds to random pages and keeps the sums it added. */
    private static void load(PageCache<Long, Long> cache, long[] pids, AtomicLongArray sums, int seed, int ops) {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = 0; i < ops; i++) {
            int page = rnd.nextInt(pids.length);
            add(cache, pids[page], 1);
            sums.incrementAndGet(page);
        }
    }

    @Test
    void killedUnderLoadItRestartsRebuildsAndContinuesAndNothingIsLost() throws Exception {
        SimulatedStorage disk = new SimulatedStorage();
        long[] pids = new long[PAGES];
        AtomicLongArray sums = new AtomicLongArray(PAGES);
        try (Engine<Long, Long> engine = Engine.open(settings(), CounterMaterializer.INSTANCE, disk)) {
            PageCache<Long, Long> cache = engine.pageCache();
            for (int i = 0; i < PAGES; i++) {
                pids[i] = cache.allocate(0L).pid();
            }
            Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> engine.cleanerStarts() == 1);
            // The cleaner dies at the 2nd, 4th and 7th page it moves, mid-pass: three restarts under load.
            Failpoints.arm("cleaner.rewrite", 0b1001010);
            runConcurrently(300,
                    List.of(() -> load(cache, pids, sums, 0, 60_000), () -> load(cache, pids, sums, 1, 60_000)));
            engine.flush();
            Awaitility.await().atMost(30, TimeUnit.SECONDS).until(() -> engine.cleanerStarts() >= 4
                    && engine.cleanerMetrics().segmentsFreed() > 0);
            // It catches up: pass after pass while over budget, then, the writers quiet, passes at rest until
            // the store is under its watermark. Read once no pass has run for a while: a pass in the middle of
            // a drain has written the pages it moved and not yet freed where they were.
            long[] passes = {-1};
            int[] quiet = {0};
            Awaitility.await().atMost(60, TimeUnit.SECONDS).pollInterval(100, TimeUnit.MILLISECONDS).until(() -> {
                SegmentCleaning.Metrics now = engine.cleanerMetrics();
                quiet[0] = now.lagBytes() == 0 && now.passes() == passes[0] ? quiet[0] + 1 : 0;
                passes[0] = now.passes();
                return quiet[0] >= 5;
            });
            assertThat(engine.failure()).as("a failed pass does not fail the store").isNull();
            for (int i = 0; i < PAGES; i++) {
                assertThat(cache.get(pids[i]).value()).isEqualTo(sums.get(i));
            }
            SegmentCleaning.Metrics m = engine.cleanerMetrics();
            assertThat(m.bytesCleaned()).isPositive();
            // within budget: 1.5 x live, but never less than live + two segments (this store is small)
            assertThat(m.sizeOnDisk()).as("%s", m).isLessThanOrEqualTo(
                    Math.max((long) (1.5 * m.liveBytes()), m.liveBytes() + 2 * 16 * 1024));
            engine.abandon();
        }
        disk.powerLoss();
        try (Engine<Long, Long> engine = Engine.open(settings(), CounterMaterializer.INSTANCE, disk)) {
            for (int i = 0; i < PAGES; i++) {
                assertThat(engine.pageCache().get(pids[i]).value()).as("page %d", pids[i]).isEqualTo(sums.get(i));
            }
        }
    }

    @Test
    void anIdleStoreRunsNoPasses() throws InterruptedException {
        SimulatedStorage disk = new SimulatedStorage();
        try (Engine<Long, Long> engine = Engine.open(settings(), CounterMaterializer.INSTANCE, disk)) {
            PageCache<Long, Long> cache = engine.pageCache();
            long[] pids = new long[PAGES];
            for (int i = 0; i < PAGES; i++) {
                pids[i] = cache.allocate(0L).pid();
            }
            load(cache, pids, new AtomicLongArray(PAGES), 9, 20_000);
            engine.flush();
            Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> engine.cleanerMetrics().passes() > 0);
            // Settled: within max-space-amplification (over it, retries on a backoff timer are meant to
            // run), and two looks 2 s apart see the same number of passes: ten times the settle timer's
            // 200 ms, so a settle pass that a starved machine starts late is not taken for idleness.
            Awaitility.await().atMost(60, TimeUnit.SECONDS).until(() -> {
                long before = engine.cleanerMetrics().passes();
                Thread.sleep(2000);
                SegmentCleaning.Metrics now = engine.cleanerMetrics();
                return now.lagBytes() == 0 && now.passes() == before;
            });
            long passes = engine.cleanerMetrics().passes();
            Thread.sleep(1000); // idle: the periodic flush runs, nobody writes
            assertThat(engine.cleanerMetrics().passes()).as("passes while idle").isEqualTo(passes);
        }
    }

    @Test
    void invalidCleanerSettingsAreRejectedNamingTheKey() {
        assertThatThrownBy(() -> EngineSettings.fromConfig(ConfigFactory.parseString(
                "toboggan.cleanup-threshold = lots"), DIR)).hasMessageContaining("toboggan.cleanup-threshold");
        assertThatThrownBy(() -> EngineSettings.fromConfig(ConfigFactory.parseString(
                "toboggan.cleanup-threshold = 150%"), DIR)).hasMessageContaining("toboggan.cleanup-threshold");
        assertThatThrownBy(() -> EngineSettings.fromConfig(ConfigFactory.parseString(
                "toboggan.max-space-amplification = 0.9"), DIR))
                .hasMessageContaining("toboggan.max-space-amplification");
        EngineSettings s = EngineSettings.fromConfig(ConfigFactory.parseString(
                "toboggan.cleanup-threshold = 0.7\ntoboggan.max-space-amplification = 2"), DIR);
        assertThat(s.cleaning()).isEqualTo(new SegmentCleaning.Policy(0.7, 2));
        assertThatThrownBy(() -> EngineSettings.fromConfig(ConfigFactory.parseString(
                "toboggan.load-space-amplification = 1"), DIR))
                .hasMessageContaining("toboggan.load-space-amplification");
        assertThat(EngineSettings.fromConfig(ConfigFactory.parseString("toboggan.load-space-amplification = 3"), DIR)
                .cleaning()).isEqualTo(new SegmentCleaning.Policy(0.5, 1.5, 3));
        assertThat(EngineSettings.defaults(DIR).cleaning()).isEqualTo(SegmentCleaning.Policy.DEFAULT);
    }
}
