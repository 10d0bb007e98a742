package dev.toboggan.core.log;

import static dev.toboggan.core.log.LogTestSupport.assertIntact;
import static dev.toboggan.core.log.LogTestSupport.body;
import static dev.toboggan.core.log.LogTestSupport.key;
import static org.assertj.core.api.Assertions.assertThat;

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
import java.util.concurrent.CountDownLatch;
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

    private void runWriters(StorageIo io, LogConfig config, int threads, int perThread, long seed) throws Exception {
        System.out.println("LogConcurrencyTest seed " + seed);
        FlushThread flusher = new FlushThread("test-flusher", config.flushEvery());
        Log log = Log.open(config, io, flusher, 0, e -> {});
        flusher.start(log);
        List<LogTestSupport.Written> completed = Collections.synchronizedList(new ArrayList<>());
        Map<Long, Boolean> aborted = new ConcurrentHashMap<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> writers = new ArrayList<>();
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < threads; t++) {
            int writer = t;
            Thread th = new Thread(() -> {
                SplittableRandom r = new SplittableRandom(seed * 31 + writer);
                try {
                    start.await();
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
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            th.start();
            writers.add(th);
        }
        start.countDown();
        for (Thread th : writers) {
            th.join();
        }
        assertThat(errors).isEmpty();
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
}
