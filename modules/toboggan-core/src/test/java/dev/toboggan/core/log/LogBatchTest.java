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
