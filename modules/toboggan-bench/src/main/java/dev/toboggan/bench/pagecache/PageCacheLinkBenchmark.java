package dev.toboggan.bench.pagecache;

import dev.toboggan.bench.BenchDefaults;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.log.FlushThread;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.pagecache.CasResult;
import dev.toboggan.core.pagecache.CounterMaterializer;
import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.PageCacheConfig;
import java.nio.file.Path;
import java.time.Duration;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * {@code link} of a small delta (8 bytes) on one thread, no fsync asked for (target ≥ 1 M ops/s). Links go
 * round-robin over {@code pages} resident pages, so every tenth link of a page is a consolidation (a
 * {@code replace} with the merged page), as the default threshold makes it. A background FlushThread
 * writes full buffers; a fresh store per iteration keeps the disk bounded.
 */
@State(Scope.Benchmark)
public class PageCacheLinkBenchmark extends BenchDefaults {

    @Param({"10000"})
    public int pages;

    private Path dir;
    private FlushThread flusher;
    private PageCache<Long, Long> cache;
    private long[] pids;
    private int next;

    @Setup(Level.Iteration)
    public void open() {
        dir = BenchDirs.create("pagecache-link");
        PageCacheConfig config = PageCacheConfig.of(LogConfig.defaults(dir).withFlushEvery(Duration.ZERO));
        flusher = new FlushThread("bench-flusher", Duration.ZERO);
        cache = PageCache.open(config, new FileChannelStorage(), flusher, CounterMaterializer.INSTANCE);
        flusher.start(cache.log());
        pids = new long[pages];
        for (int i = 0; i < pages; i++) {
            pids[i] = cache.allocate(0L).pid();
        }
    }

    @TearDown(Level.Iteration)
    public void close() {
        if (VERBOSE) {
            System.out.println("\n" + cache.log().stats() + " load " + loadAverage());
        }
        flusher.close();
        cache.close();
        BenchDirs.delete(dir);
    }

    @Benchmark
    @Threads(1)
    public boolean link() {
        long pid = pids[next++ % pids.length];
        Page<Long> view = cache.get(pid);
        CasResult<Long> r = cache.link(pid, view, 1L);
        return r.succeeded();
    }
}
