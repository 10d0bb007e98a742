package dev.toboggan.core.log;

import static dev.toboggan.core.log.LogTestSupport.body;
import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.SimulatedStorage;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code durability = os}: a flush writes to the operating system and never forces. */
class LogDurabilityModeTest {

    @Test
    void withoutFsyncAFlushSurvivesAProcessCrashButNotAPowerLoss() {
        SimulatedStorage disk = new SimulatedStorage();
        LogConfig config = LogTestSupport.smallConfig().withFsync(false);
        List<Long> flushed = new ArrayList<>();
        Log log = Log.open(config, disk, Background.NONE, 0, e -> {});
        disk.resetCounters();
        for (int i = 0; i < 100; i++) {
            byte[] b = body(0, i, i % 10 == 0 ? 3000 : 50);
            flushed.add(log.reserve(MessageKind.INLINE_NODE, 3, b, 0, b.length).complete());
            log.flush();
        }
        assertThat(disk.forceCount()).as("no fsync in durability = os").isZero();
        LogTestSupport.abandon(log); // the process dies; the operating system keeps what it was given
        LogTestSupport.Opened afterProcessCrash = LogTestSupport.open(config, disk);
        afterProcessCrash.log().close();
        assertThat(afterProcessCrash.replayed().stream().map(LogEntry::lsn).toList()).isEqualTo(flushed);
    }
}
