package dev.toboggan.bench.engine;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.bench.BenchDefaults;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.log.FlushThread;
import dev.toboggan.core.pagecache.CasResult;
import dev.toboggan.core.pagecache.CounterMaterializer;
import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.engine.Engine;
import dev.toboggan.engine.EngineSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * The engine's write path with its actors against the same core driven directly (target: actors cost at
 * most 10 % throughput). Both link a small delta onto pages round-robin and make every 100th write durable
 * and wait for it; {@code engine} does it through {@code Engine.flushAsync()} (the Flusher actor does the
 * work), {@code direct} through a plain PageCache with a FlushThread and a blocking {@code flush()}. Same
 * settings, same periodic flush (500 ms), a fresh store per iteration.
 */
@State(Scope.Benchmark)
public class EngineWriteBenchmark extends BenchDefaults {

    @Param({"engine", "direct"})
    public String path;

    private static final int PAGES = 10_000;
    private static final int DURABLE_EVERY = 100;

    private Path dir;
    private Engine<Long, Long> engine;
    private FlushThread flusher;
    private PageCache<Long, Long> cache;
    private long[] pids;
    private long ops;

    @Setup(Level.Iteration)
    public void open() {
        dir = BenchDirs.create("engine-" + path);
        EngineSettings settings = EngineSettings.fromConfig(ConfigFactory.parseMap(Map.of(
                "toboggan.directory", dir.toString(), "toboggan.flush-every", "500ms")));
        if (path.equals("engine")) {
            engine = Engine.open(settings, CounterMaterializer.INSTANCE);
            cache = engine.pageCache();
        } else {
            flusher = new FlushThread("bench-flusher", settings.flushEvery());
            cache = PageCache.open(settings.pageCache(), new FileChannelStorage(), flusher,
                    CounterMaterializer.INSTANCE);
            flusher.start(cache.log());
        }
        pids = new long[PAGES];
        for (int i = 0; i < PAGES; i++) {
            pids[i] = cache.allocate(0L).pid();
        }
    }

    @TearDown(Level.Iteration)
    public void close() {
        if (engine != null) {
            engine.close();
            engine = null;
        } else {
            flusher.close();
            cache.close();
        }
        BenchDirs.delete(dir);
    }

    @Benchmark
    @Threads(1)
    public boolean write() throws Exception {
        long pid = pids[(int) (ops % PAGES)];
        Page<Long> view = cache.get(pid);
        CasResult<Long> r = cache.link(pid, view, 1L);
        if (++ops % DURABLE_EVERY == 0) {
            if (engine != null) {
                engine.flushAsync().toCompletableFuture().get();
            } else {
                cache.flush();
            }
        }
        return r.succeeded();
    }
}
