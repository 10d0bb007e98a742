package dev.toboggan.core.log;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.StorageIo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Self-describing test messages: the body starts with (writer, sequence) and the rest is derived from
 * them, so a body read back proves both where it came from and that it is intact.
 */
final class LogTestSupport {
    static final Path DIR = Path.of("/store");

    private LogTestSupport() {}

    /** The scale knob of randomized tests: 1 by default, larger under {@code -Plong}. */
    static int scale() {
        return Integer.getInteger("toboggan.test.scale", 1);
    }

    /** A config with small segments, so tests cross many segments and produce blobs. */
    static LogConfig smallConfig() {
        return LogConfig.defaults(DIR).withSegmentSize(4096).withIoBuffers(3).withFlushEvery(Duration.ZERO);
    }

    static byte[] body(int writer, int seq, int length) {
        int len = Math.max(8, length);
        byte[] b = new byte[len];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(0, writer).putInt(4, seq);
        SplittableRandom r = new SplittableRandom(((long) writer << 32) ^ seq);
        for (int i = 8; i < len; i++) {
            b[i] = (byte) r.nextInt();
        }
        return b;
    }

    /** Asserts that a body read back is exactly what {@link #body} made for its (writer, seq). */
    static void assertIntact(byte[] body) {
        assertThat(body.length).isGreaterThanOrEqualTo(8);
        ByteBuffer bb = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(body).isEqualTo(body(bb.getInt(0), bb.getInt(4), body.length));
    }

    static long key(byte[] body) {
        ByteBuffer bb = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
        return ((long) bb.getInt(0) << 32) | (bb.getInt(4) & 0xFFFF_FFFFL);
    }

    /** A message a test wrote and completed. */
    record Written(long lsn, long pointer, long pid, long key) {}

    /** Opens a log and collects what recovery replays. */
    static Opened open(LogConfig config, StorageIo io) {
        List<LogEntry> replayed = new ArrayList<>();
        Log log = Log.open(config, io, Background.NONE, 0, replayed::add);
        return new Opened(log, replayed);
    }

    record Opened(Log log, List<LogEntry> replayed) {}

    /** Abandons a log whose storage lost power: it can no longer flush, so it is failed, then closed. */
    static void abandon(Log log) {
        log.fail(new IOException("simulated crash: the test abandons this log"));
        log.close();
    }
}
