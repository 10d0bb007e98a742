package dev.toboggan.bench.tree;

import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDirs;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The default tree used as a queue, as a journal that deletes its oldest events or a work queue does:
 * {@code held} keys (8-byte big-endian sequence numbers, 100-byte values), then rounds of {@code step}
 * pairs of an append at the end and a remove at the front, each round flushed. After each round it prints
 * the pairs per second so far, the mean time of {@code first()} (which, without node merges, walks every
 * leaf the consumer emptied) and the store's size on disk; then the size after 1, 2 and 3 quiet seconds.
 *
 * <pre>
 * java -Xmx2g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.TreeQueue \
 *     [held (100000)] [step (200000)] [rounds (5)]
 * </pre>
 *
 * Uses only the public API, so the same class runs against an older build's jar put first on the class path.
 */
public final class TreeQueue {
    private static final int FIRST_PROBES = 200;
    private static final int QUIET_SECONDS = 3;

    private TreeQueue() {}

    public static void main(String[] args) throws Exception {
        int held = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        int step = args.length > 1 ? Integer.parseInt(args[1]) : 200_000;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        byte[] value = new byte[100];
        Path dir = BenchDirs.create("toboggan-bench-tree-queue");
        try (Db db = Toboggan.open(dir)) {
            for (long i = 0; i < held; i++) {
                db.insert(key(i), value);
            }
            long head = 0;
            long tail = held;
            long start = System.nanoTime();
            for (int round = 1; round <= rounds; round++) {
                for (int i = 0; i < step; i++) {
                    db.insert(key(tail++), value);
                    db.remove(key(head++));
                }
                db.flush();
                long t0 = System.nanoTime();
                for (int i = 0; i < FIRST_PROBES; i++) {
                    if (db.first() == null) {
                        throw new AssertionError("the queue is empty after round " + round);
                    }
                }
                double firstMicros = (System.nanoTime() - t0) / 1e3 / FIRST_PROBES;
                System.out.printf("round %d: %d consumed, %.0f k pairs/s so far, first() %.1f us, on disk %.1f MiB%n",
                        round, head, head / ((System.nanoTime() - start) / 1e9) / 1e3, firstMicros,
                        db.sizeOnDisk() / 1048576.0);
            }
            for (int s = 1; s <= QUIET_SECONDS; s++) {
                Thread.sleep(1000);
                System.out.printf("after %d s quiet: on disk %.1f MiB%n", s, db.sizeOnDisk() / 1048576.0);
            }
        } finally {
            BenchDirs.delete(dir);
        }
    }

    private static byte[] key(long n) {
        return ByteBuffer.allocate(Long.BYTES).putLong(n).array();
    }
}
