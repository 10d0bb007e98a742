package dev.toboggan.bench.tree;

import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDirs;
import com.sun.management.OperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;

/**
 * {@link TreeBenchmark}'s workload (1 M random 16-byte keys, 100-byte values, default settings, {@code fsync})
 * measured in operations per second of CPU time of the threads that ran them, for a machine too busy for
 * JMH's wall-clock figures: when other processes keep both cores busy, a thread waits for a core most of
 * the time and the wall clock measures the machine, while its CPU time still measures the operation (its
 * cache misses included, so a busy shared cache still shows). Wall-clock rates are printed next to them, and
 * rates per CPU second of the whole process: the workers and what they cause on other threads (the
 * eviction work their reads ask for, GC, JIT), but also whatever the store still does in the background
 * (the segment cleaner catching up after the load), so compare those only between runs alike.
 *
 * <pre>
 * java -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.TreeCpuCost [rounds]
 * </pre>
 *
 * Per round: gets on one thread, gets on two threads, 95 % gets / 5 % overwrites on two threads (2 M
 * operations per thread each). The load is measured once, in the writer thread's CPU time (which leaves
 * out the time it spent parked, e.g. in the segment cleaner's backpressure) and in wall time (which
 * includes it), and with the CPU the whole process spent per insert and the share of it that the store's
 * background threads (the {@code toboggan-*} threads: segment cleaner, flusher, evictor, snapshotter) took:
 * two cores can load at most 2 / (process CPU per insert). Run with a fixed heap ({@code -Xms} = {@code -Xmx},
 * e.g. 3g, with {@code -XX:+AlwaysPreTouch}): a growing heap charges its expansions to the garbage
 * collector's pauses during the load (200 ms each with transparent huge pages).
 */
public final class TreeCpuCost {
    private static final int OPS = 2_000_000;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    /** For the CPU time of the whole process: the workers and what they cause elsewhere (eviction work, GC, JIT). */
    private static final OperatingSystemMXBean PROCESS =
            ManagementFactory.getPlatformMXBean(OperatingSystemMXBean.class);
    /** Where the workers leave the lengths of what they read, so that the reads cannot be optimized away. */
    private static volatile long consumed;

    private TreeCpuCost() {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        byte[][] keys = TreeBenchmark.keys();
        byte[] value = TreeBenchmark.value();
        Path dir = BenchDirs.create("tree-cpu");
        try (Db db = Toboggan.open(TreeBenchmark.config(dir, "fsync", "4KiB"))) {
            TreeLoadCost.Cost cost = TreeLoadCost.load(db, keys, value);
            db.flush();
            System.out.printf("load: %s; space amplification %.2f (right after the load; TreeLoadCost follows it "
                    + "while the store settles)%n", cost,
                    (double) db.sizeOnDisk() / ((long) keys.length * (keys[0].length + value.length)));
            for (int round = 1; round <= rounds; round++) {
                report(round, "get 1 thread", run(db, keys, value, 1, 0));
                report(round, "get 2 threads", run(db, keys, value, 2, 0));
                report(round, "mixed 2 threads", run(db, keys, value, 2, 5));
            }
        } finally {
            BenchDirs.delete(dir);
        }
    }

    private static void report(int round, String what, double[] rates) {
        System.out.printf("round %d %s: %,.0f ops per thread CPU second, %,.0f ops per process CPU second, "
                + "%,.0f ops per wall second (all threads)%n", round, what, rates[0], rates[2], rates[1]);
    }

    /**
     * Runs {@code threads} threads of {@link #OPS} operations; returns {ops per thread-CPU second, ops per wall
     * second, ops per process-CPU second}.
     */
    private static double[] run(Db db, byte[][] keys, byte[] value, int threads, int writePercent) throws Exception {
        long[] cpu = new long[threads];
        CountDownLatch start = new CountDownLatch(1);
        Thread[] workers = new Thread[threads];
        for (int t = 0; t < threads; t++) {
            int id = t;
            workers[t] = new Thread(() -> {
                SplittableRandom random = new SplittableRandom(id);
                try {
                    start.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                long begin = THREADS.getCurrentThreadCpuTime();
                long sink = 0;
                for (int i = 0; i < OPS; i++) {
                    byte[] key = keys[random.nextInt(keys.length)];
                    if (writePercent > 0 && random.nextInt(100) < writePercent) {
                        db.insert(key, value);
                    } else {
                        sink += db.get(key).length;
                    }
                }
                cpu[id] = THREADS.getCurrentThreadCpuTime() - begin;
                consumed += sink;
            });
            workers[t].start();
        }
        long wall = System.nanoTime();
        long process = PROCESS.getProcessCpuTime();
        start.countDown();
        for (Thread worker : workers) {
            worker.join();
        }
        wall = System.nanoTime() - wall;
        process = PROCESS.getProcessCpuTime() - process;
        long totalCpu = 0;
        for (long c : cpu) {
            totalCpu += c;
        }
        return new double[] {(double) OPS * threads * 1e9 / totalCpu, (double) OPS * threads * 1e9 / wall,
            (double) OPS * threads * 1e9 / process};
    }
}
