package dev.toboggan.engine;

import static dev.toboggan.engine.EngineTestSupport.DIR;
import static dev.toboggan.engine.EngineTestSupport.add;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.Failpoints;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.CounterMaterializer;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The Snapshotter: by operation count, by interval, and a failed snapshot restarts it without loss. */
class SnapshotterTest {

    @AfterEach
    void tearDown() {
        Failpoints.reset();
    }

    @Test
    void takesASnapshotAfterSnapshotAfterOpsChangesAndTheNextOpenReplaysOnlyWhatFollows() {
        SimulatedStorage disk = new SimulatedStorage();
        EngineSettings settings = EngineTestSupport.settings(DIR, "toboggan.snapshot-after-ops = 2000\n"
                + "toboggan.snapshot-interval = 0");
        long pid;
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, disk)) {
            pid = engine.pageCache().allocate(0L).pid();
            for (int i = 0; i < 6000; i++) {
                add(engine.pageCache(), pid, 1);
            }
            engine.flush();
            // The Snapshotter's, or one the SegmentCleaner took before freeing segments (then the
            // Snapshotter finds nothing new to take).
            Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> engine.snapshotsTaken() >= 1
                    || engine.cleanerMetrics().segmentsFreed() > 0);
            assertThat(engine.pageCache().snapshots().lastSnapshotLsn()).isPositive();
            engine.abandon();
        }
        disk.powerLoss();
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, disk)) {
            assertThat(engine.pageCache().get(pid).value()).isEqualTo(6000L);
            assertThat(engine.pageCache().recoveryReport().messages()).isLessThan(6000);
        }
    }

    /**
     * Found by {@code -Plong} on a busy machine (the test above timed out): the engine's open returns before
     * its actors start, and a burst of changes logged before the Snapshotter attached signalled nobody; with
     * the timer off, no snapshot followed until more changes came.
     */
    @Test
    void changesLoggedBeforeTheSnapshotterStartedAreCountedWhenItStarts() throws InterruptedException {
        CountDownLatch written = new CountDownLatch(1);
        Failpoints.callback("snapshotter.start", () -> {
            try {
                written.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        SimulatedStorage disk = new SimulatedStorage();
        // Segments large enough that the 6 000 changes fill none: the SegmentCleaner, which snapshots
        // before it frees a segment, must not take the snapshot this test waits for from the Snapshotter.
        EngineSettings settings = EngineTestSupport.settings(DIR, "toboggan.snapshot-after-ops = 2000\n"
                + "toboggan.snapshot-interval = 0\n"
                + "toboggan.segment-size = 1MiB");
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, disk)) {
            long pid = engine.pageCache().allocate(0L).pid();
            for (int i = 0; i < 6000; i++) {
                add(engine.pageCache(), pid, 1);
            }
            engine.flush();
            assertThat(engine.snapshotterStarts()).as("held at its start").isZero();
            assertThat(engine.pageCache().snapshots().lastSnapshotLsn()).as("no snapshot yet").isZero();
            written.countDown();
            Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> engine.snapshotsTaken() >= 1);
        } finally {
            written.countDown();
        }
    }

    @Test
    void takesASnapshotEverySnapshotInterval() {
        SimulatedStorage disk = new SimulatedStorage();
        EngineSettings settings = EngineTestSupport.settings(DIR, "toboggan.snapshot-interval = 50ms");
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, disk)) {
            long pid = engine.pageCache().allocate(0L).pid();
            add(engine.pageCache(), pid, 1);
            engine.flush();
            Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> engine.snapshotsTaken() >= 1);
            add(engine.pageCache(), pid, 1);
            engine.flush();
            Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> engine.snapshotsTaken() >= 2);
        }
    }

    @Test
    void aFailedSnapshotRestartsTheSnapshotterWhichTriesAgainAndLosesNothing() {
        SimulatedStorage disk = new SimulatedStorage();
        EngineSettings settings = EngineTestSupport.settings(DIR, "toboggan.snapshot-interval = 50ms");
        long pid;
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, disk)) {
            pid = engine.pageCache().allocate(0L).pid();
            Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> engine.snapshotterStarts() == 1);
            disk.failAfter(1, Set.of(SimulatedStorage.Op.RENAME));
            add(engine.pageCache(), pid, 5);
            engine.flush();
            Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> engine.snapshotterStarts() >= 2
                    && engine.snapshotsTaken() >= 1);
            assertThat(engine.failure()).as("a failed snapshot does not fail the store").isNull();
            engine.abandon();
        }
        disk.clearFaults();
        disk.powerLoss();
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, disk)) {
            assertThat(engine.pageCache().get(pid).value()).isEqualTo(5L);
        }
    }

    @Test
    void invalidSnapshotSettingsAreRejectedNamingTheKey() {
        assertThatThrownBy(() -> EngineSettings.fromConfig(ConfigFactory.parseString(
                "toboggan.snapshot-after-ops = 10"), DIR)).hasMessageContaining("toboggan.snapshot-after-ops");
        assertThatThrownBy(() -> EngineSettings.fromConfig(ConfigFactory.parseString(
                "toboggan.snapshot-interval = -1s"), DIR)).hasMessageContaining("toboggan.snapshot-interval");
    }
}
