package dev.toboggan.bench.tree;

import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.bench.RandomOrder;
import com.sun.management.OperatingSystemMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/**
 * A store most of whose keys are removed at random, as expiry or a cleanup job leaves one: {@code keys} of
 * {@link TreeBenchmark}'s random 16-byte keys with 100-byte values, then all but one in {@code keep}
 * removed in random order. Prints the removes' rate and CPU (the removing thread's, and the process's
 * until their flush returned), then for what is left: a full scan's time, the mean time of random gets of
 * the keys left, the store's size on disk after a flush and after 3 quiet seconds, and the Java heap in
 * use after a full collection (the tree's pages are all resident). Without
 * merges of underfull leaves, the removes leave the leaves a {@code keep}-th full and each still a page:
 * a scan steps through all of them, and the heap holds all of them. With {@code readers}, that many threads
 * read random keys (present or removed) while the removes run, and their rate and longest get are printed:
 * merges take the exclusive side, which readers wait for.
 *
 * <pre>
 * java -Xmx3g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.TreeSparse \
 *     [keys (1000000)] [keep (10)] [readers (0)]
 * </pre>
 *
 * Uses only the public API, so the same class runs against an older build: put that build's jar first on
 * the class path and this one after it (its store classes win, this class is found in the second).
 */
public final class TreeSparse {
    private static final int SCANS = 5;
    private static final int GETS = 1_000_000;
    private static final OperatingSystemMXBean PROCESS =
            ManagementFactory.getPlatformMXBean(OperatingSystemMXBean.class);

    private TreeSparse() {}

    public static void main(String[] args) throws Exception {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int keep = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        int readers = args.length > 2 ? Integer.parseInt(args[2]) : 0;
        byte[] value = TreeBenchmark.value();
        Path dir = BenchDirs.create("toboggan-bench-tree-sparse");
        try (Db db = Toboggan.open(dir)) {
            int[] order = RandomOrder.of(keys, 42);
            byte[] key = new byte[TreeBenchmark.KEY_SIZE];
            for (int i = 0; i < keys; i++) {
                TreeBenchmark.key(i, key);
                db.insert(key.clone(), value);
            }
            db.flush();
            report(db, "loaded", keys, 0, order, keys);
            Readers reading = new Readers(db, keys, readers);
            long t0 = System.nanoTime();
            long cpu0 = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
            long process0 = PROCESS.getProcessCpuTime();
            int left = 0;
            for (int i = 0; i < keys; i++) {
                if (i % keep == 0) {
                    order[left++] = order[i];
                    continue;
                }
                TreeBenchmark.key(order[i], key);
                if (db.remove(key) == null) {
                    throw new AssertionError("key " + order[i] + " was not there to remove");
                }
            }
            long removeNanos = System.nanoTime() - t0;
            reading.stop(removeNanos);
            long removeCpu = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime() - cpu0;
            db.flush();
            long processCpu = PROCESS.getProcessCpuTime() - process0;
            System.out.printf("removes: %.2f us of the remover's CPU each, %.2f us of the process's (to their flush)%n",
                    removeCpu / 1e3 / (keys - left), processCpu / 1e3 / (keys - left));
            report(db, "after the removes", left, removeNanos, order, keys - left);
            Thread.sleep(3000);
            System.out.printf("after 3 s quiet: on disk %.1f MiB%n", db.sizeOnDisk() / 1048576.0);
        } finally {
            BenchDirs.delete(dir);
        }
    }

    /** Threads reading random keys (present or removed) while the removes run. */
    private static final class Readers {
        private final List<Thread> threads = new ArrayList<>();
        private final LongAdder gets = new LongAdder();
        private final LongAccumulator longest = new LongAccumulator(Math::max, 0);
        private volatile boolean running = true;

        Readers(Db db, int keys, int count) {
            for (int t = 0; t < count; t++) {
                SplittableRandom random = new SplittableRandom(100 + t);
                Thread thread = new Thread(() -> {
                    byte[] key = new byte[TreeBenchmark.KEY_SIZE];
                    while (running) {
                        TreeBenchmark.key(random.nextInt(keys), key);
                        long t0 = System.nanoTime();
                        db.get(key);
                        longest.accumulate(System.nanoTime() - t0);
                        gets.increment();
                    }
                }, "reader-" + t);
                thread.start();
                threads.add(thread);
            }
        }

        void stop(long nanos) throws InterruptedException {
            running = false;
            for (Thread thread : threads) {
                thread.join();
            }
            if (!threads.isEmpty()) {
                System.out.printf("readers during the removes: %d threads, %.0f k gets/s, longest get %.2f ms%n",
                        threads.size(), gets.sum() / (nanos / 1e9) / 1e3, longest.get() / 1e6);
            }
        }
    }

    private static void report(Db db, String when, int held, long removeNanos, int[] order, int removed) {
        long scanned = 0;
        long best = Long.MAX_VALUE;
        for (int s = 0; s < SCANS; s++) {
            long t0 = System.nanoTime();
            long n = 0;
            for (Iterator<Map.Entry<byte[], byte[]>> it = db.iterator(); it.hasNext(); it.next()) {
                n++;
            }
            best = Math.min(best, System.nanoTime() - t0);
            scanned = n;
        }
        if (scanned != held) {
            throw new AssertionError("a scan found " + scanned + " keys, expected " + held);
        }
        SplittableRandom random = new SplittableRandom(7);
        byte[] key = new byte[TreeBenchmark.KEY_SIZE];
        long t0 = System.nanoTime();
        for (int i = 0; i < GETS; i++) {
            TreeBenchmark.key(order[random.nextInt(held)], key);
            if (db.get(key) == null) {
                throw new AssertionError("a key left is missing");
            }
        }
        double getNanos = (System.nanoTime() - t0) / (double) GETS;
        System.gc();
        Runtime rt = Runtime.getRuntime();
        System.out.printf("%s: %d keys%s; scan %.1f ms (best of %d), get %.0f ns, on disk %.1f MiB, heap %.0f MiB%n",
                when, held, removeNanos > 0 ? String.format(", %d removes at %.0f k/s", removed,
                        removed / (removeNanos / 1e9) / 1e3) : "",
                best / 1e6, SCANS, getNanos, db.sizeOnDisk() / 1048576.0,
                (rt.totalMemory() - rt.freeMemory()) / 1048576.0);
    }
}
