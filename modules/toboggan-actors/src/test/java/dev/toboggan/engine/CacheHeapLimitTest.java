package dev.toboggan.engine;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.pagecache.BytesMaterializer;
import dev.toboggan.core.pagecache.PageCache;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With {@code cache-capacity} 64 MiB, writing far more distinct pages than that keeps the cache's
 * estimated heap under capacity + slack, in a JVM of 512 MiB. Runs in its own surefire execution
 * ({@code heap-limit}, {@code -Xmx512m}) on real files: 128 MiB × {@code toboggan.test.scale} (at most
 * 1 GiB), so 128 MiB by default and the full 1 GiB under {@code -Plong}.
 */
@Tag("heap-limit")
class CacheHeapLimitTest {
    private static final int PAGE = 4096;
    private static final long CAPACITY = 64L << 20;
    private static final long HEAP = 512L << 20;

    @Test
    void writingManyTimesTheCapacityStaysWithinItAndWithinTheHeap(@TempDir Path dir) {
        assertThat(Runtime.getRuntime().maxMemory()).as("run with -Xmx512m (surefire execution heap-limit)")
                .isLessThanOrEqualTo(HEAP);
        long scale = Long.getLong("toboggan.test.scale", 1);
        long total = Math.min(1L << 30, (128L << 20) * scale);
        EngineSettings settings = EngineSettings.fromConfig(ConfigFactory.parseString(
                "toboggan.cache-capacity = 64MiB\ntoboggan.durability = os"), dir);
        long pages = total / PAGE;
        long first;
        try (Engine<byte[], byte[]> engine = Engine.open(settings, BytesMaterializer.INSTANCE)) {
            PageCache<byte[], byte[]> cache = engine.pageCache();
            long limit = cache.evictor().waitLimit();
            long peak = 0;
            first = cache.allocate(BytesMaterializer.page(0, PAGE)).pid();
            long weight = cache.get(first).weight();
            for (long i = 1; i < pages; i++) {
                cache.allocate(BytesMaterializer.page(i, PAGE));
                peak = Math.max(peak, cache.cacheStats().residentBytes());
            }
            assertThat(peak).as("estimated cache heap: capacity + slack (1/8) + the one page a write adds")
                    .isLessThanOrEqualTo(limit + weight);
            Awaitility.await().atMost(30, TimeUnit.SECONDS)
                    .until(() -> cache.cacheStats().residentBytes() <= CAPACITY);
            System.gc();
            long used = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            assertThat(used).as("heap in use after a GC, with " + (total >> 20) + " MiB written")
                    .isLessThan(HEAP * 3 / 4);
            for (long i = 0; i < pages; i += pages / 64) {
                assertThat(BytesMaterializer.isPage(cache.get(first + i).value(), i, PAGE)).isTrue();
            }
        }
    }
}
