package dev.toboggan.core.log;

import static dev.toboggan.core.log.LogTestSupport.assertIntact;
import static dev.toboggan.core.log.LogTestSupport.body;
import static dev.toboggan.core.log.LogTestSupport.key;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.io.StorageIo;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Concurrent writers of random sizes, blobs and aborts read back exactly what each wrote. */
class LogConcurrencyTest {
    @TempDir Path tmp;

    @Test
    void concurrentWritersOnSimulatedStorage() throws Exception {
        runWriters(new SimulatedStorage(), LogTestSupport.smallConfig(), 4, 2_000 * LogTestSupport.scale(), 11);
    }

    @Test
    void concurrentWritersOnRealFilesWithBackgroundFlusher() throws Exception {
        LogConfig config = LogConfig.defaults(tmp.resolve("store")).withSegmentSize(64 * 1024).withIoBuffers(2)
                .withFlushEvery(Duration.ofMillis(5));
        runWriters(new FileChannelStorage(), config, 2, 3_000 * LogTestSupport.scale(), 12);
    }

    @Test
    void compressedStoreRoundTrips() throws Exception {
        runWriters(new SimulatedStorage(), LogTestSupport.smallConfig().withCompression(true), 2, 500, 13);
    }

    /**
     * Sixteen writers each make their own message stable before the next, with no background flusher: every
     * write and force is run by a waiting caller, and every wake-up comes from another caller. Each must see
     * its message stable, and callers must share forces (group commit) rather than take one each.
     */
    @Test
    void writersWaitingForTheirOwnMessagesShareForcesWithNoBackgroundFlusher() throws Exception {
        SimulatedStorage io = new SimulatedStorage();
        io.slowDown(Duration.ZERO, Duration.ofMillis(1)); // a force long enough for the others to queue behind it
        int threads = 16;
        int perThread = 40 * LogTestSupport.scale();
        List<Long> lsns = Collections.synchronizedList(new ArrayList<>());
        try (Log log = Log.open(LogTestSupport.smallConfig().withSegmentSize(64 * 1024), io, Background.NONE, 0,
                e -> {})) {
            onThreads(threads, writer -> {
                for (int seq = 0; seq < perThread; seq++) {
                    byte[] b = body(writer, seq, 100);
                    Reservation res = log.reserve(MessageKind.INLINE_LINK, writer, b, 0, b.length);
                    res.complete();
                    long tip = log.makeStable(res.lsn());
                    if (tip <= res.lsn() || log.stableTip() <= res.lsn()) {
                        throw new AssertionError("makeStable(" + res.lsn() + ") returned tip " + tip);
                    }
                    lsns.add(res.lsn());
                }
            });
            assertThat(lsns).hasSize(threads * perThread);
            assertThat(log.stats().forces()).as("forces for %d stable messages", lsns.size())
                    .isLessThanOrEqualTo(lsns.size() / 4);
        }
    }

    /** An interrupted waiter gives up with an error (its flag kept) instead of spinning until the force ends. */
    @Test
    void aWaiterInterruptedWhileAnotherForcesGivesUp() throws Exception {
        SimulatedStorage io = new SimulatedStorage();
        try (Log log = Log.open(LogTestSupport.smallConfig().withSegmentSize(64 * 1024), io, Background.NONE, 0,
                e -> {})) {
            byte[] first = body(0, 0, 100);
            Reservation leading = log.reserve(MessageKind.INLINE_LINK, 0, first, 0, first.length);
            leading.complete();
            // the leader's force outlasts the wait below however slowly the threads start: it lasts until lifted
            io.slowDown(Duration.ZERO, Duration.ofMinutes(10));
            AtomicBoolean leaderDone = new AtomicBoolean();
            Thread leader = new Thread(() -> {
                log.makeStable(leading.lsn());
                leaderDone.set(true);
            }, "leader");
            leader.setDaemon(true);
            leader.start();
            while (log.stats().windowsWritten() == 0) { // the leader holds the flush work, in its force
                Thread.onSpinWait();
            }
            byte[] second = body(1, 0, 100);
            Reservation waiting = log.reserve(MessageKind.INLINE_LINK, 1, second, 0, second.length);
            waiting.complete();
            CompletableFuture<Throwable> outcome = new CompletableFuture<>();
            Thread waiter = new Thread(() -> {
                try {
                    log.makeStable(waiting.lsn());
                    outcome.complete(null);
                } catch (Throwable e) {
                    boolean flagKept = Thread.currentThread().isInterrupted();
                    outcome.complete(leaderDone.get() ? new AssertionError("gave up only after the force", e)
                            : flagKept ? e : new AssertionError("interrupt flag lost", e));
                }
            }, "waiter");
            waiter.start();
            while (waiter.getState() != Thread.State.TIMED_WAITING) {
                Thread.onSpinWait();
            }
            waiter.interrupt();

            Throwable result;
            try {
                result = outcome.get(20, TimeUnit.SECONDS);
            } finally {
                io.clearFaults(); // the leader's force ends, so the log can close whatever happened
            }
            assertThat(result).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("interrupted while waiting for the log");
        }
    }

    /**
     * A writer whose interrupt flag is set when its rotation must wait for a free IO buffer finishes the
     * rotation and keeps the flag. Thrown half-way, the rotation left the sealed window without a successor,
     * and every later writer spun on it for ever.
     */
    @Test
    void anInterruptedWriterFinishesTheRotationItBegan() throws Exception {
        SimulatedStorage io = new SimulatedStorage();
        io.slowDown(Duration.ofMillis(1), Duration.ZERO); // a write that sleeps sees the interrupt
        try (Log log = Log.open(LogTestSupport.smallConfig(), io, Background.NONE, 0, e -> {})) {
            AtomicReference<Throwable> failed = new AtomicReference<>();
            AtomicBoolean flagKept = new AtomicBoolean();
            Thread writer = new Thread(() -> {
                Thread.currentThread().interrupt();
                try {
                    // With no background flusher the IO buffers fill, and each rotation runs the flush work itself.
                    for (int seq = 0; seq < 100; seq++) {
                        byte[] b = body(0, seq, 300);
                        log.reserve(MessageKind.INLINE_LINK, 0, b, 0, b.length).complete();
                    }
                } catch (Throwable e) {
                    failed.set(e);
                }
                flagKept.set(Thread.currentThread().isInterrupted());
            }, "interrupted-writer");
            writer.start();
            writer.join();
            assertThat(failed.get()).isNull();
            assertThat(flagKept).isTrue();

            assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                byte[] b = body(1, 0, 100);
                Reservation res = log.reserve(MessageKind.INLINE_LINK, 1, b, 0, b.length);
                res.complete();
                assertThat(log.makeStable(res.lsn())).isGreaterThan(res.lsn());
            });
        }
    }

    private void runWriters(StorageIo io, LogConfig config, int threads, int perThread, long seed) throws Exception {
        System.out.println("LogConcurrencyTest seed " + seed);
        FlushThread flusher = new FlushThread("test-flusher", config.flushEvery());
        Log log = Log.open(config, io, flusher, 0, e -> {});
        flusher.start(log);
        List<LogTestSupport.Written> completed = Collections.synchronizedList(new ArrayList<>());
        Map<Long, Boolean> aborted = new ConcurrentHashMap<>();
        onThreads(threads, writer -> {
            SplittableRandom r = new SplittableRandom(seed * 31 + writer);
            for (int seq = 0; seq < perThread; seq++) {
                int size = r.nextInt(100) < 3 ? r.nextInt(1_000, 9_000) : r.nextInt(8, 300);
                byte[] b = body(writer, seq, size);
                Reservation res = log.reserve(MessageKind.INLINE_LINK, writer, b, 0, b.length);
                if (r.nextInt(100) < 5) {
                    res.abort();
                    aborted.put(key(b), true);
                } else {
                    res.complete();
                    completed.add(new LogTestSupport.Written(res.lsn(), res.pointer(), writer, key(b)));
                }
                if (r.nextInt(200) == 0) {
                    log.makeStable(res.lsn());
                }
            }
        });
        log.flush();
        for (LogTestSupport.Written w : completed) {
            LogMessage m = log.read(w.lsn(), w.pointer());
            assertIntact(m.body());
            assertThat(key(m.body())).isEqualTo(w.key());
        }
        flusher.close();
        log.close();

        LogTestSupport.Opened reopened = LogTestSupport.open(config, io);
        try (Log again = reopened.log()) {
            Map<Long, LogEntry> byLsn = reopened.replayed().stream()
                    .collect(Collectors.toMap(LogEntry::lsn, Function.identity()));
            assertThat(byLsn.keySet()).containsExactlyInAnyOrderElementsOf(
                    completed.stream().map(LogTestSupport.Written::lsn).toList());
            for (LogTestSupport.Written w : completed) {
                LogMessage m = again.read(w.lsn(), byLsn.get(w.lsn()).pointer());
                assertIntact(m.body());
                assertThat(key(m.body())).isEqualTo(w.key());
                assertThat(aborted).doesNotContainKey(key(m.body()));
            }
        }
    }

    /** What one thread of {@link #onThreads} does, given its number. */
    @FunctionalInterface
    private interface Writer {
        void run(int writer) throws Exception;
    }

    /** Runs {@code writer} on {@code threads} threads started together, and fails with the first error any threw. */
    private static void onThreads(int threads, Writer writer) throws InterruptedException {
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> started = new ArrayList<>();
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < threads; t++) {
            int number = t;
            Thread th = new Thread(() -> {
                try {
                    start.await();
                    writer.run(number);
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            th.start();
            started.add(th);
        }
        start.countDown();
        for (Thread th : started) {
            th.join();
        }
        assertThat(errors).isEmpty();
    }
}
