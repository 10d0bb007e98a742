package dev.toboggan.bench.tree;

import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.core.pagecache.PageCacheMetrics;
import java.nio.file.Path;

/**
 * What a build's fill ({@link Db#buildTree(String, java.util.Iterator, double)}) buys the inserts that follow it:
 * {@code rounds} times, for each fill in turn, {@link TreeBenchmark}'s {@code keys} random 16-byte keys with
 * 100-byte values built into the default tree of a new store and flushed, then {@code inserts} new random keys
 * (spread over the same key space, so among the built entries) inserted one by one and flushed. Per build: its
 * size on disk, then the inserts per second, the pages they allocated (a leaf split allocates one) and the size on
 * disk after them.
 *
 * <pre>
 * java -Xms3g -Xmx3g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.BuildFillCost \
 *     [keys (1000000)] [inserts (100000)] [rounds (3)] [fills (1,0.7)]
 * </pre>
 */
public final class BuildFillCost {
    private BuildFillCost() {}

    public static void main(String[] args) throws Exception {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int inserts = args.length > 1 ? Integer.parseInt(args[1]) : 100_000;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        String[] fills = (args.length > 3 ? args[3] : "1,0.7").split(",");
        byte[][] sorted = TreeBenchmark.sortedKeys(keys);
        byte[] value = TreeBenchmark.value();
        byte[] key = new byte[TreeBenchmark.KEY_SIZE];
        for (int round = 0; round < rounds; round++) {
            for (String f : fills) {
                double fill = Double.parseDouble(f);
                Path dir = BenchDirs.create("build-fill-cost");
                try (Db db = Toboggan.open(dir)) {
                    db.buildTree(Db.DEFAULT_TREE, TreeBenchmark.ascending(sorted, value, i -> { }), fill);
                    db.flush();
                    long built = db.sizeOnDisk();
                    long allocated = allocations(db);
                    long start = System.nanoTime();
                    for (int i = keys; i < keys + inserts; i++) {
                        TreeBenchmark.key(i, key);
                        db.insert(key, value);
                    }
                    db.flush();
                    double seconds = (System.nanoTime() - start) / 1e9;
                    System.out.printf("fill %.2f: built %.1f MiB; %d inserts among its entries at %.0f k/s, %d pages "
                            + "allocated, then %.1f MiB%n", fill, built / 1048576.0, inserts, inserts / seconds / 1000,
                            allocations(db) - allocated, db.sizeOnDisk() / 1048576.0);
                } finally {
                    BenchDirs.delete(dir);
                }
            }
        }
    }

    private static long allocations(Db db) {
        return db.metrics().pageCache().get(PageCacheMetrics.Op.ALLOCATE).count();
    }
}
