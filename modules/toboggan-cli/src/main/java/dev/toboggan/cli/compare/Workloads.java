package dev.toboggan.cli.compare;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import dev.toboggan.cli.Directories;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Stream;

/**
 * The workloads {@code toboggan compare} runs on every store, one after the other, each figure a
 * {@link Figure}:
 * <ol>
 *   <li><b>load</b>: every key inserted in a random order on one thread, then {@link KvStore#flush()}
 *       (timed with them);
 *   <li><b>space</b>: the store's files over the keys' and values' bytes right after the load, again once
 *       the files have not changed for {@value #QUIET_MILLIS} ms (background compaction or cleaning;
 *       waited for at most {@link Sizes#settleMillis()}), and again once the store is closed;
 *   <li><b>reopen</b>: opening the closed store until its first get returns the right value; then every
 *       key is read once, unmeasured (checks the reopened store, and warms it);
 *   <li><b>reads</b>: {@link Sizes#ops()} gets of random keys on one thread, then on each of
 *       {@link Sizes#threads()} threads at once;
 *   <li><b>mixed</b>: 80 % gets and 20 % overwrites on one thread, then 95 % gets and 5 % overwrites on
 *       each of {@link Sizes#threads()} threads at once, each followed by a flush;
 *   <li><b>durable writes</b>: the bare baseline (an append of an entry's bytes to a plain file plus
 *       {@code force(false)}, {@link Sizes#durableOps()} times), then as many overwrites each made
 *       durable before the next ({@link KvStore#putDurably}) by one writer, then by
 *       {@link Sizes#writers()} writers at once;
 *   <li><b>bulk load</b>: every key, sorted before the timing, into an empty store of its own in a new directory
 *       under the scratch directory, through the store's way for sorted data ({@link KvStore#bulkLoad}), then
 *       {@link KvStore#flush()} (timed with it); every key is then read back and checked, and the store deleted.
 * </ol>
 * A peer that keeps no files (the in-memory references, {@link Peer#keepsFiles()}) runs the load, the reads,
 * the mixed workloads and the bulk load only. Every value read is checked against the version last written
 * ({@link Entries}), so a store that returns wrong data cannot look fast. Concurrent writers each overwrite keys of their own (key number
 * modulo the thread count), so a reader knows the range of versions a key may hold while it reads.
 */
final class Workloads {
    /** Files unchanged this long count as settled. */
    static final long QUIET_MILLIS = 1000;

    /** One store's figures, and how many values it read back wrong. */
    record Result(Peer peer, Map<Figure, Double> figures, long wrongValues) {
        double get(Figure figure) {
            return figures.getOrDefault(figure, Double.NaN);
        }
    }

    private final Entries entries;
    private final Sizes sizes;
    private final long seed;
    /** The entries' numbers in ascending unsigned order of their keys, made at the first bulk load. */
    private int[] sortedByKey;

    Workloads(Entries entries, Sizes sizes, long seed) {
        if (entries.count() != sizes.keys()) {
            throw new IllegalArgumentException(entries.count() + " entries for " + sizes.keys() + " keys");
        }
        this.entries = entries;
        this.sizes = sizes;
        this.seed = seed;
    }

    /** The entries' numbers in ascending unsigned order of their keys (sorted once for every store). */
    private int[] sortedByKey() {
        if (sortedByKey == null) {
            byte[][] keys = new byte[entries.count()][];
            Integer[] order = new Integer[keys.length];
            for (int i = 0; i < keys.length; i++) {
                keys[i] = entries.key(i);
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Arrays.compareUnsigned(keys[a], keys[b]));
            sortedByKey = Arrays.stream(order).mapToInt(Integer::intValue).toArray();
        }
        return sortedByKey;
    }

    /** Opens a store in a directory, creating it if the directory is empty ({@link Peer#open}). */
    @FunctionalInterface
    interface Opener {
        KvStore open(Path dir) throws Exception;
    }

    /** Runs every workload on {@code peer} in the empty directory {@code dir}; the bare loop's file goes in {@code scratch}. */
    Result run(Peer peer, Path dir, Path scratch) throws Exception {
        return run(peer, peer::open, dir, scratch);
    }

    /** The same with the store {@code opener} opens, reported as {@code peer}'s. */
    Result run(Peer peer, Opener opener, Path dir, Path scratch) throws Exception {
        return new Run(peer, opener, dir, scratch).all();
    }

    /** One store's pass through the workloads: its versions, its count of wrong values, its open store. */
    private final class Run {
        final Peer peer;
        final Opener opener;
        final Path dir;
        final Path scratch;
        final int keys = sizes.keys();
        /** The version each entry holds (0: never written); only its own writer thread raises it. */
        final AtomicIntegerArray versions = new AtomicIntegerArray(keys);
        /**
         * Whether any entry was overwritten since the load: until then every entry holds version 1, and a
         * check need not read {@link #versions} (a cache miss of the harness's own per random read).
         */
        volatile boolean overwritten;
        final LongAdder wrong = new LongAdder();
        final Map<Figure, Double> figures = new EnumMap<>(Figure.class);
        final double entryBytes = (double) keys * entries.entryBytes();
        KvStore store;

        Run(Peer peer, Opener opener, Path dir, Path scratch) {
            this.peer = peer;
            this.opener = opener;
            this.dir = dir;
            this.scratch = scratch;
        }

        Result all() throws Exception {
            try {
                store = opener.open(dir);
                load();
                if (!peer.keepsFiles()) {
                    // Nothing on disk: no space, reopen or durable figure means anything.
                    reads();
                    mixed();
                    bulkLoad();
                    return new Result(peer, figures, wrong.sum());
                }
                space();
                reopen();
                reads();
                mixed();
                durableWrites();
                store.close();
                store = null;
                long end = sizeOf(dir);
                figures.put(Figure.DISK_BYTES, (double) end);
                figures.put(Figure.SPACE_END, end / entryBytes);
                bulkLoad();
            } finally {
                if (store != null) {
                    store.close();
                }
            }
            return new Result(peer, figures, wrong.sum());
        }

        void load() throws Exception {
            int[] order = shuffled(keys, new SplittableRandom(seed));
            double seconds = onThreads(1, thread -> {
                for (int i : order) {
                    store.put(entries.key(i), entries.value(i, 1));
                }
                store.flush();
            });
            for (int i = 0; i < keys; i++) {
                versions.set(i, 1);
            }
            figures.put(Figure.LOAD, keys / seconds);
        }

        void bulkLoad() throws Exception {
            int[] order = sortedByKey();
            Path bulkDir = Files.createDirectories(scratch.resolve(peer.label() + "-bulk"));
            try (KvStore bulk = opener.open(bulkDir)) {
                double seconds = onThreads(1, thread -> {
                    bulk.bulkLoad(new Iterator<>() {
                        private int next;

                        @Override
                        public boolean hasNext() {
                            return next < order.length;
                        }

                        @Override
                        public Map.Entry<byte[], byte[]> next() {
                            int i = order[next++];
                            return Map.entry(entries.key(i), entries.value(i, 1));
                        }
                    });
                    bulk.flush();
                });
                figures.put(Figure.BULK_LOAD, keys / seconds);
                for (int i = 0; i < keys; i++) {
                    if (!entries.is(i, 1, bulk.get(entries.key(i)))) {
                        wrong.increment();
                    }
                }
            } finally {
                Directories.deleteRecursively(bulkDir);
            }
        }

        void space() throws Exception {
            figures.put(Figure.SPACE_LOADED, sizeOf(dir) / entryBytes);
            if (sizes.settleMillis() > 0) {
                figures.put(Figure.SETTLE_MS, settle(dir, sizes.settleMillis()));
                figures.put(Figure.SPACE_SETTLED, sizeOf(dir) / entryBytes);
            }
            store.close();
            store = null;
            figures.put(Figure.SPACE_CLOSED, sizeOf(dir) / entryBytes);
        }

        void reopen() throws Exception {
            int probe = new SplittableRandom(seed + 3).nextInt(keys);
            long start = System.nanoTime();
            store = opener.open(dir);
            byte[] first = store.get(entries.key(probe));
            figures.put(Figure.REOPEN_MS, (System.nanoTime() - start) / 1e6);
            check(probe, first);
            for (int i = 0; i < keys; i++) {
                check(i, store.get(entries.key(i)));
            }
        }

        void reads() throws Exception {
            figures.put(Figure.READ, sizes.ops() / onThreads(1, thread -> readRandomKeys(thread)));
            figures.put(Figure.READ_THREADS,
                    (double) sizes.ops() * sizes.threads() / onThreads(sizes.threads(), thread -> readRandomKeys(thread)));
        }

        void readRandomKeys(int thread) throws Exception {
            SplittableRandom random = new SplittableRandom(seed + 10 + thread);
            for (int n = 0; n < sizes.ops(); n++) {
                int i = random.nextInt(keys);
                check(i, store.get(entries.key(i)));
            }
        }

        void mixed() throws Exception {
            figures.put(Figure.MIXED, sizes.ops() / onThreads(1, thread -> {
                mix(thread, 1, 20, new SplittableRandom(seed + 2));
                store.flush();
            }));
            int threads = sizes.threads();
            figures.put(Figure.MIXED_THREADS, (double) sizes.ops() * threads / onThreads(threads, thread -> {
                mix(thread, threads, 5, new SplittableRandom(seed + 20 + thread));
                // Each thread flushes its own writes, as a writer that needs them durable would.
                store.flush();
            }));
        }

        /** {@code ops} operations, {@code writePercent} % of them overwrites of this thread's own keys. */
        void mix(int thread, int threads, int writePercent, SplittableRandom random) throws Exception {
            for (int n = 0; n < sizes.ops(); n++) {
                int i = random.nextInt(keys);
                if (random.nextInt(100) < writePercent) {
                    overwrite(own(i, thread, threads), false);
                } else {
                    int oldest = versions.get(i);
                    byte[] read = store.get(entries.key(i));
                    // The key's writer may have put the next version and not yet counted it.
                    if (!entries.isBetween(i, oldest, versions.get(i) + (threads > 1 ? 1 : 0), read)) {
                        wrong.increment();
                    }
                }
            }
        }

        void durableWrites() throws Exception {
            figures.put(Figure.BARE_FSYNC, sizes.durableOps() / bareFsyncLoop());
            figures.put(Figure.DURABLE, sizes.durableOps() / durablePuts(1));
            figures.put(Figure.DURABLE_WRITERS, sizes.durableOps() / durablePuts(sizes.writers()));
        }

        /** Seconds of {@code writers} threads making {@link Sizes#durableOps()} overwrites durable one by one. */
        double durablePuts(int writers) throws Exception {
            List<List<Integer>> written = new ArrayList<>();
            for (int t = 0; t < writers; t++) {
                written.add(new ArrayList<>());
            }
            double seconds = onThreads(writers, thread -> {
                SplittableRandom random = new SplittableRandom(seed + 100 * writers + thread);
                int share = sizes.durableOps() / writers + (thread < sizes.durableOps() % writers ? 1 : 0);
                for (int n = 0; n < share; n++) {
                    int i = own(random.nextInt(keys), thread, writers);
                    overwrite(i, true);
                    written.get(thread).add(i);
                }
            });
            for (List<Integer> ofThread : written) {
                for (int i : ofThread) {
                    check(i, store.get(entries.key(i)));
                }
            }
            return seconds;
        }

        /** Seconds of one thread appending an entry's bytes to a plain file and forcing it, durableOps times. */
        double bareFsyncLoop() throws Exception {
            Path file = scratch.resolve(peer.label() + "-bare-fsync");
            ByteBuffer record = ByteBuffer.allocateDirect(entries.entryBytes());
            record.put(entries.key(0)).put(entries.value(0, 1)).flip();
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                return onThreads(1, thread -> {
                    long end = 0;
                    for (int n = 0; n < sizes.durableOps(); n++) {
                        record.rewind();
                        while (record.hasRemaining()) {
                            end += channel.write(record, end);
                        }
                        channel.force(false);
                    }
                });
            } finally {
                Files.deleteIfExists(file);
            }
        }

        /** Writes entry {@code i}'s next version; only the thread that owns {@code i} calls this. */
        void overwrite(int i, boolean durably) throws Exception {
            overwritten = true;
            int version = versions.get(i) + 1;
            if (durably) {
                store.putDurably(entries.key(i), entries.value(i, version));
            } else {
                store.put(entries.key(i), entries.value(i, version));
            }
            versions.set(i, version);
        }

        void check(int i, byte[] read) {
            if (!entries.is(i, overwritten ? versions.get(i) : 1, read)) {
                wrong.increment();
            }
        }

        /** The key nearest {@code i} that thread {@code thread} of {@code threads} owns. */
        int own(int i, int thread, int threads) {
            int owned = i - i % threads + thread;
            return owned < keys ? owned : owned - threads;
        }
    }

    /** The body of one thread of a workload. */
    @FunctionalInterface
    interface ThreadBody {
        void run(int thread) throws Exception;
    }

    /**
     * Runs {@code body} on {@code threads} new threads released together, and returns the seconds from their
     * release until the last one finished; the first exception any of them threw is rethrown.
     */
    static double onThreads(int threads, ThreadBody body) throws Exception {
        CountDownLatch ready = new CountDownLatch(threads);
        CountDownLatch go = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int thread = t;
            Thread th = new Thread(() -> {
                ready.countDown();
                try {
                    go.await();
                    body.run(thread);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, "compare-" + t);
            th.start();
            started.add(th);
        }
        ready.await();
        long start = System.nanoTime();
        go.countDown();
        for (Thread th : started) {
            th.join();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        Throwable e = failure.get();
        if (e instanceof Exception ex) {
            throw ex;
        } else if (e instanceof Error err) {
            throw err;
        }
        return seconds;
    }

    /**
     * Waits until the bytes under {@code dir} have not changed for {@value #QUIET_MILLIS} ms, at most
     * {@code limitMillis}.
     *
     * @return milliseconds from the call until the last change seen (0 if none), or infinity if the files
     *         were still changing at the limit
     */
    static double settle(Path dir, long limitMillis) throws IOException, InterruptedException {
        long start = System.nanoTime();
        long size = sizeOf(dir);
        long lastChange = start;
        while (true) {
            long now = System.nanoTime();
            if (now - lastChange >= QUIET_MILLIS * 1_000_000) {
                return (lastChange - start) / 1e6;
            }
            if (now - start >= limitMillis * 1_000_000) {
                return Double.POSITIVE_INFINITY;
            }
            Thread.sleep(100);
            long now2 = sizeOf(dir);
            if (now2 != size) {
                size = now2;
                lastChange = System.nanoTime();
            }
        }
    }

    private static int[] shuffled(int n, SplittableRandom random) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    /**
     * Bytes of every file under {@code dir}. A store compacting in the background may delete a file or a
     * directory while this counts: then it counts again.
     */
    static long sizeOf(Path dir) throws IOException {
        for (int attempt = 1; ; attempt++) {
            try (Stream<Path> files = Files.walk(dir)) {
                return files.filter(Files::isRegularFile).mapToLong(p -> {
                    try {
                        return Files.size(p);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }).sum();
            } catch (UncheckedIOException e) {
                if (attempt == 10 || !(e.getCause() instanceof NoSuchFileException)) {
                    throw e.getCause();
                }
            }
        }
    }
}
