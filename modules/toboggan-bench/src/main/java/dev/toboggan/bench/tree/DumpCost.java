package dev.toboggan.bench.tree;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.Db;
import dev.toboggan.Dump;
import dev.toboggan.Toboggan;
import dev.toboggan.Tree;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.core.Backup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What an export ({@link Db#export}) and an import ({@link Toboggan#importDump}) cost: {@code keys} of
 * {@link TreeBenchmark}'s random 16-byte keys with 100-byte values are loaded, then {@code rounds} times: a
 * backup of the quiet store (the baseline: the same store's bytes read and written once), an export of it,
 * an import of that dump into a new store, and the first open of the imported store, whose size is taken again
 * after it stayed open and quiet a while; then a {@link Toboggan#build} of a new store from the loaded store's
 * iterator (a migration from another store's cursor); then, in the loaded store itself, a {@link Db#buildTree} of
 * its entries as it iterates them, and (the baseline) the same entries inserted one by one in key order into a
 * tree of their own, each flushed and dropped after; then an export beside a writer of another tree (how many
 * inserts it made meanwhile, and its longest). Each file and copy is deleted after it is timed.
 *
 * <pre>
 * java -Xmx3g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.DumpCost \
 *     [keys (1000000)] [rounds (3)]
 * </pre>
 */
public final class DumpCost {
    /** How long the imported store is left open and quiet, for the segment cleaner's compaction at rest. */
    private static final long SETTLE_MILLIS = 3000;

    private DumpCost() {}

    public static void main(String[] args) throws Exception {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path dir = BenchDirs.create("dump-cost");
        Path work = BenchDirs.create("dump-cost-files");
        try (Db db = Toboggan.open(dir.resolve("store"))) {
            TreeBenchmark.loadSettled(db, keys);
            System.out.printf("loaded %d keys: %.1f MiB on disk%n", keys, db.sizeOnDisk() / 1048576.0);
            for (int round = 0; round < rounds; round++) {
                long t0 = System.nanoTime();
                Backup backup = db.backup(work.resolve("backup"));
                double backupMs = (System.nanoTime() - t0) / 1e6;
                BenchDirs.delete(backup.directory());
                t0 = System.nanoTime();
                Dump dump = db.export(work.resolve("dump"));
                double exportMs = (System.nanoTime() - t0) / 1e6;
                Path imported = work.resolve("imported");
                t0 = System.nanoTime();
                Toboggan.importDump(dump.file(), imported);
                double importMs = (System.nanoTime() - t0) / 1e6;
                t0 = System.nanoTime();
                long size;
                double openMs;
                long settled;
                try (Db copy = Toboggan.open(imported)) {
                    openMs = (System.nanoTime() - t0) / 1e6;
                    size = copy.sizeOnDisk();
                    Thread.sleep(SETTLE_MILLIS);
                    settled = copy.sizeOnDisk();
                }
                Path built = work.resolve("built");
                t0 = System.nanoTime();
                long entries = Toboggan.build(ConfigFactory.empty(), built, trees -> trees.tree(Db.DEFAULT_TREE,
                        db.iterator()));
                double buildMs = (System.nanoTime() - t0) / 1e6;
                long before = db.sizeOnDisk();
                t0 = System.nanoTime();
                db.buildTree("built", db.iterator());
                db.flush();
                double liveBuildMs = (System.nanoTime() - t0) / 1e6;
                long liveBuildBytes = db.sizeOnDisk() - before;
                db.dropTree("built");
                Tree inserted = db.tree("inserted");
                t0 = System.nanoTime();
                for (Iterator<Map.Entry<byte[], byte[]>> it = db.iterator(); it.hasNext(); ) {
                    Map.Entry<byte[], byte[]> e = it.next();
                    inserted.insert(e.getKey(), e.getValue());
                }
                db.flush();
                double insertMs = (System.nanoTime() - t0) / 1e6;
                db.dropTree("inserted");
                System.out.printf("round %d: backup %.0f ms (%.1f MiB); export %.0f ms (%.1f MiB, %.2f x the backup); "
                        + "import %.0f ms (%.0f k entries/s; the new store %.1f MiB, %.1f MiB once open and quiet "
                        + "for %d ms); open of the import %.0f ms; a build of the store's entries as it iterates them "
                        + "%.0f ms (%.0f k entries/s); in the open store, a tree built of them %.0f ms (%.0f k entries/s, "
                        + "the store %.1f MiB larger) and the same entries inserted one by one in key order %.0f ms "
                        + "(%.0f k entries/s), both flushed%n",
                        round, backupMs, backup.bytes() / 1048576.0, exportMs, dump.bytes() / 1048576.0,
                        exportMs / backupMs, importMs, dump.entries() / importMs, size / 1048576.0,
                        settled / 1048576.0, SETTLE_MILLIS, openMs, buildMs, entries / buildMs, liveBuildMs,
                        entries / liveBuildMs, liveBuildBytes / 1048576.0, insertMs, entries / insertMs);
                Files.delete(dump.file());
                BenchDirs.delete(imported);
                BenchDirs.delete(built);
                exportBesideAWriter(db, work.resolve("dump"), round);
            }
        } finally {
            BenchDirs.delete(dir);
            BenchDirs.delete(work);
        }
    }

    /**
     * An export while another thread inserts random keys into a tree of its own as fast as it can: how many
     * inserts the writer made while the dump was written, and its longest one (an export that holds the
     * store's writers shows as few inserts and a longest insert as long as the export).
     */
    private static void exportBesideAWriter(Db db, Path file, int round) throws Exception {
        Tree beside = db.tree("beside");
        AtomicBoolean stop = new AtomicBoolean();
        AtomicBoolean exporting = new AtomicBoolean();
        long[] during = new long[2]; // inserts that overlapped the export, and the longest one's nanoseconds
        Thread writer = new Thread(() -> {
            SplittableRandom random = new SplittableRandom(round);
            byte[] value = new byte[100];
            while (!stop.get()) {
                byte[] key = new byte[16];
                random.nextBytes(key);
                boolean overlapped = exporting.get();
                long start = System.nanoTime();
                beside.insert(key, value);
                long took = System.nanoTime() - start;
                if (overlapped || exporting.get()) {
                    during[0]++;
                    during[1] = Math.max(during[1], took);
                }
            }
        }, "writer-beside-the-export");
        writer.start();
        Thread.sleep(500);
        exporting.set(true);
        long t0 = System.nanoTime();
        Dump dump = db.export(file);
        double exportMs = (System.nanoTime() - t0) / 1e6;
        exporting.set(false);
        stop.set(true);
        writer.join();
        System.out.printf("round %d, beside a writer of another tree: export %.0f ms (%d entries); the writer made %d "
                + "inserts during it (%.0f k/s), its longest %.1f ms%n", round, exportMs, dump.entries(), during[0],
                during[0] / exportMs, during[1] / 1e6);
        Files.delete(dump.file());
        db.dropTree("beside");
        db.flush();
    }
}
