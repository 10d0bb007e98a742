package dev.toboggan;

import dev.toboggan.core.pagecache.CacheStats;

/**
 * What benchmarks read from inside a {@link Db} that the public API does not offer: the page cache's
 * hits and misses. In the tree's package because the store's engine is package-private; benchmarks only.
 */
public final class StoreInternals {
    private StoreInternals() {}

    /** The cache statistics of the page cache under {@code db} (a store {@link Toboggan#open} returned). */
    public static CacheStats cacheStats(Db db) {
        return ((Store) db).backend().pageCache().cacheStats();
    }
}
