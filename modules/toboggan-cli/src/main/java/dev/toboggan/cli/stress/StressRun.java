package dev.toboggan.cli.stress;

import com.typesafe.config.Config;
import dev.toboggan.Db;
import dev.toboggan.Dump;
import dev.toboggan.StoreMetrics;
import dev.toboggan.Toboggan;
import dev.toboggan.WatchDelivery;
import dev.toboggan.cli.Directories;
import dev.toboggan.core.Backup;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * A stress run on the public tree API: load, a timed run of mixed operations with a progress line per
 * second (followed by two watches of every key: one told of changes as they are applied, one as they become
 * durable), an online backup, an export imported into a new store, a new store built from its trees' entries
 * ({@code Toboggan.build}), a copy of each tree built in the store and compared with it ({@code Db.buildTree}),
 * a clean close, a reopen, and a check of
 * every key against the threads' models: in the watch's last events, in the reopened store, in the backup, in
 * the imported store and in the built one.
 */
public final class StressRun {
    private final StressSettings settings;
    /** The store's settings ({@code toboggan { ... }} keys) over the defaults. */
    private final Config storeConfig;
    private final Duration duration;
    private final Path directory;
    private final PrintWriter out;
    private final List<Sample> samples = new ArrayList<>();
    private final Failures failures = new Failures();

    public StressRun(StressSettings settings, Config storeConfig, Duration duration, Path directory, PrintWriter out) {
        this.settings = settings;
        this.storeConfig = storeConfig;
        this.duration = duration;
        this.directory = directory;
        this.out = out;
    }

    /** Runs it; returns whether everything read back was right. */
    public boolean run() throws InterruptedException {
        StressTotals totals = new StressTotals();
        Recorder interval = new Recorder(3);
        List<StressWorker> workers = new ArrayList<>();
        long opened = System.nanoTime();
        double runSeconds;
        Path backup;
        Path imported;
        Path built;
        StoreMetrics.Watches watchMetrics;
        List<WatchedVersions> watches = new ArrayList<>();
        ExecutorService watchThread = Executors.newSingleThreadExecutor(r -> {
            Thread th = new Thread(r, "stress-watch");
            th.setDaemon(true);
            return th;
        });
        try (Db db = Toboggan.open(storeConfig, directory)) {
            out.printf("opened %s in %.0f ms%n", directory, (System.nanoTime() - opened) / 1e6);
            for (int t = 0; t < settings.threads(); t++) {
                workers.add(new StressWorker(db, settings, t, interval, totals, failures));
            }
            preload(workers);
            for (WatchDelivery delivery : WatchDelivery.values()) {
                WatchedVersions watch = new WatchedVersions(delivery, settings.records(), settings.keySpace(), workers);
                db.watchPrefix(new byte[0], delivery, watchThread, WatchedVersions.BUFFER).subscribe(watch);
                watches.add(watch);
            }
            long started = System.nanoTime();
            List<Thread> threads = start(workers);
            sample(db, totals, interval, started, threads);
            workers.forEach(StressWorker::stop);
            for (Thread th : threads) {
                th.join();
            }
            runSeconds = (System.nanoTime() - started) / 1e9;
            watchMetrics = db.metrics().watches();
            backup = backUp(db);
            imported = exportAndImport(db);
            built = build(db);
            rebuildInPlace(db);
            long closing = System.nanoTime();
            db.close();
            out.printf("closed (everything flushed) in %.0f ms%n", (System.nanoTime() - closing) / 1e6);
        }
        printSummary(totals, workers, runSeconds);
        for (WatchedVersions watch : watches) {
            out.println(watch.check(workers, failures));
        }
        out.printf("watch of every key, durable: writers held for the disk %,d times (each when half its buffer "
                + "waited for a flush)%n", watchMetrics.writersHeld());
        watchThread.shutdown();
        if (failures.errorCount() == 0) {
            checkStore(directory, "reopened", "after reopening", workers);
        }
        checkCopy(backup, "opened the backup", "in the backup", workers);
        checkCopy(imported, "opened the store imported from the export", "in the imported store", workers);
        checkCopy(built, "opened the store built from its trees' entries", "in the built store", workers);
        for (String line : failures.first()) {
            out.println(line);
        }
        boolean clean = !failures.any();
        out.println(clean ? "OK: every value read back, during the run, in the watches' last events, after reopening, in the backup, in the "
                + "imported store, in the built one and in the trees built in the store, was right"
                : "FAILED: " + failures.wrongCount() + " wrong values read back, " + failures.errorCount() + " errors");
        out.flush();
        return clean;
    }

    public List<Sample> samples() {
        return samples;
    }

    private void preload(List<StressWorker> workers) throws InterruptedException {
        if (settings.preloadShare() <= 0) {
            return;
        }
        long started = System.nanoTime();
        List<Thread> loaders = new ArrayList<>();
        for (StressWorker w : workers) {
            Thread th = new Thread(() -> {
                try {
                    w.preload(settings.preloadShare());
                } catch (RuntimeException e) {
                    failures.error("preload", e);
                }
            }, "stress-preload");
            th.start();
            loaders.add(th);
        }
        for (Thread th : loaders) {
            th.join();
        }
        out.printf("loaded %.0f%% of %,d keys in %.1f s%n", settings.preloadShare() * 100, settings.keySpace(),
                (System.nanoTime() - started) / 1e9);
    }

    private List<Thread> start(List<StressWorker> workers) {
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < workers.size(); t++) {
            Thread th = new Thread(workers.get(t), "stress-" + t);
            th.start();
            threads.add(th);
        }
        return threads;
    }

    /** One progress line per second until the run's time is up (or every thread stopped). */
    private void sample(Db db, StressTotals totals, Recorder interval, long started, List<Thread> threads)
            throws InterruptedException {
        long end = started + duration.toNanos();
        long lastOps = totals.ops();
        Histogram recycled = null;
        int second = 0;
        while (System.nanoTime() < end && threads.stream().anyMatch(Thread::isAlive)) {
            long next = started + (second + 1) * 1_000_000_000L;
            long sleep = Math.min(next, end) - System.nanoTime();
            if (sleep > 0) {
                Thread.sleep(sleep / 1_000_000, (int) (sleep % 1_000_000));
            }
            second++;
            Histogram h = interval.getIntervalHistogram(recycled);
            recycled = h;
            long ops = totals.ops();
            long disk = db.sizeOnDisk();
            long live = totals.liveEntries() * settings.records().entryBytes();
            Sample s = new Sample(second, ops - lastOps, h.getValueAtPercentile(50) / 1e3,
                    h.getValueAtPercentile(99) / 1e3, ProcessMemory.heapUsedBytes(), ProcessMemory.residentBytes(),
                    disk, live > 0 ? (double) disk / live : Double.NaN, h.getMaxValue() / 1e3);
            lastOps = ops;
            samples.add(s);
            out.printf("%4d s %,10d ops/s   p50 %,8.1f µs  p99 %,9.1f µs   rss %,6.0f MiB  heap %,6.0f MiB   disk %,8.1f MiB"
                    + "   space amp %s%s%n", s.second(), s.opsPerSecond(), s.p50Micros(), s.p99Micros(),
                    Sample.mib(s.residentBytes()), Sample.mib(s.heapBytes()), Sample.mib(s.diskBytes()),
                    Double.isNaN(s.spaceAmplification()) ? "-" : String.format("%.2f", s.spaceAmplification()),
                    failures.any() ? "   FAILURES: " + (failures.wrongCount() + failures.errorCount()) : "");
            out.flush();
        }
    }

    private void printSummary(StressTotals totals, List<StressWorker> workers, double seconds) {
        out.printf("%,d operations in %.1f s: %,.0f ops/s%n", totals.ops(), seconds, totals.ops() / seconds);
        out.printf("  %-7s %12s %10s %10s %10s %10s%n", "op", "count", "p50 µs", "p99 µs", "p99.9 µs", "max µs");
        for (Op op : Op.values()) {
            Histogram merged = new Histogram(3);
            for (StressWorker w : workers) {
                merged.add(w.latencies().get(op));
            }
            if (merged.getTotalCount() == 0) {
                continue;
            }
            out.printf("  %-7s %,12d %,10.1f %,10.1f %,10.1f %,10.1f%n", op.label(), totals.ops(op),
                    merged.getValueAtPercentile(50) / 1e3, merged.getValueAtPercentile(99) / 1e3,
                    merged.getValueAtPercentile(99.9) / 1e3, merged.getMaxValue() / 1e3);
        }
        if (!samples.isEmpty()) {
            Sample last = samples.get(samples.size() - 1);
            out.printf("disk %.1f MiB for %,d live entries (%.1f MiB): space amplification %s; resident memory %.0f MiB%n",
                    Sample.mib(last.diskBytes()), totals.liveEntries(),
                    Sample.mib(totals.liveEntries() * settings.records().entryBytes()),
                    Double.isNaN(last.spaceAmplification()) ? "-" : String.format("%.2f", last.spaceAmplification()),
                    Sample.mib(last.residentBytes()));
        }
    }

    /**
     * Takes an online backup of the store, its workers stopped, into a new temporary directory: it must hold
     * exactly what the store holds ({@link #checkStore}).
     *
     * @return the backup's directory, or {@code null} if it failed (a failure recorded)
     */
    private Path backUp(Db db) {
        return copy("backup", "toboggan-stress-backup-", dir -> {
            long started = System.nanoTime();
            Backup made = db.backup(dir.resolve("store"));
            out.printf("backed up online in %.0f ms (%.1f MiB)%n", (System.nanoTime() - started) / 1e6,
                    made.bytes() / 1048576.0);
        });
    }

    /**
     * Exports the store, its workers stopped, to a dump in a new temporary directory and imports that into a new
     * store beside it, which must hold exactly what the store holds ({@link #checkStore}).
     *
     * @return the imported store's directory, or {@code null} if either step failed (a failure recorded)
     */
    private Path exportAndImport(Db db) {
        return copy("export and import", "toboggan-stress-export-", dir -> {
            long started = System.nanoTime();
            Dump dump = db.export(dir.resolve("store.dump"));
            double exportMs = (System.nanoTime() - started) / 1e6;
            started = System.nanoTime();
            Toboggan.importDump(dump.file(), storeConfig, dir.resolve("store"));
            out.printf("exported %,d entries in %.0f ms (%.1f MiB) and imported them into a new store in %.0f ms%n",
                    dump.entries(), exportMs, dump.bytes() / 1048576.0, (System.nanoTime() - started) / 1e6);
        });
    }

    /**
     * Builds a new store in a new temporary directory of every tree of the store, its workers stopped, handed
     * over as the store iterates them ({@link Toboggan#build}: a migration from another store's cursor), which
     * must hold exactly what the store holds ({@link #checkStore}).
     *
     * @return the built store's directory, or {@code null} if the build failed (a failure recorded)
     */
    private Path build(Db db) {
        return copy("build", "toboggan-stress-build-", dir -> {
            long started = System.nanoTime();
            long entries = Toboggan.build(storeConfig, dir.resolve("store"), trees -> {
                for (String name : db.treeNames()) {
                    trees.tree(name, db.tree(name).iterator());
                }
            });
            out.printf("built a new store of its %,d entries, read in key order, in %.0f ms%n", entries,
                    (System.nanoTime() - started) / 1e6);
        });
    }

    /**
     * Builds, in the store itself, a copy of each of its trees ({@link Db#buildTree} of the tree's entries as it
     * iterates them), its workers stopped; each copy must hold exactly the entries of its tree, then is renamed
     * ({@link Db#renameTree}: its old name free again), cleared ({@link dev.toboggan.Tree#clear}: every entry
     * counted, none left) and dropped.
     */
    private void rebuildInPlace(Db db) {
        try {
            long started = System.nanoTime();
            long entries = 0;
            List<String> names = db.treeNames();
            for (String name : names) {
                String copy = name + ".rebuilt";
                long count = db.buildTree(copy, db.tree(name).iterator());
                entries += count;
                Iterator<Map.Entry<byte[], byte[]>> built = db.tree(copy).iterator();
                for (Map.Entry<byte[], byte[]> e : db.tree(name)) {
                    Map.Entry<byte[], byte[]> b = built.hasNext() ? built.next() : null;
                    if (b == null || !Arrays.equals(b.getKey(), e.getKey()) || !Arrays.equals(b.getValue(), e.getValue())) {
                        failures.wrong("tree " + copy + ", built in the store of tree " + name + "'s entries, holds "
                                + (b == null ? "nothing" : "another entry") + " where " + name + " has its key "
                                + HexFormat.of().formatHex(e.getKey()));
                        break;
                    }
                }
                if (built.hasNext()) {
                    failures.wrong("tree " + copy + " holds more entries than tree " + name + ", of whose entries it "
                            + "was built");
                }
                String moved = copy + ".moved";
                db.renameTree(copy, moved);
                if (db.treeNames().contains(copy) || db.tree(moved).size() != count) {
                    failures.wrong("tree " + copy + ", built of " + count + " entries and renamed to " + moved
                            + ", left its name or not all its entries");
                }
                long cleared = db.tree(moved).clear();
                if (cleared != count || !db.tree(moved).isEmpty()) {
                    failures.wrong("tree " + moved + ", built of " + count + " entries, was cleared of " + cleared
                            + (db.tree(moved).isEmpty() ? "" : " and still holds entries"));
                }
                db.dropTree(moved);
            }
            out.printf("built in the store a copy of each of its %d trees (%,d entries, read in key order) in %.0f ms; "
                    + "each held its tree's entries and was renamed and cleared%n", names.size(), entries,
                    (System.nanoTime() - started) / 1e6);
        } catch (RuntimeException e) {
            failures.error("build in the store", e);
        }
    }

    /**
     * Checks a copy the run made ({@link #checkStore}, unless something failed already), if it made one, then
     * deletes its temporary directory.
     */
    private void checkCopy(Path copy, String opening, String where, List<StressWorker> workers) {
        if (copy == null) {
            return;
        }
        if (failures.errorCount() == 0) {
            checkStore(copy, opening, where, workers);
        }
        deleteDirectory(copy.getParent());
    }

    /** Makes a copy of the store as {@code store} in a new temporary directory. */
    private interface Copy {
        void make(Path dir) throws IOException;
    }

    /**
     * Runs {@code make} in a new temporary directory named from {@code prefix}.
     *
     * @return the store {@code make} made there ({@code store} in it), or {@code null} if it failed: the failure is
     *     recorded as {@code what}'s and the directory deleted
     */
    private Path copy(String what, String prefix, Copy make) {
        Path dir = null;
        try {
            dir = Files.createTempDirectory(prefix);
            make.make(dir);
            return dir.resolve("store");
        } catch (IOException | RuntimeException e) {
            failures.error(what, e);
            if (dir != null) {
                deleteDirectory(dir);
            }
            return null;
        }
    }

    /** Deletes a copy the run made (its backup, its export, the store imported from it, the built store). */
    private void deleteDirectory(Path dir) {
        try {
            Directories.deleteRecursively(dir);
        } catch (IOException | UncheckedIOException e) {
            out.println("could not delete " + dir + ": " + e);
        }
    }

    /**
     * Opens the store in {@code dir} (the run's, reopened, or its backup) and compares every entry with the
     * models: after a clean close, and in a backup taken after the run, nothing may differ.
     */
    private void checkStore(Path dir, String opening, String where, List<StressWorker> workers) {
        long opened = System.nanoTime();
        try (Db db = Toboggan.open(storeConfig, dir)) {
            double openMs = (System.nanoTime() - opened) / 1e6;
            Records records = settings.records();
            int threads = settings.threads();
            long seen = 0;
            BitSet present = new BitSet();
            long checkStarted = System.nanoTime();
            Iterator<Map.Entry<byte[], byte[]>> it = db.iterator();
            while (it.hasNext()) {
                Map.Entry<byte[], byte[]> e = it.next();
                long index = records.indexOf(e.getKey());
                if (index < 0 || index >= settings.keySpace()) {
                    failures.wrong(where + ": a key that was never written (" + e.getKey().length + " bytes)");
                    continue;
                }
                long want = workers.get((int) (index % threads)).versionAt((int) (index / threads));
                long got = records.versionOf(index, e.getValue());
                if (want == 0 || got != want) {
                    failures.wrong(where + ": key " + index + " has " + (got < 0 ? "a damaged value" : "version " + got)
                            + ", expected " + (want == 0 ? "no value" : "version " + want));
                }
                present.set((int) index);
                seen++;
            }
            for (int t = 0; t < threads; t++) {
                StressWorker w = workers.get(t);
                for (int slot = 0; slot < w.ownedKeys(); slot++) {
                    long index = (long) slot * threads + t;
                    if (w.versionAt(slot) != 0 && !present.get((int) index)) {
                        failures.wrong(where + ": key " + index + " (version " + w.versionAt(slot) + ") is missing");
                    }
                }
            }
            out.printf("%s in %.0f ms and checked all %,d keys in %.1f s%n", opening, openMs, seen,
                    (System.nanoTime() - checkStarted) / 1e9);
        } catch (RuntimeException e) {
            failures.error(opening, e);
        }
    }
}
