package dev.toboggan.core.log;

import static dev.toboggan.core.log.LogTestSupport.body;
import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo.OpenMode;
import java.io.IOException;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A blob's id is its message's LSN, and the log goes on from the recovered tip, so ids past the tip are
 * handed out again. Found by {@code TreeModelTest} (seed 38272534958580, session 15): a tree's root came
 * back from a crash holding another tree's leaf.
 */
class LogBlobRecoveryTest {

    /**
     * Life 1 writes a blob and makes its name durable, but its message never is. Life 2's recovery deletes
     * the blob; life 2 writes another blob message at the same LSN, whose bytes reach the disk while its
     * blob's name does not (the directory sync fails; the OS writes the log's dirty pages back anyway).
     * If the deletion had not been made durable, life 3 would read life 1's blob as that message: a valid
     * checksum, another page's bytes. It must instead find the blob missing and end the log there.
     */
    @Test
    void aBlobDeletedByRecoveryStaysDeletedWhenItsIdIsHandedOutAgain() throws IOException {
        SimulatedStorage disk = new SimulatedStorage();
        LogConfig config = LogTestSupport.smallConfig();
        byte[] first = body(1, 1, 2000);
        byte[] second = body(2, 2, 2000);
        Log life1 = LogTestSupport.open(config, disk).log();
        byte[] small = body(0, 0, 40);
        life1.reserve(MessageKind.INLINE_NODE, 3, small, 0, small.length).complete();
        life1.flush();
        long tip = life1.stableTip();
        Reservation blob = life1.reserve(MessageKind.INLINE_NODE, 4, first, 0, first.length);
        assertThat(blob.kind()).as("a message this large goes to a blob").isEqualTo(MessageKind.BLOB_NODE);
        long lsn = blob.complete();
        // The blob directory is synced, the log never forced.
        disk.failAfter(1, Set.of(SimulatedStorage.Op.FORCE), SimulatedStorage.FailMode.FOREVER);
        flushIgnoringFailure(life1);
        disk.clearFaults();
        disk.powerLoss();
        LogTestSupport.abandon(life1);

        Log life2 = LogTestSupport.open(config, disk).log();
        assertThat(life2.recoveryReport().tip()).as("life 1's blob message did not survive").isEqualTo(tip);
        Reservation again = life2.reserve(MessageKind.INLINE_NODE, 5, second, 0, second.length);
        assertThat(again.complete()).as("the same LSN, so the same blob id").isEqualTo(lsn);
        // The log window is written, the blob directory never synced, nothing forced.
        disk.failAfter(1, Set.of(SimulatedStorage.Op.SYNC_DIR), SimulatedStorage.FailMode.FOREVER);
        flushIgnoringFailure(life2);
        disk.clearFaults();
        try (StorageFile file = disk.open(config.logFile(), OpenMode.EXISTING)) {
            file.force(); // the OS wrote the log's dirty pages back before the power failed
        }
        disk.powerLoss();
        LogTestSupport.abandon(life2);

        LogTestSupport.Opened opened3 = LogTestSupport.open(config, disk);
        try (Log life3 = opened3.log()) {
            List<LogEntry> at = opened3.replayed().stream().filter(e -> e.lsn() == lsn).toList();
            for (LogEntry e : at) {
                assertThat(life3.read(e.lsn(), e.pointer()).body()).as("the message at LSN %d", lsn)
                        .isNotEqualTo(first).isEqualTo(second);
            }
            assertThat(at).as("without its blob's name on disk, the message at LSN %d is a torn tail", lsn)
                    .isEmpty();
        }
    }

    private static void flushIgnoringFailure(Log log) {
        try {
            log.flush();
        } catch (RuntimeException expected) {
            // the injected failure
        }
    }
}
