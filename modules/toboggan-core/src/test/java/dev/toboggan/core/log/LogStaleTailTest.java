package dev.toboggan.core.log;

import static dev.toboggan.core.log.LogTestSupport.body;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo.OpenMode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A reused slot keeps the bytes of its earlier life past the log's tip. After a clean close recovery meets
 * them exactly at the durable tip the close recorded: that is the end of the log, not a tear (no warning),
 * and they are zeroed so that they can never be read as data.
 */
class LogStaleTailTest {

    @Test
    void bytesPastTheTipOfACleanCloseEndTheLogWithoutATear() throws IOException {
        SimulatedStorage disk = new SimulatedStorage();
        LogConfig config = LogTestSupport.smallConfig();
        List<Long> written = new ArrayList<>();
        long end;
        try (Log log = LogTestSupport.open(config, disk).log()) {
            long last = 0;
            for (int i = 0; i < 5; i++) {
                byte[] b = body(0, i, 40);
                Reservation r = log.reserve(MessageKind.INLINE_NODE, 3, b, 0, b.length);
                written.add(r.complete());
                last = r.pointer() + r.length();
            }
            log.flush();
            end = last;
        }
        // What an earlier life of the slot left there: no kind byte this format ever wrote.
        byte[] stale = new byte[200];
        Arrays.fill(stale, (byte) 0xEE);
        try (StorageFile file = disk.open(config.logFile(), OpenMode.EXISTING)) {
            file.write(ByteBuffer.wrap(stale), end);
            file.force();
        }

        LogTestSupport.Opened reopened = LogTestSupport.open(config, disk);
        try (Log log = reopened.log()) {
            assertThat(reopened.replayed().stream().map(LogEntry::lsn).toList()).isEqualTo(written);
            assertThat(log.recoveryReport().end()).as("why the log ended").doesNotContain("torn")
                    .contains("promised");
        }
        byte[] after = Arrays.copyOfRange(disk.content(config.logFile()), (int) end, (int) end + stale.length);
        assertThat(after).as("stale bytes zeroed by recovery").containsOnly((byte) 0);
    }

    /**
     * The segment holding the last byte a clean close promised is gone and nothing follows it (a log file cut
     * short): recovery refused only when some later segment existed, and otherwise ended the log below the
     * promise, silently dropping what it held.
     */
    @Test
    void aLogCutShortBelowItsPromiseIsCorruption() throws IOException {
        SimulatedStorage disk = new SimulatedStorage();
        LogConfig config = LogTestSupport.smallConfig();
        try (Log log = LogTestSupport.open(config, disk).log()) {
            for (int i = 0; i < 60; i++) {
                byte[] b = body(0, i, 200);
                log.reserve(MessageKind.INLINE_NODE, 3, b, 0, b.length).complete();
            }
            log.flush();
            assertThat(log.stableTip()).as("several segments").isGreaterThan(3L * config.segmentSize());
        }
        long size = disk.content(config.logFile()).length;
        try (StorageFile file = disk.open(config.logFile(), OpenMode.EXISTING)) {
            file.truncate(size - config.segmentSize()); // the last segment, where the close's promise lies
            file.force();
        }
        assertThatThrownBy(() -> LogTestSupport.open(config, disk)).isInstanceOf(CorruptionException.class)
                .hasMessageContaining("is missing");
    }
}
