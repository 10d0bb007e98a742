package dev.toboggan.engine;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.pagecache.CasResult;
import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

final class EngineTestSupport {
    static final Path DIR = Path.of("/store");

    private EngineTestSupport() {}

    /** Small segments and a short flush interval, with overrides. */
    static EngineSettings settings(Path dir, String overrides) {
        return EngineSettings.fromConfig(ConfigFactory.parseString(overrides)
                .withFallback(ConfigFactory.parseMap(Map.of(
                        "toboggan.segment-size", "64KiB",
                        "toboggan.flush-every", "50ms",
                        "toboggan.restart-backoff.min", "10ms",
                        "toboggan.restart-backoff.max", "50ms"))), dir);
    }

    /**
     * Runs {@code tasks} on threads of their own and waits for all of them, at most {@code seconds}: a task
     * that throws fails the caller with its exception (a thread's failure would otherwise only be printed,
     * and the test go on with less work done).
     */
    static void runConcurrently(long seconds, List<Runnable> tasks)
            throws InterruptedException, ExecutionException, TimeoutException {
        List<CompletableFuture<Void>> running = tasks.stream()
                .map(task -> CompletableFuture.runAsync(task, r -> new Thread(r).start())).toList();
        CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).get(seconds, TimeUnit.SECONDS);
    }

    /** Adds {@code delta} to the counter page {@code pid}, retrying on conflicts. */
    static void add(PageCache<Long, Long> cache, long pid, long delta) {
        Page<Long> view = cache.get(pid);
        while (true) {
            CasResult<Long> r = cache.link(pid, view, delta);
            if (r.succeeded()) {
                return;
            }
            view = r.page();
        }
    }
}
