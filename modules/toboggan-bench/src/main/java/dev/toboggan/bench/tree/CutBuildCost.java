package dev.toboggan.bench.tree;

import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import java.nio.file.Path;

/**
 * What a {@link Db#buildTree} that a crash cut short costs the next open, which frees what the build wrote. Two
 * runs of this class, each a JVM of its own: {@code build DIR KEYS CUT} builds tree {@code built} of
 * {@link TreeBenchmark}'s {@code KEYS} random keys, sorted, flushing every 100 000 entries, and halts the JVM
 * (no close, as a kill) once {@code CUT} entries were handed over and flushed (with {@code CUT} at least
 * {@code KEYS}, after the whole build and a flush); {@code open DIR} then opens the store twice and prints each
 * open's time, its trees and its size.
 *
 * <pre>
 * java -Xmx3g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.CutBuildCost build /tmp/cut 1000000 900000
 * java -Xmx3g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.CutBuildCost open /tmp/cut
 * </pre>
 */
public final class CutBuildCost {
    private static final int FLUSH_EVERY = 100_000;

    private CutBuildCost() {}

    public static void main(String[] args) {
        Path dir = Path.of(args[1]);
        if (args[0].equals("build")) {
            build(dir, Integer.parseInt(args[2]), Integer.parseInt(args[3]));
        } else {
            for (int open = 0; open < 2; open++) {
                long start = System.nanoTime();
                try (Db db = Toboggan.open(dir)) {
                    System.out.printf("open %.0f ms: trees %s, %.1f MiB%n", (System.nanoTime() - start) / 1e6,
                            db.treeNames(), db.sizeOnDisk() / 1048576.0);
                }
            }
        }
    }

    private static void build(Path dir, int keys, int cut) {
        byte[][] sorted = TreeBenchmark.sortedKeys(keys);
        Db db = Toboggan.open(dir);
        db.buildTree("built", TreeBenchmark.ascending(sorted, TreeBenchmark.value(), next -> {
            if (next > 0 && next % FLUSH_EVERY == 0) {
                db.flush();
            }
            if (next == cut) {
                db.flush();
                Runtime.getRuntime().halt(0);
            }
        }));
        db.flush();
        Runtime.getRuntime().halt(0);
    }
}
