package dev.toboggan.bench.tree;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDirs;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * What the segment cleaner's three steps cost on their own, on issue 8's 1 M-key tree: a scan of the page
 * table, a rewrite of a page, and a snapshot. A load's wall clock and CPU follow how many pages a run's
 * cleaner chooses to rewrite (±20 % between runs of one build), which hides changes to the cost of each step;
 * these are measured on the calling thread's CPU clock, one step at a time, on a store that stays put.
 *
 * <pre>
 * java -Xms3g -Xmx3g -XX:+AlwaysPreTouch -cp modules/toboggan-bench/target/benchmarks.jar \
 *     dev.toboggan.bench.tree.CleanerCost [overwrites=1000000] [rounds=20]
 * </pre>
 *
 * The store is loaded with {@code max-space-amplification = 3.0}, so that the background cleaner leaves the
 * pages' deltas alone, then {@code overwrites} random keys are written again: every page then has fragments
 * in several segments, as during a load. Prints the median CPU of a scan ({@code liveBytesBySegment()}: one
 * pass over the table, with 64 MiB touched before each so the table is not in cache), of rewriting every page
 * once ({@code PageCache.rewrite}, per page), and of a snapshot after 60 000 more overwrites. The page cache is
 * reached through the store's package-private accessors (reflection), so the class runs against any build's
 * jar put after it on the class path: base and new builds are compared with the same driver.
 */
public final class CleanerCost {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private CleanerCost() {}

    public static void main(String[] args) throws Exception {
        int overwrites = 1_000_000;
        int rounds = 20;
        for (String arg : args) {
            if (arg.startsWith("overwrites=")) {
                overwrites = Integer.parseInt(arg.substring("overwrites=".length()));
            } else if (arg.startsWith("rounds=")) {
                rounds = Integer.parseInt(arg.substring("rounds=".length()));
            } else {
                throw new IllegalArgumentException("arguments are overwrites=N and rounds=N, got '" + arg + "'");
            }
        }
        if (rounds < 4) {
            throw new IllegalArgumentException("rounds must be at least 4 (the first 3 warm up), was " + rounds);
        }
        byte[][] keys = TreeBenchmark.keys();
        byte[] value = TreeBenchmark.value();
        SplittableRandom random = new SplittableRandom(1);
        Path dir = BenchDirs.create("cleaner-cost");
        try (Db db = Toboggan.open(ConfigFactory.parseMap(Map.of("toboggan.max-space-amplification", "3.0"))
                .withFallback(TreeBenchmark.config(dir, "fsync", "4KiB")))) {
            for (byte[] key : keys) {
                db.insert(key, value);
            }
            for (int i = 0; i < overwrites; i++) {
                db.insert(keys[random.nextInt(keys.length)], value);
            }
            db.flush();
            Thread.sleep(3_000); // the compaction at rest, if any, runs now rather than during the rounds
            Method pageCache = db.getClass().getDeclaredMethod("pageCache");
            pageCache.setAccessible(true);
            Object cache = pageCache.invoke(db);
            Object cleaning = cache.getClass().getMethod("cleaning").invoke(cache);
            Method scan = cleaning.getClass().getMethod("liveBytesBySegment");
            Method nextPid = cache.getClass().getDeclaredMethod("nextPid");
            nextPid.setAccessible(true);
            Method rewrite = cache.getClass().getMethod("rewrite", long.class);
            Method snapshots = cache.getClass().getDeclaredMethod("snapshots");
            snapshots.setAccessible(true);
            Object snapshotWriter = snapshots.invoke(cache);
            Method takeSnapshot = snapshotWriter.getClass().getMethod("takeSnapshot");

            byte[] evict = new byte[64 << 20];
            List<Double> scanMs = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                for (int i = 0; i < evict.length; i += 64) {
                    evict[i]++;
                }
                long cpu = THREADS.getCurrentThreadCpuTime();
                scan.invoke(cleaning);
                scanMs.add((THREADS.getCurrentThreadCpuTime() - cpu) / 1e6);
            }
            long pages = (long) nextPid.invoke(cache);
            System.out.printf("scan of %,d pages: median %.2f ms of CPU%n", pages, median(scanMs));

            List<Double> rewriteUs = new ArrayList<>();
            for (int r = 0; r < Math.min(rounds, 8); r++) {
                long cpu = THREADS.getCurrentThreadCpuTime();
                for (long pid = 0; pid < pages; pid++) {
                    rewrite.invoke(cache, pid);
                }
                rewriteUs.add((THREADS.getCurrentThreadCpuTime() - cpu) / 1e3 / pages);
                db.flush();
                Thread.sleep(1_500); // the background cleaner frees what the round left behind
            }
            System.out.printf("rewrite of every page: median %.2f us of CPU per page%n", median(rewriteUs));

            List<Double> snapshotMs = new ArrayList<>();
            for (int r = 0; r < rounds; r++) {
                for (int i = 0; i < 60_000; i++) {
                    db.insert(keys[random.nextInt(keys.length)], value);
                }
                db.flush();
                long cpu = THREADS.getCurrentThreadCpuTime();
                takeSnapshot.invoke(snapshotWriter);
                snapshotMs.add((THREADS.getCurrentThreadCpuTime() - cpu) / 1e6);
            }
            System.out.printf("snapshot after 60,000 overwrites: median %.2f ms of CPU%n", median(snapshotMs));
        } finally {
            BenchDirs.delete(dir);
        }
    }

    /** The median of the values after the first three rounds (the JIT's). */
    private static double median(List<Double> values) {
        List<Double> measured = new ArrayList<>(values.subList(Math.min(3, values.size() - 1), values.size()));
        Collections.sort(measured);
        return measured.get(measured.size() / 2);
    }
}
