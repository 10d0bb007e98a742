package dev.toboggan.core.pagecache;

import dev.toboggan.core.log.LogConfig;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The page cache's settings, validated once. Keys in error messages are the {@code toboggan { ... }}
 * configuration keys users write.
 *
 * @param log the settings of the log underneath
 * @param consolidationThreshold how many fragments (a base and its deltas) a page may have before a
 *     {@code link} writes the whole merged page instead of one more delta: fewer means faster reads and
 *     more bytes written. 1 to 255; default 10
 * @param idgenPersistInterval how many ids {@link PageCache#generateId()} hands out between writes of
 *     its high-water mark. After a crash ids restart at the last durable mark + 2 × this, so ids never
 *     repeat; a larger interval means fewer writes and bigger gaps. At least 1; default 1 000 000
 * @param pageInParallelism how many reads of one page's fragments (each read takes the fragments that
 *     lie together) may be in flight at once when a page is read back and its first read went to the
 *     device ({@link FragmentReader}); reads the OS page cache answers stay on the calling thread. 1
 *     reads them one after the other in the calling thread. 1 to 64; default 4
 * @param cacheCapacity estimated heap bytes the materialized pages may take ({@link CacheEvictor}); at
 *     least {@value #MIN_CACHE_CAPACITY}; default 512 MiB
 * @param cacheWaitTimeout how long a read or write waits for the cache to come back under its capacity
 *     before it fails with {@link CacheFullException}; positive; default 10 s
 */
public record PageCacheConfig(LogConfig log, int consolidationThreshold, long idgenPersistInterval,
        int pageInParallelism, long cacheCapacity, java.time.Duration cacheWaitTimeout) {

    public static final int DEFAULT_CONSOLIDATION_THRESHOLD = 10;
    public static final long DEFAULT_IDGEN_PERSIST_INTERVAL = 1_000_000;
    public static final int DEFAULT_PAGE_IN_PARALLELISM = 4;
    /** The snapshot format keeps a page's fragment count in one byte. */
    public static final int MAX_CONSOLIDATION_THRESHOLD = 255;
    public static final long DEFAULT_CACHE_CAPACITY = 512L << 20;
    public static final long MIN_CACHE_CAPACITY = 1 << 20;
    public static final java.time.Duration DEFAULT_CACHE_WAIT_TIMEOUT = java.time.Duration.ofSeconds(10);

    public PageCacheConfig {
        Objects.requireNonNull(log, "log");
        if (consolidationThreshold < 1 || consolidationThreshold > MAX_CONSOLIDATION_THRESHOLD) {
            throw new IllegalArgumentException("toboggan.consolidation-threshold must be from 1 to "
                    + MAX_CONSOLIDATION_THRESHOLD + ", was " + consolidationThreshold + "; 10 is a good default");
        }
        if (idgenPersistInterval < 1) {
            throw new IllegalArgumentException("toboggan.idgen-persist-interval must be at least 1, was "
                    + idgenPersistInterval + "; 1000000 is a good default");
        }
        if (pageInParallelism < 1 || pageInParallelism > 64) {
            throw new IllegalArgumentException("toboggan.page-in-parallelism must be from 1 to 64, was "
                    + pageInParallelism);
        }
        if (cacheCapacity < MIN_CACHE_CAPACITY) {
            throw new IllegalArgumentException("toboggan.cache-capacity must be at least 1MiB, was " + cacheCapacity
                    + " bytes; give it a good share of the heap (the default is 512MiB)");
        }
        Objects.requireNonNull(cacheWaitTimeout, "cacheWaitTimeout");
        if (cacheWaitTimeout.isNegative() || cacheWaitTimeout.isZero()) {
            throw new IllegalArgumentException("toboggan.send-timeout must be positive, was " + cacheWaitTimeout);
        }
    }

    /** Defaults for a store in {@code directory}. */
    public static PageCacheConfig defaults(Path directory) {
        return of(LogConfig.defaults(directory));
    }

    /** Defaults on top of the given log settings. */
    public static PageCacheConfig of(LogConfig log) {
        return new PageCacheConfig(log, DEFAULT_CONSOLIDATION_THRESHOLD, DEFAULT_IDGEN_PERSIST_INTERVAL,
                DEFAULT_PAGE_IN_PARALLELISM, DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_WAIT_TIMEOUT);
    }

    public PageCacheConfig withLog(LogConfig newLog) {
        return new PageCacheConfig(newLog, consolidationThreshold, idgenPersistInterval, pageInParallelism,
                cacheCapacity, cacheWaitTimeout);
    }

    public PageCacheConfig withConsolidationThreshold(int fragments) {
        return new PageCacheConfig(log, fragments, idgenPersistInterval, pageInParallelism,
                cacheCapacity, cacheWaitTimeout);
    }

    public PageCacheConfig withIdgenPersistInterval(long ids) {
        return new PageCacheConfig(log, consolidationThreshold, ids, pageInParallelism,
                cacheCapacity, cacheWaitTimeout);
    }

    public PageCacheConfig withPageInParallelism(int reads) {
        return new PageCacheConfig(log, consolidationThreshold, idgenPersistInterval, reads,
                cacheCapacity, cacheWaitTimeout);
    }

    public PageCacheConfig withCacheCapacity(long bytes) {
        return new PageCacheConfig(log, consolidationThreshold, idgenPersistInterval, pageInParallelism, bytes,
                cacheWaitTimeout);
    }

    public PageCacheConfig withCacheWaitTimeout(java.time.Duration timeout) {
        return new PageCacheConfig(log, consolidationThreshold, idgenPersistInterval, pageInParallelism,
                cacheCapacity, timeout);
    }
}
