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
        List<Long> before = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            before.add(write(log, 0, i));
        }
        log.flush();
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
