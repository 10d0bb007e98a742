package dev.toboggan.bench.log;

import dev.toboggan.bench.BenchDefaults;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.log.FlushThread;
import dev.toboggan.core.log.Log;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.log.LogFormat;
import dev.toboggan.core.log.LogStats;
import dev.toboggan.core.log.MessageKind;
import dev.toboggan.core.log.Reservation;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * Issue 2, target 1: append throughput with no fsync asked for, as a ratio to raw sequential
 * {@code FileChannel} writes of the same bytes in the same run (target: log / baseline &ge; 0.7).
 *
 * <ul>
 *   <li>{@link #log}: one writer thread, {@code reserve} + {@code complete} of one message per op, into a
 *       log with the default segment size (8 MiB) and IO buffers (4), periodic flush off; a
 *       {@link FlushThread} writes the sealed buffers in the background. Nobody calls {@code flush}.
 *   <li>{@link #baseline}: the same thread copies the same message bytes (the log's own message header for
 *       that position, then the body; no CRC) into one segment-sized direct buffer, and when the next
 *       message would not fit writes the filled part with positional {@code FileChannel.write}s at the next
 *       segment-sized slot of a file in a sibling directory: the same bytes, in the same chunks, at the
 *       same offsets as the log writes them. No force.
 * </ul>
 * With {@code -Dtoboggan.bench.verbose=true} the log's counters are printed after each iteration:
 * {@code forces} must stay 0 here (nobody asks for durability), {@code memoryWaits} counts rotations that
 * found every IO buffer unwritten.
 *
 * <p>Both open a fresh directory per iteration and delete it afterwards, so disk use is bounded by what
 * one iteration writes (the baseline additionally restarts its file every {@link #BASELINE_CAP} bytes).
 * Both end an iteration the same way, untimed: everything written is forced (the log's {@code close}
 * does it; the baseline calls {@code force}), then deleted.
 */
public class LogAppendBenchmark extends BenchDefaults {
    /** A typical page id: a two-byte varint. */
    static final long PID = 1234;
    /** The baseline truncates its file and starts again from offset 0 after this many bytes. */
    static final long BASELINE_CAP = 4L << 30;

    /** The message body, the same for both sides. */
    @State(Scope.Thread)
    public static class Message {
        @Param({"100", "1024"})
        public int size;

        byte[] body;

        @Setup(Level.Trial)
        public void setUp() {
            body = new byte[size];
            new SplittableRandom(size).nextBytes(body);
        }
    }

    /** The log under test, reopened on an empty directory every iteration. */
    @State(Scope.Thread)
    public static class LogState {
        Path dir;
        FlushThread flusher;
        Log log;

        @Setup(Level.Iteration)
        public void open() {
            dir = BenchDirs.create("append-log");
            LogConfig config = LogConfig.defaults(dir).withFlushEvery(Duration.ZERO);
            flusher = new FlushThread("bench-flusher", Duration.ZERO);
            log = Log.open(config, new FileChannelStorage(), flusher, 0, entry -> {});
            flusher.start(log);
        }

        @TearDown(Level.Iteration)
        public void close() {
            LogStats stats = log.stats();
            long t0 = System.nanoTime();
            flusher.close();
            log.close();
            long closeMillis = (System.nanoTime() - t0) / 1_000_000;
            if (VERBOSE) {
                System.out.printf("%n  [log] windows=%d written=%d MiB forces=%d memoryWaits=%d (rotations that "
                        + "found all IO buffers full); close took %d ms; load %.1f%n", stats.windowsWritten(),
                        stats.bytesWritten() >> 20, stats.forces(), stats.memoryWaits(), closeMillis, loadAverage());
            }
            BenchDirs.delete(dir);
        }
    }

    /** The baseline's file and its one segment-sized direct buffer. */
    @State(Scope.Thread)
    public static class BaselineFile {
        final int segmentSize = LogConfig.DEFAULT_SEGMENT_SIZE;
        final ByteBuffer header = LogFormat.le(ByteBuffer.allocate(LogFormat.MAX_MESSAGE_HEADER_LENGTH));
        Path dir;
        FileChannel channel;
        ByteBuffer chunk;
        /** Segment number of the chunk being filled: its messages' headers carry it, as the log's do. */
        long segment;
        long fileOffset;
        int bodySize = -1;
        long bytes;

        @Setup(Level.Iteration)
        public void open() throws IOException {
            dir = BenchDirs.create("append-baseline");
            channel = FileChannel.open(dir.resolve("log"), StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            if (chunk == null) {
                chunk = LogFormat.le(ByteBuffer.allocateDirect(segmentSize));
            }
            segment = 0;
            fileOffset = 0;
            bytes = 0;
            startChunk();
        }

        private void startChunk() {
            chunk.clear();
            // The log starts each segment with its 24-byte header.
            LogFormat.writeSegmentHeader(chunk, 0, segment * segmentSize, 0);
            chunk.position(LogFormat.SEGMENT_HEADER_LENGTH);
            bodySize = -1;
        }

        /** Copies one message in; writes the chunk first if the message would not fit (the log's rule). */
        long append(byte[] body) throws IOException {
            if (bodySize != body.length) {
                header.clear();
                header.limit(LogFormat.writeMessageHeader(header, 0, MessageKind.INLINE_LINK, body.length, segment,
                        PID));
                bodySize = body.length;
            }
            int length = header.limit() + body.length;
            int at = chunk.position();
            if (segmentSize - at < LogFormat.RED_ZONE || at + length > segmentSize) {
                writeChunk();
                return append(body);
            }
            chunk.put(header.array(), 0, header.limit()).put(body);
            return at;
        }

        private void writeChunk() throws IOException {
            chunk.flip();
            long at = fileOffset;
            bytes += chunk.remaining();
            while (chunk.hasRemaining()) {
                at += channel.write(chunk, at);
            }
            segment++;
            fileOffset += segmentSize;
            if (fileOffset >= BASELINE_CAP) {
                channel.truncate(0);
                fileOffset = 0;
            }
            startChunk();
        }

        @TearDown(Level.Iteration)
        public void close() throws IOException {
            // Force as the log's close does, so both sides leave the same work (written-back, then freed and
            // discarded blocks) behind, and finish it here, untimed.
            long t0 = System.nanoTime();
            channel.force(true);
            channel.close();
            if (VERBOSE) {
                System.out.printf("%n  [baseline] written=%d MiB; force took %d ms; load %.1f%n", bytes >> 20,
                        (System.nanoTime() - t0) / 1_000_000, loadAverage());
            }
            BenchDirs.delete(dir);
        }
    }

    @Benchmark
    @Threads(1)
    public long log(LogState state, Message message) {
        Reservation r = state.log.reserve(MessageKind.INLINE_LINK, PID, message.body, 0, message.size);
        return r.complete();
    }

    @Benchmark
    @Threads(1)
    public long baseline(BaselineFile file, Message message) throws IOException {
        return file.append(message.body);
    }
}
