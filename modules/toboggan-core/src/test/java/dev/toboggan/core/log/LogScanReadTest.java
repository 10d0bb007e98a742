package dev.toboggan.core.log;

import static dev.toboggan.core.log.LogTestSupport.body;
import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.SimulatedStorage;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The scanner reads a segment from where its scan starts, a little first ({@link LogScanner#FIRST_READ}),
 * and the rest only when a message may run past what it read. Segments here are larger than that first read
 * and messages of up to 20 KiB straddle its end at every start: replay from any message, and a snapshot's
 * scan of the stable log from any message, must deliver exactly the messages from there on.
 */
class LogScanReadTest {
    private static final LogConfig CONFIG = LogConfig.defaults(LogTestSupport.DIR).withSegmentSize(256 * 1024)
            .withIoBuffers(3).withFlushEvery(java.time.Duration.ZERO);

    @Test
    void afterACleanCloseReplayAndStableScansFromAnyMessageDeliverTheRestOfTheLog() {
        replayFromEveryFewMessages(false);
    }

    /**
     * Without a clean close only the segment headers promise anything: each segment past its header's
     * promise is read a little first, and on once a message runs past that.
     */
    @Test
    void afterACrashReplayFromAnyMessageDeliversTheRestOfTheLog() {
        replayFromEveryFewMessages(true);
    }

    private static void replayFromEveryFewMessages(boolean crash) {
        SimulatedStorage disk = new SimulatedStorage();
        List<Long> written = new ArrayList<>();
        SplittableRandom random = new SplittableRandom(8);
        Log log = LogTestSupport.open(CONFIG, disk).log();
        try {
            for (int i = 0; i < 120; i++) {
                byte[] b = body(0, i, 100 + random.nextInt(20_000));
                written.add(log.reserve(MessageKind.INLINE_NODE, 3 + i, b, 0, b.length).complete());
            }
            log.flush();
            for (int from = 0; from < written.size(); from += 7) {
                List<Long> scanned = new ArrayList<>();
                log.scanStable(written.get(from), entry -> scanned.add(entry.lsn()));
                assertThat(scanned).as("stable scan from message %d", from)
                        .isEqualTo(written.subList(from, written.size()));
            }
        } finally {
            if (crash) {
                LogTestSupport.abandon(log); // everything was made durable: a crash loses nothing
            } else {
                log.close();
            }
        }
        assertThat(written.get(written.size() - 1)).as("the log spans several segments")
                .isGreaterThan(3L * CONFIG.segmentSize());
        for (int from = 0; from < written.size(); from += 11) {
            List<Long> replayed = new ArrayList<>();
            try (Log reopened = Log.open(CONFIG, disk, Background.NONE, written.get(from),
                    e -> replayed.add(e.lsn()))) {
                assertThat(replayed).as("replay from message %d", from).isEqualTo(written.subList(from, written.size()));
                assertThat(reopened.recoveryReport().end()).doesNotContain("torn");
            }
        }
    }
}
