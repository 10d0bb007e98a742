package dev.toboggan.bench.tree;

import dev.toboggan.Batch;
import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.Tree;
import dev.toboggan.bench.BenchDirs;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What emptying a tree costs, and what it costs the store's readers: {@code rounds} times, a tree of
 * {@link TreeBenchmark}'s {@code keys} random 16-byte keys with 100-byte values (built with {@link Db#buildTree})
 * beside a default tree of 100 000 entries that a reader thread gets at random from and a tree a writer thread
 * inserts into, then the tree emptied and
 * the store flushed, each way in turn: {@link Tree#clear} on the tree as built (its nodes cached), {@link Tree#clear}
 * after a reopen (every node read from the disk), {@link Db#dropTree}, and removing every key in batches of
 * 10 000 (what a caller without {@code clear} would do; not atomic). Per way: the wall clock, the reader's gets
 * meanwhile and its longest one (a clear or a drop holds the tree's own readers while it frees its pages), and
 * the writer's inserts and its longest one (a clear or a drop holds every writer of the store while it runs).
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
        AtomicBoolean done = new AtomicBoolean();
        long[] reads = new long[2]; // gets, longest in ns
        long[] writes = new long[2]; // inserts, longest in ns
        Tree written = db.tree("w");
        Thread writer = new Thread(() -> {
            byte[] value = TreeBenchmark.value();
            for (int i = 0; !done.get(); i++) {
                long start = System.nanoTime();
                written.insert(key(i % READER_KEYS), value);
                writes[1] = Math.max(writes[1], System.nanoTime() - start);
                writes[0]++;
            }
        }, "writer");
        Thread reader = new Thread(() -> {
            java.util.SplittableRandom r = new java.util.SplittableRandom(7);
            while (!done.get()) {
                long start = System.nanoTime();
                if (db.get(key(r.nextInt(READER_KEYS))) == null) {
                    throw new AssertionError("a reader's key is missing");
                }
                reads[1] = Math.max(reads[1], System.nanoTime() - start);
                reads[0]++;
            }
        }, "reader");
        reader.start();
        writer.start();
        Thread.sleep(200);
        long before = reads[0];
        long writesBefore = writes[0];
        reads[1] = 0;
        writes[1] = 0;
        long start = System.nanoTime();
        long removed = empty(db, way, sorted);
        db.flush();
        double ms = (System.nanoTime() - start) / 1e6;
        done.set(true);
        reader.join();
        writer.join();
        if (removed != sorted.length) {
            throw new AssertionError(way + " removed " + removed + " of " + sorted.length + " entries");
        }
        System.out.printf("%-20s %8.0f ms (%6.2f M entries/s); reader: %d gets meanwhile, the longest %.1f ms; writer: "
                + "%d inserts, the longest %.1f ms%n", way, ms, sorted.length / ms / 1000, reads[0] - before, reads[1] / 1e6,
                writes[0] - writesBefore, writes[1] / 1e6);
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
