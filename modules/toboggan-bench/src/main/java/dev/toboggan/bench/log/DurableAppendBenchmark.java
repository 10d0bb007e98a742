package dev.toboggan.bench.log;

import dev.toboggan.bench.BenchDefaults;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.core.Background;
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
import java.util.SplittableRandom;
import java.util.concurrent.atomic.LongAdder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * Issue 2, targets 2 and 3: durable appends of 100-byte messages.
 *
 * <ul>
 *   <li>{@link #log1Writer}: one thread: {@code reserve} + {@code complete}, then {@code log.flush()}, per op.
 *       Target: &ge; 0.8 &times; {@link #baseline}.
 *   <li>{@link #log16Writers}: the same with 16 threads on one log: concurrent {@code flush} callers share
 *       one fsync (group commit). Target: &ge; 5 &times; {@link #log1Writer}.
 *   <li>{@link #baseline}: one thread: the same message bytes (the log's header for it, then the body)
 *       copied into a direct buffer, one positional {@code FileChannel.write} at the end of the file, then
 *       {@code force(false)} (fdatasync).
 * </ul>
 * The log's parameter {@code background}: {@code none} ({@link Background#NONE}: the caller of
 * {@code flush} runs the flush work) or {@code thread} (a {@link FlushThread} as well, racing the callers
 * for the work, as an embedding would run it).
 */
public class DurableAppendBenchmark extends BenchDefaults {
    static final int BODY_SIZE = 100;
    static final long PID = 1234;
    /** The baseline starts its file again after this many bytes (never reached at fsync rates). */
    static final long BASELINE_CAP = 512L << 20;

    static byte[] body() {
        byte[] body = new byte[BODY_SIZE];
        new SplittableRandom(BODY_SIZE).nextBytes(body);
        return body;
    }

    /** One log shared by all the benchmark's threads, for the whole trial. */
    @State(Scope.Benchmark)
    public static class LogState {
        @Param({"none", "thread"})
        public String background;

        final byte[] body = body();
        /** Messages appended, for the verbose report (negligible next to an fsync per op). */
        final LongAdder appended = new LongAdder();
        Path dir;
        FlushThread flusher;
        Log log;

        @Setup(Level.Trial)
        public void open() {
            dir = BenchDirs.create("durable-log");
            LogConfig config = LogConfig.defaults(dir);
            flusher = "thread".equals(background) ? new FlushThread("bench-flusher", config.flushEvery()) : null;
            log = Log.open(config, new FileChannelStorage(), flusher != null ? flusher : Background.NONE, 0, e -> {});
            if (flusher != null) {
                flusher.start(log);
            }
        }

        @TearDown(Level.Iteration)
        public void report() {
            if (VERBOSE) {
                LogStats s = log.stats();
                long messages = appended.sum();
                System.out.printf("%n  [log background=%s] so far: messages=%d forces=%d (%.2f messages per force) "
                        + "windows=%d (%.2f per force); load %.1f%n", background, messages, s.forces(),
                        (double) messages / Math.max(1, s.forces()), s.windowsWritten(),
                        (double) s.windowsWritten() / Math.max(1, s.forces()), loadAverage());
            }
        }

        @TearDown(Level.Trial)
        public void close() {
            if (flusher != null) {
                flusher.close();
            }
            log.close();
            BenchDirs.delete(dir);
        }
    }

    /** The baseline's file, appended to one message at a time. */
    @State(Scope.Thread)
    public static class BaselineFile {
        final byte[] body = body();
        Path dir;
        FileChannel channel;
        ByteBuffer message;
        long end;

        @Setup(Level.Trial)
        public void open() throws IOException {
            dir = BenchDirs.create("durable-baseline");
            channel = FileChannel.open(dir.resolve("log"), StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            ByteBuffer header = LogFormat.le(ByteBuffer.allocate(LogFormat.MAX_MESSAGE_HEADER_LENGTH));
            int headerLength = LogFormat.writeMessageHeader(header, 0, MessageKind.INLINE_LINK, BODY_SIZE, 0, PID);
            message = LogFormat.le(ByteBuffer.allocateDirect(headerLength + BODY_SIZE));
            message.put(header.array(), 0, headerLength);
            end = 0;
        }

        long appendAndSync() throws IOException {
            message.clear();
            message.position(message.capacity() - BODY_SIZE);
            message.put(body);
            message.flip();
            long at = end;
            while (message.hasRemaining()) {
                end += channel.write(message, end);
            }
            channel.force(false);
            if (end >= BASELINE_CAP) {
                channel.truncate(0);
                end = 0;
            }
            return at;
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            channel.close();
            BenchDirs.delete(dir);
        }
    }

    private static long appendAndFlush(LogState state) {
        Reservation r = state.log.reserve(MessageKind.INLINE_LINK, PID, state.body, 0, BODY_SIZE);
        long lsn = r.complete();
        state.log.flush();
        state.appended.increment();
        return lsn;
    }

    @Benchmark
    @Threads(1)
    public long log1Writer(LogState state) {
        return appendAndFlush(state);
    }

    @Benchmark
    @Threads(16)
    public long log16Writers(LogState state) {
        return appendAndFlush(state);
    }

    @Benchmark
    @Threads(1)
    public long baseline(BaselineFile file) throws IOException {
        return file.appendAndSync();
    }
}
