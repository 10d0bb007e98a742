package dev.toboggan.engine;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.pagecache.CasResult;
import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import java.nio.file.Path;
import java.util.Map;

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
