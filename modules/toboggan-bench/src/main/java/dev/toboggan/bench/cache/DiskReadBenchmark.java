package dev.toboggan.bench.cache;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.Db;
import dev.toboggan.StoreInternals;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDefaults;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.bench.RandomOrder;
import dev.toboggan.core.pagecache.CacheStats;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.PageCacheMetrics;
import dev.toboggan.core.pagecache.PageCacheMetrics.Op;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.zip.CRC32C;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.Txn;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * Issue 7: point reads with a working set four times the cache, so most reads page a node in from
 * disk, against LMDB on the same data. Both stores hold the same {@code keys} keys of 16 bytes with
 * values of 100 to 1000 bytes (incompressible, their length and content drawn from the key's index),
 * loaded once in the same random order and kept under {@link BenchDirs#root()} in
 * {@code toboggan-bench-diskread-<keys>-<store>} for later runs (delete those directories and their
 * {@code .loaded} marks to reload).
 *
 * <ul>
 *   <li>Toboggan: {@code cache-capacity} = {@code cacheFraction} × the bytes of the keys and values
 *       (its heap estimate of a node is above the raw bytes, so less than that share of the nodes fits);
 *       a fork opens the store fresh, every page paged out, so warm-up fills the cache.
 *   <li>LMDB (lmdbjava 0.9.1, byte[] buffers as in {@code toboggan compare}): one read transaction per
 *       get. LMDB has no cache of its own: it reads a memory map the OS page cache backs.
 * </ul>
 * Toboggan's page-ins are positional reads of its log, also served by the OS page cache: neither store
 * reaches the disk once the files are cached (they are far smaller than the machine's memory), so this
 * measures a miss's whole cost in the store, not the device.
 *
 * <p>Reads: {@code uniform} draws keys uniformly; {@code zipf} draws them Zipf(0.99) (popularity unrelated
 * to key order) from a trace shared by the threads. Every value read is checked (length and CRC32C
 * against the expected value's), so a store returning wrong data fails the run. Toboggan's hit ratio,
 * page-ins per read, log reads per page-in and resident bytes are printed after each iteration.
 *
 * <p>On a loaded machine, where two forks a minute apart see different loads, {@link DiskReadInterleaved}
 * reads the same stores in one JVM in alternating rounds.
 */
@State(Scope.Benchmark)
public class DiskReadBenchmark extends BenchDefaults {
    static final int KEY_SIZE = 16;
    static final int MIN_VALUE = 100;
    static final int MAX_VALUE = 1000;
    private static final int TRACE = 1 << 22;
    private static final int LMDB_LOAD_BATCH = 1000;

    @Param({"400000"})
    public int keys;

    @Param({"toboggan", "lmdb"})
    public String store;

    @Param({"uniform", "zipf"})
    public String distribution;

    /** Toboggan's {@code cache-capacity} as a share of the bytes of the keys and values. */
    @Param({"0.25"})
    public double cacheFraction;

    /** More Toboggan settings (HOCON), to compare them in one run, e.g. {@code toboggan.page-in-parallelism = 1}. */
    @Param({""})
    public String tobogganSettings;

    private Reader reader;
    private int[] valueCrcs;
    private int[] trace;
    private final AtomicInteger threadSeeds = new AtomicInteger();
    private final LongAdder reads = new LongAdder();
    private long readsAtIteration;
    private long pageInsAtIteration;
    private long pullsAtIteration;
    private long runsAtIteration;

    /** One store's reads. */
    interface Reader extends AutoCloseable {
        byte[] get(byte[] key);

        @Override
        void close();
    }

    @Setup(Level.Trial)
    public void open() {
        valueCrcs = new int[keys];
        long dataBytes = 0;
        for (int i = 0; i < keys; i++) {
            byte[] value = value(i);
            valueCrcs[i] = crc(new CRC32C(), value);
            dataBytes += KEY_SIZE + value.length;
        }
        Path dir = BenchDirs.root().resolve("toboggan-bench-diskread-" + keys + "-" + store);
        reader = switch (store) {
            case "toboggan" -> openToboggan(dir, (long) (dataBytes * cacheFraction));
            case "lmdb" -> openLmdb(dir);
            default -> throw new IllegalArgumentException("store is toboggan or lmdb, not " + store);
        };
        if (distribution.equals("zipf")) {
            trace = zipfTrace(keys, 0.99, new SplittableRandom(11));
        } else if (!distribution.equals("uniform")) {
            throw new IllegalArgumentException("distribution is uniform or zipf, not " + distribution);
        }
        System.out.printf("%n%s: %d keys, %.1f MiB of keys and values%n", store, keys, dataBytes / 1048576.0);
    }

    @TearDown(Level.Trial)
    public void close() {
        reader.close();
    }

    @Setup(Level.Iteration)
    public void markIteration() {
        readsAtIteration = reads.sum();
        if (reader instanceof TobogganReader t) {
            PageCacheMetrics.Snapshot metrics = StoreInternals.pageCache(t.db).metrics();
            pageInsAtIteration = metrics.get(Op.PAGE_IN).count();
            pullsAtIteration = metrics.get(Op.PULL).count();
            runsAtIteration = StoreInternals.pageCache(t.db).evictor().runs();
        }
    }

    @TearDown(Level.Iteration)
    public void report() {
        if (reader instanceof TobogganReader t) {
            PageCache<?, ?> cache = StoreInternals.pageCache(t.db);
            CacheStats stats = cache.cacheStats();
            PageCacheMetrics.Snapshot metrics = cache.metrics();
            long n = reads.sum() - readsAtIteration;
            long pageIns = metrics.get(Op.PAGE_IN).count() - pageInsAtIteration;
            long pulls = metrics.get(Op.PULL).count() - pullsAtIteration;
            long runs = cache.evictor().runs() - runsAtIteration;
            System.out.printf("%nreads %d, page-ins %d (%.3f per read, %.2f log reads each), %d eviction runs; since "
                    + "open: page hit ratio %.4f, resident %.1f of %.1f MiB, %d evictions; load average %.1f%n", n,
                    pageIns, (double) pageIns / n, (double) pulls / pageIns, runs, stats.hitRatio(),
                    stats.residentBytes() / 1048576.0, stats.capacity() / 1048576.0, stats.evictions(), loadAverage());
        }
    }

    /** Each thread's random source and checksum. */
    @State(Scope.Thread)
    public static class ThreadState {
        SplittableRandom random;
        int position;
        final CRC32C crc = new CRC32C();

        @Setup(Level.Trial)
        public void seed(DiskReadBenchmark bench) {
            int n = bench.threadSeeds.incrementAndGet();
            random = new SplittableRandom(1000 + n);
            position = n * (TRACE / 8);
        }
    }

    @Benchmark
    @Threads(1)
    public byte[] get1Thread(ThreadState thread) {
        return read(thread);
    }

    @Benchmark
    @Threads(2)
    public byte[] get2Threads(ThreadState thread) {
        return read(thread);
    }

    private byte[] read(ThreadState thread) {
        int index = trace == null ? thread.random.nextInt(keys) : trace[thread.position++ & (TRACE - 1)];
        byte[] value = reader.get(key(index));
        if (value == null || value.length != valueLength(index) || crc(thread.crc, value) != valueCrcs[index]) {
            throw new IllegalStateException(store + " returned a wrong value for key " + index + ": "
                    + (value == null ? "none" : value.length + " bytes"));
        }
        reads.increment();
        return value;
    }

    // ---------------------------------------------------------------- data

    /** 8 bytes spreading the keys over the key space, then the index: unique, and in no index order. */
    static byte[] key(int index) {
        return ByteBuffer.allocate(KEY_SIZE).putLong(mix(index)).putLong(index).array();
    }

    static int valueLength(int index) {
        return MIN_VALUE + (int) Long.remainderUnsigned(mix(index ^ 0x5DEECE66DL), MAX_VALUE - MIN_VALUE + 1);
    }

    static byte[] value(int index) {
        byte[] value = new byte[valueLength(index)];
        new SplittableRandom(index).nextBytes(value);
        return value;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
        z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return z ^ (z >>> 33);
    }

    private static int crc(CRC32C crc, byte[] bytes) {
        crc.reset();
        crc.update(bytes);
        return (int) crc.getValue();
    }

    /** Every key once, in the random order both stores are loaded in. */
    private static int[] loadOrder(int n) {
        return RandomOrder.of(n, 3);
    }

    /** {@link #TRACE} key indexes drawn Zipf({@code skew}), as {@link ZipfHitRatioBenchmark} draws its pages. */
    private static int[] zipfTrace(int n, double skew, SplittableRandom random) {
        long[] indexes = new long[n];
        for (int i = 0; i < n; i++) {
            indexes[i] = i;
        }
        long[] drawn = ZipfHitRatioBenchmark.zipfTrace(indexes, skew, TRACE, random);
        int[] trace = new int[TRACE];
        for (int k = 0; k < TRACE; k++) {
            trace[k] = (int) drawn[k];
        }
        return trace;
    }

    // ---------------------------------------------------------------- stores

    private static final class TobogganReader implements Reader {
        final Db db;

        TobogganReader(Db db) {
            this.db = db;
        }

        @Override
        public byte[] get(byte[] key) {
            return db.get(key);
        }

        @Override
        public void close() {
            db.close();
        }
    }

    private Reader openToboggan(Path dir, long cacheCapacity) {
        boolean loaded = isLoaded(dir);
        if (!loaded) {
            BenchDirs.delete(dir);
        }
        // durability = os: the load need not wait for fsyncs, and reads never write.
        Config settings = ConfigFactory.parseString(tobogganSettings == null ? "" : tobogganSettings)
                .withFallback(ConfigFactory.parseMap(Map.of("toboggan.cache-capacity", cacheCapacity,
                        "toboggan.durability", "os")));
        Db db = Toboggan.open(settings, dir);
        if (!loaded) {
            long start = System.nanoTime();
            for (int index : loadOrder(keys)) {
                db.insert(key(index), value(index));
            }
            db.flush();
            System.out.printf("%nloaded Toboggan in %.1f s%n", (System.nanoTime() - start) / 1e9);
            db.close(); // reopened below: every page paged out, as after any open
            markLoaded(dir);
            db = Toboggan.open(settings, dir);
        }
        return new TobogganReader(db);
    }

    private Reader openLmdb(Path dir) {
        boolean loaded = isLoaded(dir);
        if (!loaded) {
            BenchDirs.delete(dir);
            try {
                Files.createDirectories(dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMapSize(8L << 30).setMaxDbs(1)
                .open(dir.toFile(), EnvFlags.MDB_NOSYNC);
        Dbi<byte[]> dbi = env.openDbi("diskread", DbiFlags.MDB_CREATE);
        if (!loaded) {
            long start = System.nanoTime();
            int[] order = loadOrder(keys);
            for (int from = 0; from < order.length; from += LMDB_LOAD_BATCH) {
                try (Txn<byte[]> txn = env.txnWrite()) {
                    for (int i = from; i < Math.min(order.length, from + LMDB_LOAD_BATCH); i++) {
                        dbi.put(txn, key(order[i]), value(order[i]));
                    }
                    txn.commit();
                }
            }
            env.sync(true);
            System.out.printf("%nloaded LMDB in %.1f s%n", (System.nanoTime() - start) / 1e9);
            markLoaded(dir);
        }
        return new Reader() {
            @Override
            public byte[] get(byte[] key) {
                try (Txn<byte[]> txn = env.txnRead()) {
                    return dbi.get(txn, key);
                }
            }

            @Override
            public void close() {
                env.close();
            }
        };
    }

    /** The mark that a store's directory holds the whole data set: a file next to it, not in it. */
    private static Path loadedMark(Path dir) {
        return dir.resolveSibling(dir.getFileName() + ".loaded");
    }

    private static boolean isLoaded(Path dir) {
        return Files.exists(loadedMark(dir)) && Files.isDirectory(dir);
    }

    private static void markLoaded(Path dir) {
        try {
            Files.writeString(loadedMark(dir), "loaded by DiskReadBenchmark\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
