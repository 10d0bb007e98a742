package dev.toboggan.cli;

import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.log.FlushThread;
import dev.toboggan.core.log.Log;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.log.LogEntry;
import dev.toboggan.core.log.LogMessage;
import dev.toboggan.core.log.LogStats;
import dev.toboggan.core.log.MessageKind;
import dev.toboggan.core.log.Reservation;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code toboggan stress}, on the log until the tree exists: several writers append
 * self-checking messages (some large enough to become blobs) for a while, some of them waiting for
 * durability; then the log is closed, reopened, and every message is read back and checked. Prints
 * progress every second, the recovery report and the speeds; exits 1 if anything read back is wrong.
 */
@Command(name = "stress", mixinStandardHelpOptions = true,
        description = "Writes to a store from several threads, reopens it and checks every byte read back.")
public final class StressCommand implements Callable<Integer> {
    @Option(names = "--threads", description = "writer threads (default: ${DEFAULT-VALUE})")
    int threads = 2;

    @Option(names = "--seconds", description = "how long to write (default: ${DEFAULT-VALUE})")
    int seconds = 5;

    @Option(names = "--value-len", description = "message body bytes, at least 16 (default: ${DEFAULT-VALUE})")
    int valueLength = 100;

    @Option(names = "--flush-every-ms", description = "periodic flush interval (default: ${DEFAULT-VALUE})")
    int flushEveryMs = 500;

    @Option(names = "--durable-percent",
            description = "share of writes that wait until they are durable, 0-100 (default: ${DEFAULT-VALUE})")
    int durablePercent = 1;

    @Option(names = "--path", description = "store directory (default: a temporary directory, deleted afterwards)")
    Path path;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        requireAtLeast("--threads", threads, 1);
        requireAtLeast("--seconds", seconds, 1);
        requireAtLeast("--value-len", valueLength, 16);
        requireAtLeast("--flush-every-ms", flushEveryMs, 1);
        if (durablePercent < 0 || durablePercent > 100) {
            throw new ParameterException(spec.commandLine(), "--durable-percent must be from 0 to 100, was "
                    + durablePercent);
        }
        return run(spec.commandLine().getOut()) ? 0 : 1;
    }

    private void requireAtLeast(String option, int value, int min) {
        if (value < min) {
            throw new ParameterException(spec.commandLine(), option + " must be at least " + min + ", was " + value);
        }
    }

    boolean run(PrintWriter out) throws Exception {
        boolean temporary = path == null;
        Path dir = temporary ? Files.createTempDirectory("toboggan-stress-") : path;
        try {
            LogConfig config = LogConfig.defaults(dir).withFlushEvery(Duration.ofMillis(flushEveryMs));
            out.printf("toboggan stress (log): %d threads, %d s, %d-byte messages, %d%% durable, store %s%n", threads,
                    seconds, valueLength, durablePercent, dir);
            long[] written = write(config, out);
            return verify(config, written, out);
        } finally {
            if (temporary) {
                deleteRecursively(dir);
            }
        }
    }

    /** @return messages written per writer */
    private long[] write(LogConfig config, PrintWriter out) throws InterruptedException {
        FlushThread flusher = new FlushThread("toboggan-flusher", config.flushEvery());
        Log log = Log.open(config, new FileChannelStorage(), flusher, 0, e -> {});
        flusher.start(log);
        long[] counts = new long[threads];
        LongAdder ops = new LongAdder();
        LongAdder bytes = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> writers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int writer = t;
            Thread th = new Thread(() -> {
                SplittableRandom r = new SplittableRandom(writer);
                int seq = 0;
                while (!stop.get()) {
                    int len = r.nextInt(1000) == 0 ? 3 << 20 : valueLength;
                    byte[] body = body(writer, seq, len);
                    Reservation res = log.reserve(MessageKind.INLINE_NODE, writer + 2, body, 0, body.length);
                    res.complete();
                    if (r.nextInt(100) < durablePercent) {
                        log.makeStable(res.lsn());
                    }
                    seq++;
                    ops.increment();
                    bytes.add(len);
                }
                counts[writer] = seq;
            }, "writer-" + t);
            th.start();
            writers.add(th);
        }
        long start = System.nanoTime();
        long lastOps = 0;
        for (int s = 1; s <= seconds; s++) {
            Thread.sleep(1000);
            long now = ops.sum();
            LogStats stats = log.stats();
            out.printf("  %2d s  %,10d msgs/s  %,8.1f MiB written  %,6d fsyncs  stable tip %,d%n", s, now - lastOps,
                    stats.bytesWritten() / 1048576.0, stats.forces(), stats.stableTip());
            lastOps = now;
        }
        stop.set(true);
        for (Thread th : writers) {
            th.join();
        }
        long closeStart = System.nanoTime();
        flusher.close();
        log.close();
        double secondsRun = (closeStart - start) / 1e9;
        out.printf("wrote %,d messages (%,.1f MiB) in %.1f s: %,.0f msgs/s, %,.1f MiB/s; close (final flush) %.1f ms%n",
                ops.sum(), bytes.sum() / 1048576.0, secondsRun, ops.sum() / secondsRun,
                bytes.sum() / 1048576.0 / secondsRun, (System.nanoTime() - closeStart) / 1e6);
        return counts;
    }

    private boolean verify(LogConfig config, long[] written, PrintWriter out) {
        List<LogEntry> replayed = new ArrayList<>();
        long openStart = System.nanoTime();
        try (Log log = Log.open(config, new FileChannelStorage(), dev.toboggan.core.Background.NONE, 0, replayed::add)) {
            double openMs = (System.nanoTime() - openStart) / 1e6;
            out.printf("reopened in %.1f ms: %s%n", openMs, log.recoveryReport());
            long[] next = new long[written.length];
            long wrong = 0;
            long readStart = System.nanoTime();
            for (LogEntry e : replayed) {
                LogMessage m = log.read(e.lsn(), e.pointer());
                ByteBuffer bb = ByteBuffer.wrap(m.body()).order(ByteOrder.LITTLE_ENDIAN);
                int writer = bb.getInt(0);
                int seq = bb.getInt(4);
                boolean ok = writer >= 0 && writer < written.length && seq == next[writer]
                        && Arrays.equals(m.body(), body(writer, seq, m.body().length));
                if (!ok) {
                    wrong++;
                    if (wrong <= 5) {
                        out.printf("WRONG: message at LSN %d reads back as writer %d seq %d%n", e.lsn(), writer, seq);
                    }
                } else {
                    next[writer]++;
                }
            }
            double readS = (System.nanoTime() - readStart) / 1e9;
            long missing = 0;
            for (int w = 0; w < written.length; w++) {
                missing += written[w] - next[w];
            }
            out.printf("read back %,d messages in %.1f s (%,.0f reads/s): %d wrong, %d missing%n", replayed.size(), readS,
                    replayed.size() / Math.max(readS, 1e-9), wrong, missing);
            boolean clean = wrong == 0 && missing == 0;
            out.println(clean ? "OK: everything written was recovered intact" : "FAILED: the log lost or damaged data");
            return clean;
        }
    }

    private static byte[] body(int writer, int seq, int length) {
        byte[] b = new byte[length];
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        bb.putInt(0, writer).putInt(4, seq);
        long x = ((long) writer << 32) ^ seq ^ 0x9E37_79B9_7F4A_7C15L;
        for (int i = 8; i < length; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            b[i] = (byte) x;
        }
        return b;
    }

    private static void deleteRecursively(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
