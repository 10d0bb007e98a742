package dev.toboggan.core.log;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.FileChannelStorage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogSmokeTest {
    @TempDir Path dir;

    @Test
    void writesFlushesAndRecovers() {
        LogConfig config = LogConfig.defaults(dir).withSegmentSize(4096);
        List<long[]> written = new ArrayList<>();
        try (Log log = Log.open(config, new FileChannelStorage(), Background.NONE, 0, e -> {})) {
            for (int i = 0; i < 500; i++) {
                byte[] body = ("message " + i).getBytes(StandardCharsets.UTF_8);
                Reservation r = log.reserve(MessageKind.INLINE_NODE, i, body, 0, body.length);
                written.add(new long[] {r.lsn(), r.pointer()});
                r.complete();
            }
            log.flush();
            LogMessage m = log.read(written.get(42)[0], written.get(42)[1]);
            assertThat(new String(m.body(), StandardCharsets.UTF_8)).isEqualTo("message 42");
        }
        List<LogEntry> replayed = new ArrayList<>();
        try (Log log = Log.open(config, new FileChannelStorage(), Background.NONE, 0, replayed::add)) {
            assertThat(replayed).hasSize(500);
            for (int i = 0; i < 500; i++) {
                LogEntry e = replayed.get(i);
                assertThat(e.pid()).isEqualTo(i);
                assertThat(e.lsn()).isEqualTo(written.get(i)[0]);
                LogMessage m = log.read(e.lsn(), e.pointer());
                assertThat(new String(m.body(), StandardCharsets.UTF_8)).isEqualTo("message " + i);
            }
            System.out.println(log.recoveryReport());
        }
    }
}
