package dev.toboggan.bench.pagecache;

import dev.toboggan.bench.BenchDefaults;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.pagecache.CounterMaterializer;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.PageCacheConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * {@code get} of a resident page against {@code ConcurrentHashMap.get} over the same number of keys, on 1
 * and 2 threads, in the same run (target: page cache ≥ 0.5 × the map). Both look up keys in the same
 * random order from a precomputed array; the map's keys are boxed once, up front, so neither side pays
 * for boxing in the loop.
 */
@State(Scope.Benchmark)
public class PageCacheGetBenchmark extends BenchDefaults {

    @Param({"100000"})
    public int pages;

    private Path dir;
    private PageCache<Long, Long> cache;
    private ConcurrentHashMap<Long, Object> map;
    private long[] pids;
    private Long[] keys;

    /** A cursor per thread through the shared random order. */
    @State(Scope.Thread)
    public static class Cursor {
        int next;

        @Setup
        public void start() {
            next = (int) (Thread.currentThread().getId() * 7919);
        }
    }

    @Setup(Level.Trial)
    public void open() {
        dir = BenchDirs.create("pagecache-get");
        PageCacheConfig config = PageCacheConfig.of(LogConfig.defaults(dir).withFlushEvery(Duration.ZERO));
        // As in the engine: the reads record accesses and someone else (the Evictor) drains them. The
        // store is far under its capacity, so there is nothing to evict; the drain's cost is measured in the
        // engine-level benchmarks.
        dev.toboggan.core.Background evictorElsewhere = new dev.toboggan.core.Background() {
            @Override
            public void flushNeeded() {}

            @Override
            public boolean evictionNeeded() {
                return true;
            }
        };
        cache = PageCache.open(config, new FileChannelStorage(), evictorElsewhere, CounterMaterializer.INSTANCE);
        map = new ConcurrentHashMap<>();
        long[] allocated = new long[pages];
        for (int i = 0; i < pages; i++) {
            allocated[i] = cache.allocate((long) i).pid();
            map.put(allocated[i], Long.valueOf(i));
        }
        int[] order = new SplittableRandom(1).ints(1 << 20, 0, pages).toArray();
        pids = new long[order.length];
        keys = new Long[order.length];
        for (int i = 0; i < order.length; i++) {
            pids[i] = allocated[order[i]];
            keys[i] = allocated[order[i]]; // boxed once here
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        cache.close();
        BenchDirs.delete(dir);
    }

    private Object pageCacheGet(Cursor c) {
        return cache.get(pids[c.next++ & (pids.length - 1)]);
    }

    private Object mapGet(Cursor c) {
        return map.get(keys[c.next++ & (keys.length - 1)]);
    }

    @Benchmark
    @Threads(1)
    public Object pageCache1Thread(Cursor c) {
        return pageCacheGet(c);
    }

    @Benchmark
    @Threads(1)
    public Object baselineMap1Thread(Cursor c) {
        return mapGet(c);
    }

    @Benchmark
    @Threads(2)
    public Object pageCache2Threads(Cursor c) {
        return pageCacheGet(c);
    }

    @Benchmark
    @Threads(2)
    public Object baselineMap2Threads(Cursor c) {
        return mapGet(c);
    }
}
