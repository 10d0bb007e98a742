package dev.toboggan.core.log;

import static dev.toboggan.core.log.LogTestSupport.body;
import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.SimulatedStorage;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The flusher zero-fills the log file ahead of the windows it writes (when the store forces), so the
 * forces between two fills need not carry a new file size; the zeros read as the log's end after a crash.
 */
class LogZeroFillTest {
    private static final int SEGMENT = 4 << 20;

    private static LogConfig config() {
        return LogTestSupport.smallConfig().withSegmentSize(SEGMENT);
    }

    @Test
    void aFlushThatGrowsTheFileFillsItAheadAndTheNextFlushesDoNotGrowIt() {
        SimulatedStorage disk = new SimulatedStorage();
        Log log = Log.open(config(), disk, Background.NONE, 0, e -> {});
        byte[] first = body(0, 0, 100);
        log.reserve(MessageKind.INLINE_NODE, 3, first, 0, first.length).complete();
        log.flush();
        long size = disk.content(config().logFile()).length;
        assertThat(size).as("filled ahead of the window, within the first slot")
                .isGreaterThanOrEqualTo(LogFlusher.ZERO_FILL_AHEAD).isLessThanOrEqualTo(SEGMENT);
        assertThat(log.sizeOnDisk()).as("the zeros ahead are not counted as log").isLessThan(1024);
        for (int i = 1; i < 200; i++) {
            byte[] b = body(0, i, 1000);
            log.reserve(MessageKind.INLINE_NODE, 3, b, 0, b.length).complete();
            log.flush();
            assertThat(disk.content(config().logFile())).as("flush %d", i).hasSize((int) size);
        }
        assertThat(log.sizeOnDisk()).isBetween(199L * 1000, 199L * 1100 + 1024);
        log.close();
    }

    @Test
    void theZerosAheadReadAsTheEndOfTheLogAfterAPowerLoss() {
        SimulatedStorage disk = new SimulatedStorage();
        Log log = Log.open(config(), disk, Background.NONE, 0, e -> {});
        List<Long> flushed = new ArrayList<>();
        for (int i = 0; i < 3000; i++) { // past the first fill, and into a second segment
            byte[] b = body(0, i, 2000);
            flushed.add(log.reserve(MessageKind.INLINE_NODE, 3, b, 0, b.length).complete());
            if (i % 10 == 0) {
                log.flush();
            }
        }
        log.flush();
        assertThat(log.segments()).hasSizeGreaterThan(1);
        disk.powerLoss();
        LogTestSupport.abandon(log);

        LogTestSupport.Opened reopened = LogTestSupport.open(config(), disk);
        assertThat(reopened.replayed().stream().map(LogEntry::lsn).toList()).isEqualTo(flushed);
        reopened.replayed().forEach(e -> LogTestSupport.assertIntact(reopened.log().read(e.lsn(), e.pointer()).body()));
        byte[] more = body(1, 0, 100);
        long lsn = reopened.log().reserve(MessageKind.INLINE_NODE, 3, more, 0, more.length).complete();
        reopened.log().flush();
        reopened.log().close();
        LogTestSupport.Opened again = LogTestSupport.open(config(), disk);
        assertThat(again.replayed()).hasSize(flushed.size() + 1);
        assertThat(again.replayed().get(flushed.size()).lsn()).isEqualTo(lsn);
        again.log().close();
    }

    @Test
    void aDiskTooFullForTheZerosStillTakesTheWindow() {
        SimulatedStorage disk = new SimulatedStorage();
        Log log = Log.open(config(), disk, Background.NONE, 0, e -> {});
        disk.capacity(disk.usedBytes() + 40 * 1024); // less than one chunk of zeros
        byte[] b = body(0, 0, 1000);
        long lsn = log.reserve(MessageKind.INLINE_NODE, 3, b, 0, b.length).complete();
        log.flush();
        assertThat(log.stableTip()).isGreaterThan(lsn);
        assertThat(disk.content(config().logFile()).length).isLessThan(40 * 1024);
        log.close();
    }

    @Test
    void aWindowThatGrowsTheFileIsWrittenOnceAndNotZeroedFirst() {
        SimulatedStorage disk = new SimulatedStorage();
        Log log = Log.open(config(), disk, Background.NONE, 0, e -> {});
        log.flush();
        long before = disk.content(config().logFile()).length;
        for (int i = 0; i < 1500; i++) { // one window of ~1.5 MiB, past the zeros the first flush left
            byte[] b = body(0, i, 1000);
            log.reserve(MessageKind.INLINE_NODE, 3, b, 0, b.length).complete();
        }
        disk.resetCounters();
        log.flush();
        long after = disk.content(config().logFile()).length;
        assertThat(after).as("filled ahead of the window").isGreaterThan(before + LogFlusher.ZERO_FILL_AHEAD);
        assertThat(disk.bytesWritten()).as("the window's bytes and the zeros past it, each once (and the stable-tip "
                + "file)").isBetween(after - before, after - before + 4096);
        log.close();
    }

    @Test
    void withoutFsyncNothingIsFilledAhead() {
        SimulatedStorage disk = new SimulatedStorage();
        LogConfig config = config().withFsync(false);
        Log log = Log.open(config, disk, Background.NONE, 0, e -> {});
        byte[] b = body(0, 0, 100);
        log.reserve(MessageKind.INLINE_NODE, 3, b, 0, b.length).complete();
        log.flush();
        assertThat(disk.content(config.logFile()).length).isLessThan(1024);
        log.close();
    }
}
