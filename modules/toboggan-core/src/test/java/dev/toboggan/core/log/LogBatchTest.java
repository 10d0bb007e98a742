package dev.toboggan.core.log;

import static dev.toboggan.core.log.LogTestSupport.body;
import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.SimulatedStorage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Atomic batches: recovered whole or not at all, and never reported stable before they are whole. */
class LogBatchTest {

    private static long write(Log log, int writer, int seq) {
        byte[] b = body(writer, seq, 120);
        return log.reserve(MessageKind.INLINE_LINK, 4, b, 0, b.length).complete();
    }

    /** {@code n} messages outside any batch, made stable: what a dropped batch must leave. */
    private static List<Long> writeAndFlush(Log log, int n) {
        List<Long> lsns = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lsns.add(write(log, 0, i));
        }
        log.flush();
        return lsns;
    }

    @Test
    void aSealedBatchIsRecoveredWhole() {
        SimulatedStorage disk = new SimulatedStorage();
        List<Long> batch = new ArrayList<>();
        try (Log log = Log.open(LogTestSupport.smallConfig(), disk, Background.NONE, 0, e -> {})) {
            long manifest = log.openBatch();
            for (int i = 0; i < 100; i++) {
                batch.add(write(log, 0, i));
            }
            log.sealBatch(manifest);
            log.flush();
        }
        disk.powerLoss();
        LogTestSupport.Opened reopened = LogTestSupport.open(LogTestSupport.smallConfig(), disk);
        reopened.log().close();
        assertThat(reopened.replayed().stream().map(LogEntry::lsn).toList()).isEqualTo(batch);
    }

    @Test
    void anUnsealedBatchIsDroppedWithEverythingAfterIt() {
        SimulatedStorage disk = new SimulatedStorage();
        Log log = Log.open(LogTestSupport.smallConfig(), disk, Background.NONE, 0, e -> {});
        List<Long> before = writeAndFlush(log, 10);
        long manifest = log.openBatch();
        for (int i = 0; i < 40; i++) {
            write(log, 1, i); // the batch, spanning several segments
            write(log, 2, i); // another thread's writes after the manifest
        }
        log.requestStable(log.maxReservedLsn());
        while (log.flushWork().hasWork()) {
            log.flushWork().doWork();
        }
        assertThat(log.durableTip()).isGreaterThan(manifest);
        assertThat(log.stableTip()).as("no stable tip passes an unsealed batch").isLessThanOrEqualTo(manifest);
        disk.powerLoss();
        LogTestSupport.abandon(log);

        LogTestSupport.Opened reopened = LogTestSupport.open(LogTestSupport.smallConfig(), disk);
        reopened.log().close();
        assertThat(reopened.replayed().stream().map(LogEntry::lsn).toList()).isEqualTo(before);
        assertThat(reopened.log().recoveryReport().droppedBatches()).isEqualTo(1);
        assertThat(reopened.log().recoveryReport().tip()).isEqualTo(manifest);
    }

    @Test
    void thePeriodicFlushForcesWhatLiesBeforeAnOpenBatchAndNothingOfIt() {
        SimulatedStorage disk = new SimulatedStorage();
        LogConfig config = LogTestSupport.smallConfig().withSegmentSize(64 * 1024);
        try (Log log = Log.open(config, disk, Background.NONE, 0, e -> {})) {
            assertThat(log.periodicFlushTarget()).as("no batch open: everything").isEqualTo(log.maxReservedLsn());
            long before = write(log, 0, 0);
            long manifest = log.openBatch();
            write(log, 1, 0);
            assertThat(log.periodicFlushTarget()).isEqualTo(manifest - 1);
            long forces = disk.forceCount();
            log.requestStable(log.periodicFlushTarget());
            while (log.flushWork().hasWork()) {
                log.flushWork().doWork();
            }
            assertThat(disk.forceCount()).as("what lay before the batch is forced").isEqualTo(forces + 1);
            assertThat(log.stableTip()).isGreaterThan(before).isLessThanOrEqualTo(manifest);

            write(log, 1, 1);
            write(log, 2, 0); // another writer's, after the manifest: stable only with the batch
            log.requestStable(log.periodicFlushTarget());
            assertThat(log.flushWork().hasWork()).as("nothing a force could make stable").isFalse();
            log.flushWork().doWork();
            assertThat(disk.forceCount()).isEqualTo(forces + 1);

            log.sealBatch(manifest);
            assertThat(log.periodicFlushTarget()).isEqualTo(log.maxReservedLsn());
            log.requestStable(log.periodicFlushTarget());
            while (log.flushWork().hasWork()) {
                log.flushWork().doWork();
            }
            assertThat(log.stableTip()).as("the sealed batch and what followed it").isGreaterThan(log.maxReservedLsn());
        }
    }

    @Test
    void thePeriodicFlushStopsAtTheGroupAnOpenBatchJoins() {
        SimulatedStorage disk = new SimulatedStorage();
        try (Log log = Log.open(LogTestSupport.smallConfig(), disk, Background.NONE, 0, e -> {})) {
            long first = log.openBatch();
            write(log, 1, 0);
            long second = log.openBatch(); // opened before the first seals: one group
            write(log, 2, 0);
            log.sealBatch(first);
            assertThat(log.periodicFlushTarget()).isEqualTo(first - 1);
            log.sealBatch(second);
            long third = log.openBatch(); // after the group's last seal: a group of its own
            assertThat(log.periodicFlushTarget()).isEqualTo(third - 1);
            log.sealBatch(third);
            assertThat(log.periodicFlushTarget()).isEqualTo(log.maxReservedLsn());
        }
    }

    /**
     * Regression (FaultInjectionTest, seed 31813286101308, with the paced cleaner): the cleaner promised the
     * durable tip in the {@code stable-tip} file while a batch was open, so the promise covered the batch's
     * manifest. A crash before the seal was durable made recovery drop the batch, ending the log at its
     * manifest, below the promise; the next life wrote from there, and a crash before those bytes were
     * forced left zeros below the promise: the store no longer opened ("message at LSN ... is ZEROED, but
     * segment headers record the log as durable up to LSN ..."). A promise now never passes an unsealed batch.
     */
    @Test
    void aPromiseMadeWhileABatchIsOpenNeverCoversBytesRecoveryDrops() {
        SimulatedStorage disk = new SimulatedStorage();
        Log log = Log.open(LogTestSupport.smallConfig(), disk, Background.NONE, 0, e -> {});
        List<Long> before = writeAndFlush(log, 10);
        long manifest = log.openBatch();
        write(log, 1, 0);
        log.makeDurable(log.maxReservedLsn()); // the batch's bytes are on disk, its seal is not
        assertThat(log.durableTip()).isGreaterThan(manifest);
        assertThat(log.promiseDurableTip()).as("what the cleaner promises").isLessThanOrEqualTo(manifest);
        disk.powerLoss();
        LogTestSupport.abandon(log);

        LogTestSupport.Opened reopened = LogTestSupport.open(LogTestSupport.smallConfig(), disk);
        assertThat(reopened.log().recoveryReport().tip()).as("the batch is dropped").isEqualTo(manifest);
        // a crash again before anything is written past the manifest
        disk.powerLoss();
        LogTestSupport.abandon(reopened.log());
        LogTestSupport.Opened again = LogTestSupport.open(LogTestSupport.smallConfig(), disk);
        again.log().close();
        assertThat(again.replayed().stream().map(LogEntry::lsn).toList()).isEqualTo(before);
    }

    /**
     * Regression (CrashLoopTest, seeds 38028071345900 and 40183869392774): batch A opens, batch B opens, A is
     * sealed (its seal after B's manifest), B never is, and the process dies. Recovery cut the log at B's
     * manifest, the earliest batch still open, which dropped A's seal but kept A's manifest below the new end:
     * a manifest that no seal would ever close. The next life's snapshots and its stable tip stopped there, so
     * its next recovery dropped everything that life wrote, while its cleaner had already freed the segments
     * of the older versions ("message at LSN ... is ZEROED", "the blob of the message ... is missing", lost
     * acknowledged writes). A batch whose seal follows another batch's manifest stands or falls with that
     * batch: the stable tip waits for both, and recovery cuts at the first of them.
     */
    @Test
    void aBatchSealedAfterAnotherBatchOpenedFallsWithIt() {
        SimulatedStorage disk = new SimulatedStorage();
        Log log = Log.open(LogTestSupport.smallConfig(), disk, Background.NONE, 0, e -> {});
        List<Long> before = writeAndFlush(log, 10);
        long first = log.openBatch();
        write(log, 1, 0);
        long second = log.openBatch();
        write(log, 2, 0);
        log.sealBatch(first);
        log.makeDurable(log.maxReservedLsn()); // both batches on disk, the first one's seal too; the second open
        assertThat(log.stableTip()).as("the first batch's seal is void without the second's").isLessThanOrEqualTo(first);
        assertThat(log.promiseDurableTip()).isLessThanOrEqualTo(first);
        disk.powerLoss();
        LogTestSupport.abandon(log);

        LogTestSupport.Opened reopened = LogTestSupport.open(LogTestSupport.smallConfig(), disk);
        assertThat(reopened.replayed().stream().map(LogEntry::lsn).toList()).isEqualTo(before);
        assertThat(reopened.log().recoveryReport().tip()).as("cut at the first batch of the two").isEqualTo(first);
        assertThat(reopened.log().recoveryReport().droppedBatches()).isEqualTo(2);
        assertThat(second).isGreaterThan(first);
        // The next life writes and flushes; all of it must survive its own crash.
        List<Long> after = new ArrayList<>(before);
        for (int i = 0; i < 20; i++) {
            after.add(write(reopened.log(), 3, i));
        }
        reopened.log().flush();
        disk.powerLoss();
        LogTestSupport.abandon(reopened.log());
        LogTestSupport.Opened again = LogTestSupport.open(LogTestSupport.smallConfig(), disk);
        again.log().close();
        assertThat(again.replayed().stream().map(LogEntry::lsn).toList()).isEqualTo(after);
    }

    /** The stable tip and recovery agree on overlapping batches that all sealed: nothing is dropped. */
    @Test
    void overlappingBatchesThatAllSealedAreRecoveredWhole() {
        SimulatedStorage disk = new SimulatedStorage();
        List<Long> all = new ArrayList<>();
        Log log = Log.open(LogTestSupport.smallConfig(), disk, Background.NONE, 0, e -> {});
        long first = log.openBatch();
        all.add(write(log, 1, 0));
        long second = log.openBatch();
        all.add(write(log, 2, 0));
        log.sealBatch(first);
        all.add(write(log, 2, 1));
        log.makeDurable(log.maxReservedLsn());
        long whileSecondOpen = log.stableTip();
        log.sealBatch(second);
        log.flush();
        log.close();
        assertThat(whileSecondOpen).isLessThanOrEqualTo(first);
        assertThat(log.stableTip()).isGreaterThan(all.get(all.size() - 1));
        disk.powerLoss();
        LogTestSupport.Opened reopened = LogTestSupport.open(LogTestSupport.smallConfig(), disk);
        reopened.log().close();
        assertThat(reopened.replayed().stream().map(LogEntry::lsn).toList()).isEqualTo(all);
        assertThat(reopened.log().recoveryReport().droppedBatches()).isZero();
    }

    @Test
    void makeStableInsideAnOpenBatchWaitsForTheSeal() throws Exception {
        SimulatedStorage disk = new SimulatedStorage();
        try (Log log = Log.open(LogTestSupport.smallConfig(), disk, Background.NONE, 0, e -> {})) {
            long manifest = log.openBatch();
            long inside = write(log, 0, 0);
            CompletableFuture<Long> stable = CompletableFuture.supplyAsync(() -> log.makeStable(inside));
            Thread.sleep(100);
            assertThat(stable).isNotDone();
            write(log, 0, 1);
            log.sealBatch(manifest);
            assertThat(stable.get(10, TimeUnit.SECONDS)).isGreaterThan(inside);
        }
    }
}
