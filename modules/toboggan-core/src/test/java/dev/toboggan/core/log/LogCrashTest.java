package dev.toboggan.core.log;

import static dev.toboggan.core.log.LogTestSupport.assertIntact;
import static dev.toboggan.core.log.LogTestSupport.body;
import static dev.toboggan.core.log.LogTestSupport.key;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.SimulatedStorage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Power loss at random moments, with writers running: after reopening, every message made stable is
 * there and intact, nothing never written appears, and the recovered log is a prefix of what was
 * written (no completed message below the recovered tip is missing).
 */
class LogCrashTest {

    @Test
    void powerLossDropsOnlyUnforcedWrites() throws Exception {
        for (int round = 0; round < 12 * LogTestSupport.scale(); round++) {
            crashRound(1000 + round, false);
        }
    }

    @Test
    void hostilePowerLossTearsAndReordersUnforcedWrites() throws Exception {
        for (int round = 0; round < 12 * LogTestSupport.scale(); round++) {
            crashRound(2000 + round, true);
        }
    }

    private void crashRound(long seed, boolean hostile) throws Exception {
        SplittableRandom r = new SplittableRandom(seed);
        SimulatedStorage disk = new SimulatedStorage();
        LogConfig config = LogTestSupport.smallConfig();
        Map<Long, LogTestSupport.Written> everCompleted = new HashMap<>();
        Set<Long> everStable = new HashSet<>();
        int generations = r.nextInt(2, 5);
        for (int gen = 0; gen < generations; gen++) {
            LogTestSupport.Opened opened = LogTestSupport.open(config, disk);
            Log log = opened.log();
            checkRecovered(seed, log, opened.replayed(), everCompleted, everStable);
            List<LogTestSupport.Written> completed = Collections.synchronizedList(new ArrayList<>());
            List<Long> stable = Collections.synchronizedList(new ArrayList<>());
            AtomicBoolean stop = new AtomicBoolean();
            AtomicBoolean powerLost = new AtomicBoolean();
            AtomicReference<Throwable> unexpected = new AtomicReference<>();
            int base = gen * 1_000_000;
            Thread[] writers = new Thread[2];
            for (int t = 0; t < writers.length; t++) {
                int writer = t;
                writers[t] = new Thread(() -> {
                    SplittableRandom wr = new SplittableRandom(seed * 7 + writer);
                    try {
                        for (int seq = base; !stop.get(); seq++) {
                            byte[] b = body(writer, seq, wr.nextInt(100) < 3 ? 2_000 : wr.nextInt(8, 200));
                            Reservation res = log.reserve(MessageKind.INLINE_NODE, writer, b, 0, b.length);
                            if (wr.nextInt(20) == 0) {
                                res.abort();
                                continue;
                            }
                            res.complete();
                            completed.add(new LogTestSupport.Written(res.lsn(), res.pointer(), writer, key(b)));
                            if (wr.nextInt(10) == 0) {
                                log.makeStable(res.lsn());
                                stable.add(res.lsn());
                            }
                        }
                    } catch (RuntimeException e) {
                        // once the disk lost power under the writer its calls fail; before, nothing may
                        if (!powerLost.get()) {
                            unexpected.compareAndSet(null, e);
                        }
                    } catch (Throwable e) {
                        unexpected.compareAndSet(null, e);
                    }
                });
                writers[t].start();
            }
            Thread.sleep(r.nextInt(2, 30));
            powerLost.set(true);
            if (hostile) {
                disk.powerLoss(r);
            } else {
                disk.powerLoss();
            }
            stop.set(true);
            for (Thread w : writers) {
                w.join();
            }
            assertThat(unexpected.get()).as("seed %d, generation %d: a writer failed before the power loss", seed, gen)
                    .isNull();
            LogTestSupport.abandon(log);
            synchronized (completed) {
                completed.forEach(w -> everCompleted.put(w.lsn(), w));
            }
            synchronized (stable) {
                everStable.addAll(stable);
            }
        }
        LogTestSupport.Opened last = LogTestSupport.open(config, disk);
        try (Log log = last.log()) {
            checkRecovered(seed, log, last.replayed(), everCompleted, everStable);
        }
    }

    /**
     * Checks one recovery against everything completed so far, and forgets what did not survive (the
     * next generation may reuse those LSNs).
     */
    private static void checkRecovered(long seed, Log log, List<LogEntry> replayed,
            Map<Long, LogTestSupport.Written> everCompleted, Set<Long> everStable) {
        long tip = log.recoveryReport().tip();
        Set<Long> recovered = new HashSet<>();
        for (LogEntry e : replayed) {
            LogTestSupport.Written w = everCompleted.get(e.lsn());
            assertThat(w).as("seed %d: recovered LSN %d was never completed", seed, e.lsn()).isNotNull();
            LogMessage m = log.read(e.lsn(), e.pointer());
            assertIntact(m.body());
            assertThat(key(m.body())).as("seed %d", seed).isEqualTo(w.key());
            recovered.add(e.lsn());
        }
        for (long lsn : everStable) {
            if (!recovered.contains(lsn)) {
                fail("seed %d: stable LSN %d lost", seed, lsn);
            }
        }
        for (LogTestSupport.Written w : everCompleted.values()) {
            if (w.lsn() < tip && !recovered.contains(w.lsn())) {
                fail("seed %d: hole at LSN %d below the recovered tip %d", seed, w.lsn(), tip);
            }
        }
        everCompleted.keySet().retainAll(recovered);
        everStable.retainAll(recovered);
    }

    @Test
    void crashDuringRecoveryZeroingRecoversAgain() throws Exception {
        SimulatedStorage disk = new SimulatedStorage();
        LogConfig config = LogTestSupport.smallConfig();
        List<LogTestSupport.Written> stable = new ArrayList<>();
        Log log = Log.open(config, disk, Background.NONE, 0, e -> {});
        for (int i = 0; i < 300; i++) {
            byte[] b = body(0, i, 100);
            Reservation res = log.reserve(MessageKind.INLINE_NODE, 3, b, 0, b.length);
            res.complete();
            if (i < 150) {
                stable.add(new LogTestSupport.Written(res.lsn(), res.pointer(), 3, key(b)));
            }
            if (i == 149) {
                log.flush();
            }
            if (i % 20 == 0 && i > 150) {
                log.sealCurrent();
                log.flushWork().doWork(); // written but never forced: the crash keeps a random part
            }
        }
        disk.powerLoss(new SplittableRandom(5));
        LogTestSupport.abandon(log);
        // The next open crashes at its first zeroing write; the one after must still recover.
        disk.failAfter(1, Set.of(SimulatedStorage.Op.WRITE));
        try {
            LogTestSupport.open(config, disk).log().close();
        } catch (RuntimeException expected) {
            // the injected failure during recovery
        }
        disk.clearFaults();
        disk.powerLoss();
        LogTestSupport.Opened again = LogTestSupport.open(config, disk);
        try (Log recovered = again.log()) {
            Set<Long> lsns = new HashSet<>();
            again.replayed().forEach(e -> lsns.add(e.lsn()));
            assertThat(lsns).containsAll(stable.stream().map(LogTestSupport.Written::lsn).toList());
        }
    }
}
