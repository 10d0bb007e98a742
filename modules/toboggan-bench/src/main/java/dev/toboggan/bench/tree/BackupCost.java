package dev.toboggan.bench.tree;

import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.core.Backup;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;

/**
 * What an online backup ({@link Db#backup}) costs: {@code keys} of {@link TreeBenchmark}'s random 16-byte keys
 * with 100-byte values are loaded, then, alternating, {@code rounds} times each:
 * <ul>
 *   <li>the baseline: every file of the store's directory copied with {@link Files#copy} and forced, one by
 *       one (what {@code cp -a} and a sync of a quiet store cost: the same bytes read and written);
 *   <li>a backup of the quiet store.
 * </ul>
 * Then one writer overwrites random keys as fast as it can: after {@code seconds} a backup runs, then nine
 * windows as long as the backup took: the writer's puts per second while the backup copied against its rate
 * in those windows, and the backup's time under that load. Each copy is deleted after it is timed.
 *
 * <pre>
 * java -Xmx3g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.BackupCost \
 *     [keys (1000000)] [rounds (3)] [seconds (4)]
 * </pre>
 */
public final class BackupCost {
    /** Windows without a backup, each as long as the backup took, that the writer's rate is measured in. */
    private static final int WINDOWS = 9;

    private BackupCost() {}

    public static void main(String[] args) throws Exception {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        byte[] value = TreeBenchmark.value();
        Path dir = BenchDirs.create("backup-cost");
        Path copies = BenchDirs.create("backup-cost-copies");
        try (Db db = Toboggan.open(dir.resolve("store"))) {
            TreeBenchmark.loadSettled(db, keys);
            System.out.printf("loaded %d keys: %.1f MiB on disk%n", keys, db.sizeOnDisk() / 1048576.0);
            for (int round = 0; round < rounds; round++) {
                Path plain = copies.resolve("plain-" + round);
                long t0 = System.nanoTime();
                long plainBytes = plainCopy(db.directory(), plain);
                long plainNanos = System.nanoTime() - t0;
                BenchDirs.delete(plain);
                t0 = System.nanoTime();
                Backup backup = db.backup(copies.resolve("backup-" + round));
                long backupNanos = System.nanoTime() - t0;
                BenchDirs.delete(backup.directory());
                System.out.printf("round %d: plain copy %.0f ms (%.0f MiB/s), backup %.0f ms (%.0f MiB/s): %.2f x the plain copy's time%n",
                        round, plainNanos / 1e6, mibPerSecond(plainBytes, plainNanos), backupNanos / 1e6,
                        mibPerSecond(backup.bytes(), backupNanos), (double) backupNanos / plainNanos);
            }
            underLoad(db, keys, value, copies.resolve("under-load"), seconds);
        } finally {
            BenchDirs.delete(dir);
            BenchDirs.delete(copies);
        }
    }

    /**
     * One writer of random overwrites; after {@code seconds} of warm-up, a backup, then windows as long as the
     * backup took without one: the writer's rate in a window that short swings with the cleaner's passes
     * (the 95/5 workload's dips), so the backup's window is set against the spread of those.
     */
    private static void underLoad(Db db, int keys, byte[] value, Path target, int seconds) throws Exception {
        LongAdder puts = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        Thread writer = new Thread(() -> {
            SplittableRandom r = new SplittableRandom(7);
            byte[] key = new byte[TreeBenchmark.KEY_SIZE];
            while (!stop.get()) {
                TreeBenchmark.key(r.nextInt(keys), key);
                db.insert(key.clone(), value);
                puts.increment();
            }
        }, "backup-cost-writer");
        writer.start();
        Thread.sleep(seconds * 1000L);
        long during0 = puts.sum();
        long t0 = System.nanoTime();
        Backup backup = db.backup(target);
        long backupNanos = System.nanoTime() - t0;
        long during = (long) ((puts.sum() - during0) / (backupNanos / 1e9));
        long[] without = new long[WINDOWS];
        for (int w = 0; w < WINDOWS; w++) {
            long p0 = puts.sum();
            long w0 = System.nanoTime();
            Thread.sleep(Math.max(1, backupNanos / 1_000_000));
            without[w] = (long) ((puts.sum() - p0) / ((System.nanoTime() - w0) / 1e9));
        }
        stop.set(true);
        writer.join();
        BenchDirs.delete(backup.directory());
        Arrays.sort(without);
        System.out.printf("under load: backup %.0f ms (%.0f MiB/s); writer %d puts/s while it copied, in %d windows as"
                + " long without one: min %d, median %d, max %d (during / median %.2f)%n", backupNanos / 1e6,
                mibPerSecond(backup.bytes(), backupNanos), during, WINDOWS, without[0], without[WINDOWS / 2],
                without[WINDOWS - 1], (double) during / without[WINDOWS / 2]);
    }

    /** Copies every file under {@code from} into {@code to}, forcing each: the baseline. */
    private static long plainCopy(Path from, Path to) throws IOException {
        long bytes = 0;
        List<Path> paths;
        try (Stream<Path> walk = Files.walk(from)) {
            paths = walk.toList();
        }
        for (Path p : paths) {
            Path target = to.resolve(from.relativize(p).toString());
            if (Files.isDirectory(p)) {
                Files.createDirectories(target);
            } else if (!p.getFileName().toString().equals("lock")) {
                Files.copy(p, target);
                try (FileChannel c = FileChannel.open(target, StandardOpenOption.WRITE)) {
                    c.force(true);
                }
                bytes += Files.size(target);
            }
        }
        return bytes;
    }

    private static double mibPerSecond(long bytes, long nanos) {
        return bytes / 1048576.0 / (nanos / 1e9);
    }
}
