package dev.toboggan.bench.cache;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.bench.BenchDefaults;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.core.pagecache.BytesMaterializer;
import dev.toboggan.core.pagecache.CacheStats;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.engine.Engine;
import dev.toboggan.engine.EngineSettings;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * Reads on a Zipf workload through an engine whose cache holds a tenth of the pages, misses read from
 * disk: the engine's W-TinyLFU hit ratio against plain LRU at the same capacity, over the same trace.
 * The LRU figure is an exact simulation (a {@link LinkedHashMap} in access order holding as many pages
 * as the capacity does: every page has the same weight); the engine's is measured (its exact miss count
 * against the gets this benchmark made). Both ratios are printed after each iteration and at the end;
 * the score is the read throughput.
 */
@State(Scope.Benchmark)
public class ZipfHitRatioBenchmark extends BenchDefaults {
    private static final int PAGE_BYTES = 1024;
    private static final int TRACE = 1 << 21;

    @Param({"50000"})
    public int pages;

    @Param({"0.99"})
    public double skew;

    private Path dir;
    private Engine<byte[], byte[]> engine;
    private PageCache<byte[], byte[]> cache;
    private long[] trace;
    private int next;
    private long reads;
    private long missesAtStart;
    private double lruHitRatio;
    private int lruPosition;
    private LinkedHashMap<Long, Boolean> lru;
    private long lruHits;
    private long lruReads;
    private int lruCapacity;

    @Setup(Level.Trial)
    public void open() {
        dir = BenchDirs.create("cache-zipf");
        long capacity = Math.max(1L << 20, (long) pages * (PAGE_BYTES + 16 + 160) / 10);
        EngineSettings settings = EngineSettings.fromConfig(ConfigFactory.parseString(
                "toboggan.cache-capacity = " + capacity + "\ntoboggan.durability = os"), dir);
        engine = Engine.open(settings, BytesMaterializer.INSTANCE);
        cache = engine.pageCache();
        long[] pids = new long[pages];
        for (int i = 0; i < pages; i++) {
            pids[i] = cache.allocate(new byte[PAGE_BYTES]).pid();
        }
        engine.flush();
        long weight = cache.get(pids[0]).weight();
        lruCapacity = (int) (capacity / weight);
        trace = zipfTrace(pids, skew, TRACE, new SplittableRandom(7));
        lru = new LinkedHashMap<>(lruCapacity * 2, 0.75f, true);
        missesAtStart = cache.cacheStats().misses();
    }

    /** {@code length} page ids, the i-th most popular drawn with probability proportional to 1 / i^skew. */
    static long[] zipfTrace(long[] pids, double skew, int length, SplittableRandom random) {
        double[] cumulative = new double[pids.length];
        double sum = 0;
        for (int i = 0; i < pids.length; i++) {
            sum += 1 / Math.pow(i + 1, skew);
            cumulative[i] = sum;
        }
        long[] shuffled = pids.clone(); // popularity unrelated to allocation order
        for (int i = shuffled.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            long t = shuffled[i];
            shuffled[i] = shuffled[j];
            shuffled[j] = t;
        }
        long[] trace = new long[length];
        for (int k = 0; k < length; k++) {
            double u = random.nextDouble() * sum;
            int at = java.util.Arrays.binarySearch(cumulative, u);
            trace[k] = shuffled[at >= 0 ? at : Math.min(pids.length - 1, -at - 1)];
        }
        return trace;
    }

    @TearDown(Level.Iteration)
    public void report() {
        // The LRU simulation replays exactly the part of the trace the engine was given.
        for (; lruPosition < next; lruPosition++) {
            long pid = trace[lruPosition & (TRACE - 1)];
            lruReads++;
            if (lru.get(pid) != null) {
                lruHits++;
            } else {
                lru.put(pid, Boolean.TRUE);
                if (lru.size() > lruCapacity) {
                    lru.remove(lru.keySet().iterator().next());
                }
            }
        }
        lruHitRatio = (double) lruHits / lruReads;
        CacheStats stats = cache.cacheStats();
        double hitRatio = 1 - (double) (stats.misses() - missesAtStart) / reads;
        System.out.printf("%nhit ratio after %d reads: W-TinyLFU %.4f, LRU %.4f (ratio %.3f); resident %d of %d bytes, "
                + "%d evictions%n", reads, hitRatio, lruHitRatio, hitRatio / lruHitRatio, stats.residentBytes(),
                stats.capacity(), stats.evictions());
    }

    @TearDown(Level.Trial)
    public void close() {
        engine.close();
        BenchDirs.delete(dir);
    }

    @Benchmark
    @Threads(1)
    public Object zipfRead() {
        reads++;
        return cache.get(trace[next++ & (TRACE - 1)]);
    }
}
