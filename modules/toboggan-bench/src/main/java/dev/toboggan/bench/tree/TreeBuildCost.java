package dev.toboggan.bench.tree;

import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDirs;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;

/**
 * What a {@link Db#buildTree} costs: {@code rounds} times, {@link TreeBenchmark}'s {@code keys} random 16-byte keys
 * (sorted once, before the first round) with 100-byte values built into the default tree of a new store and
 * flushed; per round the wall clock, the building thread's CPU time and the collectors' time in it. The
 * building thread's CPU is the figure to compare builds by: the wall clock also holds the young collections that
 * copy the leaves the cache keeps, which vary several times from one round to the next.
 *
 * <pre>
 * java -Xms3g -Xmx3g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.TreeBuildCost \
 *     [keys (1000000)] [rounds (10)]
 * </pre>
 */
public final class TreeBuildCost {
    private TreeBuildCost() {}

    public static void main(String[] args) throws Exception {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        byte[][] sorted = TreeBenchmark.sortedKeys(keys);
        byte[] value = TreeBenchmark.value();
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        for (int round = 0; round < rounds; round++) {
            Path dir = BenchDirs.create("tree-build-cost");
            try (Db db = Toboggan.open(dir)) {
                long gc = collectorMillis();
                long cpu = threads.getCurrentThreadCpuTime();
                long start = System.nanoTime();
                db.buildTree(Db.DEFAULT_TREE, TreeBenchmark.ascending(sorted, value, i -> { }));
                db.flush();
                double ms = (System.nanoTime() - start) / 1e6;
                System.out.printf("round %d: %.0f ms (%.0f k entries/s), building thread's CPU %.0f ms, collectors %d ms, "
                        + "store %.1f MiB%n", round, ms, keys / ms, (threads.getCurrentThreadCpuTime() - cpu) / 1e6,
                        collectorMillis() - gc, db.sizeOnDisk() / 1048576.0);
            } finally {
                BenchDirs.delete(dir);
            }
        }
    }

    private static long collectorMillis() {
        long total = 0;
        for (GarbageCollectorMXBean collector : ManagementFactory.getGarbageCollectorMXBeans()) {
            total += collector.getCollectionTime();
        }
        return total;
    }
}
