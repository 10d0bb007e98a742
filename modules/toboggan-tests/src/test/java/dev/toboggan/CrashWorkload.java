package dev.toboggan;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.NavigableMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The child JVM of the crash loop ({@link CrashLoopTest}): opens the store, then runs workers that write
 * to it on the public {@link Tree} API until the parent kills the process with SIGKILL. Each worker keeps
 * a {@link CrashJournal}.
 *
 * <p>Arguments: store directory, cycle directory (journals and markers), cycle number, seed, workers.
 * Markers in the cycle directory: {@code recovering} is created just before {@link Toboggan#open}, and
 * {@code opened} (holding the milliseconds the open took) right after it returned, so the parent can aim
 * a kill at recovery itself.
 *
 * <p>A thread beside the workers takes online backups ({@link Db#backup}), exports ({@link Db#export}) and
 * builds ({@link Toboggan#build} of a new store from a backup's trees) now and then, journaled in
 * {@value #BACKUP_JOURNAL}: the parent opens each backup, each built store and a store imported from each dump,
 * and checks it holds a prefix of every worker's operations. It also builds trees in the store itself
 * ({@link Db#buildTree}, the tree {@code copy-<n>} of {@link #copyEntries}), which the parent finds whole or
 * not at all.
 *
 * <p>A {@link WatchDelivery#DURABLE} watch of both trees journals, in {@value #WATCH_JOURNAL}, the latest
 * operation of each worker it reported ({@code W <worker> <seq>}, from the value's tag): a durable event says
 * its change survives a crash, so the parent requires each worker's recovered state to hold it, as it does
 * the operations before a flush that returned.
 *
 * <p>The workload: inserts of small, medium (value pages) and large (blob) values, removes (also of
 * whole runs of keys, which empty leaves the tree then merges),
 * compare-and-swaps (the expected value is the worker's own model; a swap expecting a value the key does
 * not have must fail), atomic batches (every other one made by a transaction that reads its keys first),
 * flushes, and generated ids; every worker also range-scans its keys
 * and checks them against its model, so a wrong read is reported too ({@code X} lines).
 */
public final class CrashWorkload {
    /** The trees the backup thread builds in the store itself: {@code copy-<n>}. */
    static final String COPY_PREFIX = "copy-";

    private CrashWorkload() {}

    /**
     * What the tree {@code copy-<n>} holds: a few hundred to a few thousand entries made of {@code n} alone, one in
     * ten in a value page of its own.
     */
    static NavigableMap<byte[], byte[]> copyEntries(int n) {
        SplittableRandom r = new SplittableRandom(n);
        NavigableMap<byte[], byte[]> entries = new TreeMap<>(Arrays::compareUnsigned);
        int count = 300 + r.nextInt(3000);
        for (int i = 0; i < count; i++) {
            byte[] value = new byte[r.nextInt(10) == 0 ? 201 + r.nextInt(600) : 8 + r.nextInt(60)];
            r.nextBytes(value);
            entries.put(ByteBuffer.allocate(8).putInt(n).putInt(3 * i).array(), value);
        }
        return entries;
    }

    /** The settings both the child and the parent open the store with: small pieces, so every path runs. */
    static Config config() {
        return ConfigFactory.parseString("""
                toboggan.segment-size = 64KiB
                toboggan.flush-every = 20ms
                toboggan.snapshot-after-ops = 2000
                toboggan.idgen-persist-interval = 64
                toboggan.consolidation-threshold = 4
                toboggan.tree.node-split-size = 1KiB
                toboggan.tree.max-inline-value = 200B
                """);
    }

    public static void main(String[] args) throws Exception {
        Path storeDir = Path.of(args[0]);
        Path cycleDir = Path.of(args[1]);
        int cycle = Integer.parseInt(args[2]);
        long seed = Long.parseLong(args[3]);
        int workers = Integer.parseInt(args[4]);
        Files.createDirectories(cycleDir);
        Files.writeString(cycleDir.resolve("recovering"), "");
        long start = System.nanoTime();
        Db db = Toboggan.open(config(), storeDir);
        // Written whole, then renamed: the parent never reads a half-written marker.
        Path opened = Files.writeString(cycleDir.resolve("opened.tmp"),
                Long.toString((System.nanoTime() - start) / 1_000_000));
        Files.move(opened, cycleDir.resolve("opened"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        if (workers == 0) {
            // A recovery run: the parent kills it while it opens, or soon after.
            Thread.sleep(Long.MAX_VALUE);
        }
        DurableWatch watch = new DurableWatch(new CrashJournal(cycleDir.resolve(WATCH_JOURNAL)), cycle, workers);
        java.util.concurrent.ExecutorService watchThread = java.util.concurrent.Executors.newSingleThreadExecutor();
        for (int w = 0; w < Math.min(workers, 2); w++) {
            db.tree(CrashJournal.treeOf(w)).watchPrefix(new byte[0], WatchDelivery.DURABLE, watchThread, 1 << 16)
                    .subscribe(watch);
        }
        CountDownLatch end = new CountDownLatch(workers);
        AtomicLongArray lastDone = new AtomicLongArray(workers);
        for (int w = 0; w < workers; w++) {
            lastDone.set(w, -1);
        }
        Thread backups = new Thread(() -> {
            try (CrashJournal journal = new CrashJournal(cycleDir.resolve(BACKUP_JOURNAL))) {
                try {
                    takeBackups(db, journal, cycleDir, lastDone, new SplittableRandom(seed * 31 + workers));
                } catch (Throwable e) {
                    journal.line("X " + e.toString().replace('\n', ' '));
                }
            } catch (IOException e) {
                e.printStackTrace();
            }
        }, "crash-backups");
        backups.setDaemon(true);
        backups.start();
        for (int w = 0; w < workers; w++) {
            int worker = w;
            Thread t = new Thread(() -> {
                try (CrashJournal journal = new CrashJournal(cycleDir.resolve("journal-" + worker))) {
                    try {
                        new Worker(db, journal, cycle, worker, new SplittableRandom(seed * 31 + worker), lastDone).run();
                    } catch (Throwable e) {
                        journal.line("X " + e.toString().replace('\n', ' '));
                    }
                } catch (IOException e) {
                    e.printStackTrace();
                } finally {
                    end.countDown();
                }
            }, "crash-worker-" + worker);
            t.start();
        }
        end.await();
        // Workers stop only when something went wrong; the parent reads why from the journals.
        System.exit(3);
    }

    /** The journal of the backups a child takes while its workers write. */
    static final String BACKUP_JOURNAL = "backups";
    /** The journal of what the durable watch reported. */
    static final String WATCH_JOURNAL = "watched";

    /**
     * Journals the latest operation of each worker that a durable watch reported: {@code W <worker> <seq>}
     * whenever it passes the last one journaled; {@code X <message>} for a value no worker of this cycle wrote.
     * Both trees' watches deliver on one thread, so the journal has one writer.
     */
    private static final class DurableWatch implements java.util.concurrent.Flow.Subscriber<WatchEvent> {
        private final CrashJournal journal;
        private final int cycle;
        private final long[] latest;

        DurableWatch(CrashJournal journal, int cycle, int workers) {
            this.journal = journal;
            this.cycle = cycle;
            this.latest = new long[workers];
            Arrays.fill(latest, -1);
        }

        @Override
        public void onSubscribe(java.util.concurrent.Flow.Subscription subscription) {
            subscription.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(WatchEvent event) {
            try {
                for (Change change : event.changes()) {
                    byte[] value = change.value();
                    if (value == null) {
                        continue; // a removal names no operation
                    }
                    long tag = java.nio.ByteBuffer.wrap(value, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
                    int worker = (int) ((tag >>> 32) & 0xFF);
                    long seq = (tag >>> 8) & 0xFF_FFFF;
                    if (tag >>> 40 != cycle || worker >= latest.length) {
                        journal.line("X the durable watch reported a value no worker of cycle " + cycle + " wrote");
                    } else if (seq > latest[worker]) {
                        latest[worker] = seq;
                        journal.line("W " + worker + " " + seq);
                    }
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void onError(Throwable error) {
            try {
                journal.line("E " + error.toString().replace('\n', ' '));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void onComplete() {}
    }

    /**
     * Every 50–300 ms, until killed, takes an online backup into {@code backup-<n>} of the cycle directory, or
     * exports the store to the dump file {@code dump-<n>} there, or backs it up into {@code source-<n>} and builds
     * the new store {@code built-<n>} of that backup's trees as it iterates them, or drops the store's
     * {@code copy-*} trees and builds {@code copy-<n>} in it of {@link #copyEntries} and flushes (5, 4, 2 and 3
     * times in 14): the line {@code S <n> <done0> <done1> ...} (backup), {@code D <n> <done0> ...} (export),
     * {@code B <n> <done0> ...} (build) or {@code T <n> <done0> ...} (a tree built), each worker's last operation
     * that had returned, so the copy must hold it, before the call; {@code E <n>} after it returned.
     */
    private static void takeBackups(Db db, CrashJournal journal, Path cycleDir, AtomicLongArray lastDone,
            SplittableRandom r) throws Exception {
        for (int n = 0; ; n++) {
            Thread.sleep(r.nextInt(50, 300));
            // a build opens the backup it builds from, with an actor system of its own: a third of the turns took
            // 40 % of the writers' operations away, so one turn in six
            int roll = r.nextInt(14);
            int kind = roll < 5 ? 0 : roll < 9 ? 1 : roll < 11 ? 2 : 3;
            StringBuilder line = new StringBuilder(kind == 0 ? "S " : kind == 1 ? "D " : kind == 2 ? "B " : "T ")
                    .append(n);
            for (int w = 0; w < lastDone.length(); w++) {
                line.append(' ').append(lastDone.get(w));
            }
            journal.line(line.toString());
            if (kind == 0) {
                db.backup(cycleDir.resolve("backup-" + n));
            } else if (kind == 1) {
                db.export(cycleDir.resolve("dump-" + n));
            } else if (kind == 3) {
                for (String name : db.treeNames()) {
                    if (name.startsWith(COPY_PREFIX)) {
                        db.dropTree(name);
                    }
                }
                db.buildTree(COPY_PREFIX + n, copyEntries(n).entrySet().iterator());
                db.flush();
            } else {
                Path source = cycleDir.resolve("source-" + n);
                db.backup(source);
                try (Db copy = Toboggan.open(config(), source)) {
                    Toboggan.build(config(), cycleDir.resolve("built-" + n), trees -> {
                        for (String name : copy.treeNames()) {
                            trees.tree(name, copy.tree(name).iterator());
                        }
                    });
                }
            }
            journal.line("E " + n);
        }
    }

    /** One writer of its own keys; runs until killed or until something is wrong. */
    private static final class Worker {
        private final Db db;
        private final Tree tree;
        private final CrashJournal journal;
        private final int cycle;
        private final int worker;
        private final SplittableRandom r;
        /** The worker's keys as the store should have them now (all its operations returned). */
        private final Map<Integer, byte[]> model = new HashMap<>();
        /** Every worker's last operation that returned, for the backups. */
        private final AtomicLongArray lastDone;
        private long seq;

        Worker(Db db, CrashJournal journal, int cycle, int worker, SplittableRandom r, AtomicLongArray lastDone) {
            this.lastDone = lastDone;
            this.db = db;
            this.tree = db.tree(CrashJournal.treeOf(worker));
            this.journal = journal;
            this.cycle = cycle;
            this.worker = worker;
            this.r = r;
            byte[] prefix = CrashJournal.workerPrefix(worker);
            for (Iterator<Map.Entry<byte[], byte[]>> it = tree.scanPrefix(prefix); it.hasNext(); ) {
                Map.Entry<byte[], byte[]> e = it.next();
                String key = new String(e.getKey(), java.nio.charset.StandardCharsets.US_ASCII);
                model.put(Integer.parseInt(key.substring(prefix.length)), e.getValue());
            }
        }

        void run() throws IOException {
            while (true) {
                int roll = r.nextInt(100);
                if (roll < 40) {
                    int key = key();
                    int len = length();
                    long s = pending("I " + key + " " + len);
                    byte[] v = CrashJournal.value(cycle, worker, s, 0, len);
                    tree.insert(CrashJournal.key(worker, key), v);
                    model.put(key, v);
                    done(s);
                } else if (roll < 52) {
                    int key = key();
                    long s = pending("R " + key);
                    tree.remove(CrashJournal.key(worker, key));
                    model.remove(key);
                    done(s);
                } else if (roll < 62) {
                    int key = key();
                    int len = r.nextInt(5) == 0 ? -1 : length();
                    long s = pending("C " + key + " " + len);
                    byte[] v = len < 0 ? null : CrashJournal.value(cycle, worker, s, 0, len);
                    SwapResult result = tree.compareAndSwap(CrashJournal.key(worker, key), model.get(key), v);
                    if (!result.succeeded()) {
                        journal.line("X swap of key " + key + " from its current value failed");
                        return;
                    }
                    if (v == null) {
                        model.remove(key);
                    } else {
                        model.put(key, v);
                    }
                    done(s);
                } else if (roll < 64) {
                    // A swap from a value the key never has must fail and change nothing (not journaled).
                    int key = key();
                    byte[] wrong = CrashJournal.value(-1, worker, seq, 0, 20);
                    if (tree.compareAndSwap(CrashJournal.key(worker, key), wrong, new byte[1]).succeeded()) {
                        journal.line("X swap of key " + key + " from a value it never had succeeded");
                        return;
                    }
                } else if (roll < 77) {
                    if (!batch()) {
                        return;
                    }
                } else if (roll < 80) {
                    if (!purge()) {
                        return;
                    }
                } else if (roll < 85) {
                    long upTo = seq - 1;
                    if (r.nextBoolean()) {
                        tree.flush();
                    } else {
                        tree.flushAsync().toCompletableFuture().join();
                    }
                    journal.line("F " + upTo);
                } else if (roll < 90) {
                    journal.line("N " + db.generateId());
                } else {
                    if (!checkScan()) {
                        return;
                    }
                }
            }
        }

        /** A batch of 1–8 random changes; {@code false} if something read back was wrong (journaled). */
        private boolean batch() throws IOException {
            int n = 1 + r.nextInt(8);
            int[] keys = new int[n];
            int[] lengths = new int[n];
            for (int i = 0; i < n; i++) {
                keys[i] = key();
                lengths[i] = r.nextInt(4) == 0 ? -1 : length();
            }
            return apply(keys, lengths);
        }

        /** Removes every key of a run of 10–40 as one batch: it empties leaves, so the tree merges nodes. */
        private boolean purge() throws IOException {
            int from = key();
            int to = from + 10 + r.nextInt(31);
            int[] keys = model.keySet().stream().mapToInt(Integer::intValue).filter(k -> k >= from && k < to)
                    .sorted().toArray();
            if (keys.length > 0) {
                int[] lengths = new int[keys.length];
                java.util.Arrays.fill(lengths, -1);
                return apply(keys, lengths);
            }
            return true;
        }

        /**
         * One atomic batch, journaled as a {@code B} line: {@code lengths[i]} -1 removes {@code keys[i]}.
         *
         * @return {@code false} if something read back was wrong (journaled)
         */
        private boolean apply(int[] keys, int[] lengths) throws IOException {
            int n = keys.length;
            StringBuilder line = new StringBuilder("B");
            for (int i = 0; i < n; i++) {
                line.append(' ').append(keys[i]).append(' ').append(lengths[i]);
            }
            long s = pending(line.toString());
            Batch batch = new Batch();
            Map<Integer, byte[]> after = new HashMap<>();
            for (int i = 0; i < n; i++) {
                byte[] k = CrashJournal.key(worker, keys[i]);
                if (lengths[i] < 0) {
                    batch.remove(k);
                    after.put(keys[i], null);
                } else {
                    byte[] v = CrashJournal.value(cycle, worker, s, i, lengths[i]);
                    batch.insert(k, v);
                    after.put(keys[i], v);
                }
            }
            if (s % 2 == 0) {
                tree.applyBatch(batch);
            } else if (!applyAsTransaction(keys, batch)) {
                return false;
            }
            after.forEach((k, v) -> {
                if (v == null) {
                    model.remove(k);
                } else {
                    model.put(k, v);
                }
            });
            done(s);
            return true;
        }

        /**
         * Makes {@code batch}'s changes in a transaction that first reads each of {@code keys}: nobody else writes
         * them, so each must hold the model's value ({@code X} line and {@code false} if not).
         */
        private boolean applyAsTransaction(int[] keys, Batch batch) throws IOException {
            String name = CrashJournal.treeOf(worker);
            String wrong = db.transaction(tx -> {
                for (int key : keys) {
                    byte[] read = tx.tree(name).get(CrashJournal.key(worker, key));
                    if (!Arrays.equals(read, model.get(key))) {
                        return "X transaction read key " + key + " other than the worker's last value of it";
                    }
                }
                tx.tree(name).applyBatch(batch);
                return null;
            });
            if (wrong != null) {
                journal.line(wrong);
                return false;
            }
            return true;
        }

        /**
         * Reads the worker's keys back (a range of them, or all by prefix): exactly the model's keys in that
         * range, in order, with the model's values.
         */
        private boolean checkScan() throws IOException {
            int from = r.nextInt(CrashJournal.KEYS_PER_WORKER);
            int to = from + r.nextInt(CrashJournal.KEYS_PER_WORKER - from + 1);
            boolean byPrefix = r.nextBoolean();
            if (byPrefix) {
                from = 0;
                to = CrashJournal.KEYS_PER_WORKER;
            }
            Iterator<Map.Entry<byte[], byte[]>> it = byPrefix
                    ? tree.scanPrefix(CrashJournal.workerPrefix(worker))
                    : tree.range(CrashJournal.key(worker, from), CrashJournal.key(worker, to));
            int prefixLength = CrashJournal.workerPrefix(worker).length;
            java.util.TreeSet<Integer> expected = new java.util.TreeSet<>(model.keySet()).subSet(from, true, to, false)
                    .stream().collect(java.util.stream.Collectors.toCollection(java.util.TreeSet::new));
            while (it.hasNext()) {
                Map.Entry<byte[], byte[]> e = it.next();
                int key = Integer.parseInt(new String(e.getKey(), java.nio.charset.StandardCharsets.US_ASCII)
                        .substring(prefixLength));
                Integer next = expected.pollFirst();
                if (next == null || key != next || !Arrays.equals(e.getValue(), model.get(key))) {
                    journal.line("X scan of [" + from + ", " + to + ") returned key " + key + " where the model has "
                            + next + " next, or a value the worker did not write last");
                    return false;
                }
            }
            if (!expected.isEmpty()) {
                journal.line("X scan of [" + from + ", " + to + ") missed keys " + expected);
                return false;
            }
            return true;
        }

        private int key() {
            return r.nextInt(CrashJournal.KEYS_PER_WORKER);
        }

        /** Mostly small values; one in ten a value page, one in forty a blob (larger than a quarter segment). */
        private int length() {
            int roll = r.nextInt(40);
            if (roll == 0) {
                return 17_000 + r.nextInt(20_000);
            } else if (roll < 4) {
                return 200 + r.nextInt(3000);
            }
            return 16 + r.nextInt(100);
        }

        private long pending(String op) throws IOException {
            long s = seq++;
            journal.line("P " + s + " " + op);
            return s;
        }

        private void done(long s) throws IOException {
            journal.line("D " + s);
            lastDone.set(worker, s);
        }
    }
}
