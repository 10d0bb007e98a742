package dev.toboggan.bench.snapshot;

import dev.toboggan.bench.BenchDefaults;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.core.Background;
import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.pagecache.CounterMaterializer;
import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.PageCacheConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Open time of a store of {@code pages} small pages after a clean close (which takes a snapshot), in a
 * warm JVM: each measured operation is one {@code PageCache.open}; the close after it is untimed. With
 * {@code history = 10} every page was rewritten nine more times before the close: open time must not grow
 * with history (targets: ≤ 50 ms warm for 1 M pages, and ≤ 2× the 1× figure after 10× the history). For a
 * fresh JVM, run one single shot per fork: {@code -f 5 -wi 0 -i 1}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5)
@Measurement(iterations = 10)
public class OpenTimeBenchmark extends BenchDefaults {

    @Param({"1000000"})
    public int pages;

    @Param({"1", "10"})
    public int history;

    private Path dir;
    private PageCacheConfig config;
    private PageCache<Long, Long> opened;

    @Setup(Level.Trial)
    public void build() {
        dir = BenchDirs.create("open-time");
        config = PageCacheConfig.of(LogConfig.defaults(dir).withFlushEvery(Duration.ZERO));
        try (PageCache<Long, Long> cache = PageCache.open(config, new FileChannelStorage(), Background.NONE,
                CounterMaterializer.INSTANCE)) {
            long[] pids = new long[pages];
            for (int i = 0; i < pages; i++) {
                pids[i] = cache.allocate((long) i).pid();
            }
            for (int round = 1; round < history; round++) {
                for (long pid : pids) {
                    Page<Long> view = cache.get(pid);
                    cache.link(pid, view, 1L);
                }
            }
        }
    }

    @Benchmark
    public PageCache<Long, Long> open() {
        opened = PageCache.open(config, new FileChannelStorage(), Background.NONE, CounterMaterializer.INSTANCE);
        return opened;
    }

    @TearDown(Level.Iteration)
    public void closeOpened() {
        if (opened != null) {
            if (VERBOSE) {
                System.out.println("\n  " + opened.recoveryReport());
            }
            opened.close();
            opened = null;
        }
    }

    @TearDown(Level.Trial)
    public void delete() {
        BenchDirs.delete(dir);
    }
}
