package dev.toboggan.bench.tree;

import dev.toboggan.Db;
import dev.toboggan.ReadableTree;
import dev.toboggan.Snapshot;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDirs;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * What a snapshot ({@link Db#snapshot}) costs: {@code keys} of {@link TreeBenchmark}'s random 16-byte keys with
 * 100-byte values are loaded, then {@code rounds} times: how long taking a snapshot holds the writers (the
 * call's own time: the page table copied under the exclusive side), then one thread's random point reads
 * and a full scan on the live tree and on the snapshot, alternated (the live tree first in even rounds), then
 * every key overwritten once with the snapshot open, and what it kept: the store's size on disk and the heap in
 * use after a full collection, after the overwrite and a settle with the snapshot still open, and after its
 * close and a settle.
 *
 * <pre>
 * java -Xmx3g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.SnapshotCost \
 *     [keys (1000000)] [rounds (3)] [reads (2000000)]
 * </pre>
 */
public final class SnapshotCost {
    private static final long SETTLE_MILLIS = 3000;

    private SnapshotCost() {}

    public static void main(String[] args) throws Exception {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int reads = args.length > 2 ? Integer.parseInt(args[2]) : 2_000_000;
        Path dir = BenchDirs.create("snapshot-cost");
        try (Db db = Toboggan.open(dir.resolve("store"))) {
            TreeBenchmark.loadSettled(db, keys);
            System.out.printf("loaded %d keys: %.1f MiB on disk%n", keys, db.sizeOnDisk() / 1048576.0);
            byte[] value = TreeBenchmark.value();
            for (int round = 0; round < rounds; round++) {
                long t0 = System.nanoTime();
                Snapshot snapshot = db.snapshot();
                double takeMs = (System.nanoTime() - t0) / 1e6;
                try (snapshot) {
                    ReadableTree first = round % 2 == 0 ? db : snapshot;
                    ReadableTree second = round % 2 == 0 ? snapshot : db;
                    double firstReads = reads(first, keys, reads, round);
                    double secondReads = reads(second, keys, reads, round);
                    double firstScan = scanMs(first);
                    double secondScan = scanMs(second);
                    double liveReads = first == db ? firstReads : secondReads;
                    double snapshotReads = first == db ? secondReads : firstReads;
                    double liveScan = first == db ? firstScan : secondScan;
                    double snapshotScan = first == db ? secondScan : firstScan;
                    System.out.printf("round %d: snapshot taken in %.2f ms; gets/s live %.0f, snapshot %.0f (%.2f x); "
                            + "scan of every entry live %.0f ms, snapshot %.0f ms (%.2f x)%n", round, takeMs, liveReads,
                            snapshotReads, snapshotReads / liveReads, liveScan, snapshotScan, snapshotScan / liveScan);
                    long before = db.sizeOnDisk();
                    byte[] key = new byte[16];
                    value[round % value.length]++;
                    for (int i = 0; i < keys; i++) {
                        TreeBenchmark.key(i, key);
                        db.insert(key.clone(), value);
                    }
                    db.flush();
                    Thread.sleep(SETTLE_MILLIS);
                    long heldOpen = db.sizeOnDisk();
                    long heapOpen = heapInUse();
                    snapshot.close();
                    Thread.sleep(SETTLE_MILLIS);
                    System.out.printf("  every key overwritten: on disk %.1f MiB before, %.1f MiB settled with the snapshot "
                            + "open, %.1f MiB settled after its close; heap in use %.0f MiB open, %.0f MiB closed%n",
                            before / 1048576.0, heldOpen / 1048576.0, db.sizeOnDisk() / 1048576.0, heapOpen / 1048576.0,
                            heapInUse() / 1048576.0);
                }
            }
        } finally {
            BenchDirs.delete(dir);
        }
    }

    /** The heap in use after a full collection (the store's background threads may allocate meanwhile). */
    private static long heapInUse() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** Random point reads per second on one thread. */
    private static double reads(ReadableTree tree, int keys, int reads, int round) {
        SplittableRandom random = new SplittableRandom(round);
        byte[] key = new byte[16];
        long found = 0;
        long t0 = System.nanoTime();
        for (int i = 0; i < reads; i++) {
            TreeBenchmark.key(random.nextInt(keys), key);
            found += tree.get(key).length;
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (found == 0) {
            throw new AssertionError("no key found");
        }
        return reads / seconds;
    }

    private static double scanMs(ReadableTree tree) {
        long t0 = System.nanoTime();
        long entries = 0;
        for (Iterator<Map.Entry<byte[], byte[]>> it = tree.iterator(); it.hasNext(); it.next()) {
            entries++;
        }
        if (entries == 0) {
            throw new AssertionError("an empty tree");
        }
        return (System.nanoTime() - t0) / 1e6;
    }
}
