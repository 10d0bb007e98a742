package dev.toboggan.bench.tree;

import dev.toboggan.Batch;
import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.Tree;
import dev.toboggan.bench.BenchDirs;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * What emptying a tree costs, and what it costs the store's readers: {@code rounds} times, a tree of
 * {@link TreeBenchmark}'s {@code keys} random 16-byte keys with 100-byte values (built with {@link Db#buildTree})
 * beside a default tree of 100 000 entries that a reader thread gets at random from and a tree a writer thread
 * inserts into, then the tree emptied and
 * the store flushed, each way in turn: {@link Tree#clear} on the tree as built (its nodes cached), {@link Tree#clear}
 * after a reopen (every node read from the disk), {@link Db#dropTree}, and removing every key in batches of
 * 10 000 (what a caller without {@code clear} would do; not atomic). Per way: the wall clock, the reader's gets
 * meanwhile and its longest one (a clear or a drop holds the tree's own readers while it frees its pages), and
 * the writer's inserts and its longest one (a clear or a drop holds every writer of the store for its structure
 * change; its frees run beside them). Right after the build the segment cleaner is behind and paces that writer
 * ({@code SpaceGate}); {@code -Dtoboggan.max-space-amplification=10} keeps the gate out of its figures.
 *
 * <pre>
 * java -Xms3g -Xmx3g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.ClearCost \
 *     [keys (1000000)] [rounds (3)]
 * </pre>
 */
public final class ClearCost {
    private static final int READER_KEYS = 100_000;
    private static final int REMOVES_PER_BATCH = 10_000;

    private ClearCost() {}

    public static void main(String[] args) throws Exception {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        byte[][] sorted = TreeBenchmark.sortedKeys(keys);
        byte[] value = TreeBenchmark.value();
        String[] ways = {"clear", "clear after reopen", "dropTree", "remove in batches"};
        for (int round = 0; round < rounds; round++) {
            for (String way : ways) {
                Path dir = BenchDirs.create("clear-cost");
                try {
                    try (Db db = Toboggan.open(dir)) {
                        db.buildTree("t", TreeBenchmark.ascending(sorted, value, i -> { }));
                        for (int i = 0; i < READER_KEYS; i++) {
                            db.insert(key(i), value);
                        }
                        db.flush();
                        if (!way.equals("clear after reopen")) {
                            measure(db, way, sorted);
                        }
                    }
                    if (way.equals("clear after reopen")) {
                        try (Db db = Toboggan.open(dir)) {
                            measure(db, way, sorted);
                        }
                    }
                } finally {
                    BenchDirs.delete(dir);
                }
            }
        }
    }

    private static void measure(Db db, String way, byte[][] sorted) throws InterruptedException {
        java.util.SplittableRandom r = new java.util.SplittableRandom(7);
        TimedLoop reader = new TimedLoop("reader", i -> {
            if (db.get(key(r.nextInt(READER_KEYS))) == null) {
                throw new AssertionError("a reader's key is missing");
            }
        });
        Tree written = db.tree("w");
        byte[] value = TreeBenchmark.value();
        TimedLoop writer = new TimedLoop("writer", i -> written.insert(key(i % READER_KEYS), value));
        long removed;
        double ms;
        try {
            Thread.sleep(200);
            reader.measure();
            writer.measure();
            long start = System.nanoTime();
            removed = empty(db, way, sorted);
            db.flush();
            ms = (System.nanoTime() - start) / 1e6;
        } finally {
            reader.stop();
            writer.stop();
        }
        if (removed != sorted.length) {
            throw new AssertionError(way + " removed " + removed + " of " + sorted.length + " entries");
        }
        System.out.printf("%-20s %8.0f ms (%6.2f M entries/s); reader: %d gets meanwhile, the longest %.1f ms; writer: "
                + "%d inserts, the longest %.1f ms%n", way, ms, sorted.length / ms / 1000, reader.count(),
                reader.longestMillis(), writer.count(), writer.longestMillis());
    }

    private static byte[] key(int i) {
        byte[] key = new byte[TreeBenchmark.KEY_SIZE];
        TreeBenchmark.key(i, key);
        return key;
    }

    private static long empty(Db db, String way, byte[][] sorted) {
        switch (way) {
            case "dropTree" -> {
                long entries = db.tree("t").size();
                db.dropTree("t");
                return entries;
            }
            case "remove in batches" -> {
                Tree tree = db.tree("t");
                long removed = 0;
                Iterator<Map.Entry<byte[], byte[]>> entries = tree.iterator();
                while (entries.hasNext()) {
                    Batch batch = new Batch();
                    for (int i = 0; i < REMOVES_PER_BATCH && entries.hasNext(); i++) {
                        batch.remove(entries.next().getKey());
                        removed++;
                    }
                    tree.applyBatch(batch);
                }
                return removed;
            }
            default -> {
                return db.tree("t").clear();
            }
        }
    }
}
