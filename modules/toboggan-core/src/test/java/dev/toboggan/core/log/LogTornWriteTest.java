package dev.toboggan.core.log;

import static dev.toboggan.core.log.LogTestSupport.body;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.SimulatedStorage;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A write torn at every byte offset of the last window: recovery keeps exactly what precedes the tear. */
class LogTornWriteTest {

    @Test
    void tornAtEveryByteOfTheLastWindow() {
        int windowLength = -1;
        for (int keep = 0; windowLength < 0 || keep <= windowLength; keep++) {
            windowLength = tornRound(keep);
        }
    }

    /** @return the length of the torn window */
    private static int tornRound(int keep) {
        SimulatedStorage disk = new SimulatedStorage();
        LogConfig config = LogTestSupport.smallConfig();
        Log log = Log.open(config, disk, Background.NONE, 0, e -> {});
        List<Long> durable = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            byte[] b = body(0, i, 50);
            Reservation r = log.reserve(MessageKind.INLINE_NODE, 7, b, 0, b.length);
            durable.add(r.complete());
        }
        log.flush();
        List<long[]> last = new ArrayList<>();
        for (int i = 5; i < 25; i++) {
            byte[] b = body(0, i, 60 + i);
            Reservation r = log.reserve(MessageKind.INLINE_LINK, 7, b, 0, b.length);
            r.complete();
            last.add(new long[] {r.lsn(), r.pointer(), r.length()});
        }
        long windowStart = last.get(0)[1];
        long[] end = last.get(last.size() - 1);
        int windowLength = (int) (end[1] + end[2] - windowStart);
        log.sealCurrent();
        disk.tearNextWrite(keep);
        assertThatThrownBy(() -> log.flushWork().doWork()).isInstanceOf(LogWriteException.class);
        LogTestSupport.abandon(log);

        LogTestSupport.Opened reopened = LogTestSupport.open(config, disk);
        try (Log again = reopened.log()) {
            List<Long> expected = new ArrayList<>(durable);
            for (long[] m : last) {
                if (m[1] + m[2] - windowStart <= keep) {
                    expected.add(m[0]);
                }
            }
            assertThat(reopened.replayed().stream().map(LogEntry::lsn).toList()).as("torn at byte %d", keep)
                    .isEqualTo(expected);
            reopened.replayed().forEach(e -> LogTestSupport.assertIntact(again.read(e.lsn(), e.pointer()).body()));
            // The torn bytes were destroyed: writing on and recovering again never resurrects them.
            byte[] b = body(1, 0, 10);
            Reservation r = again.reserve(MessageKind.INLINE_NODE, 8, b, 0, b.length);
            expected.add(r.complete());
            again.flush();
        }
        LogTestSupport.Opened third = LogTestSupport.open(LogTestSupport.smallConfig(), disk);
        third.log().close();
        assertThat(third.replayed()).hasSize(durable.size() + (int) last.stream()
                .filter(m -> m[1] + m[2] - windowStart <= keep).count() + 1);
        return windowLength;
    }
}
