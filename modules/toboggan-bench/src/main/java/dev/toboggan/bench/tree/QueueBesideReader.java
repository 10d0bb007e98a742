package dev.toboggan.bench.tree;

import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.Tree;
import dev.toboggan.bench.BenchDirs;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Two trees of one store, as a service embedding Toboggan for a journal and a lookup table has them: tree
 * {@code queue} consumed from the front as it is appended to ({@link TreeQueue}'s pairs: its removes empty leaves,
 * so the tree merges nodes, each merge a structure change), and beside it a thread getting random keys of tree
 * {@code lookup}. Per run: the reader's gets per second and its longest get, the queue's pairs per second, and the
 * structure changes the store made.
 *
 * <pre>
 * java -Xms2g -Xmx2g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.QueueBesideReader \
 *     [lookup keys (200000)] [pairs (1000000)] [runs (3)]
 * </pre>
 *
 * Uses only the public API, so the same class runs against an older build's jar put first on the class path.
 */
public final class QueueBesideReader {
    private static final int HELD = 100_000;

    private QueueBesideReader() {}

    public static void main(String[] args) throws Exception {
        int lookupKeys = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        int pairs = args.length > 1 ? Integer.parseInt(args[1]) : 1_000_000;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        byte[] value = new byte[100];
        for (int run = 0; run < runs; run++) {
            Path dir = BenchDirs.create("queue-beside-reader");
            try (Db db = Toboggan.open(dir)) {
                Tree queue = db.tree("queue");
                Tree lookup = db.tree("lookup");
                for (int i = 0; i < lookupKeys; i++) {
                    lookup.insert(key(i), value);
                }
                for (long i = 0; i < HELD; i++) {
                    queue.insert(key(i), value);
                }
                db.flush();
                SplittableRandom r = new SplittableRandom(run);
                TimedLoop reader = new TimedLoop("reader", i -> {
                    if (lookup.get(key(r.nextInt(lookupKeys))) == null) {
                        throw new AssertionError("a lookup key is missing");
                    }
                });
                long changesBefore;
                double seconds;
                try {
                    Thread.sleep(200);
                    changesBefore = db.metrics().concurrency().structureChanges();
                    reader.measure();
                    long start = System.nanoTime();
                    long head = 0;
                    long tail = HELD;
                    for (int i = 0; i < pairs; i++) {
                        queue.insert(key(tail++), value);
                        queue.remove(key(head++));
                    }
                    seconds = (System.nanoTime() - start) / 1e9;
                } finally {
                    reader.stop();
                }
                System.out.printf("run %d: reader %.0f k gets/s (longest %.1f ms) beside %.0f k queue pairs/s; %d structure "
                        + "changes%n", run, reader.count() / seconds / 1000, reader.longestMillis(), pairs / seconds / 1000,
                        db.metrics().concurrency().structureChanges() - changesBefore);
            } finally {
                BenchDirs.delete(dir);
            }
        }
    }

    private static byte[] key(long n) {
        return ByteBuffer.allocate(Long.BYTES).putLong(n).array();
    }
}
