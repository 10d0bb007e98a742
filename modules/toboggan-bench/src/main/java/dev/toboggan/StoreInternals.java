package dev.toboggan;

import dev.toboggan.core.pagecache.PageCache;

/**
 * What benchmarks read from inside a {@link Db} that the public API does not offer: its page cache's
 * hits, misses and reads. In the tree's package because the store's engine is package-private; benchmarks
 * only.
 */
public final class StoreInternals {
    private StoreInternals() {}

    /** The page cache under {@code db} (a store {@link Toboggan#open} returned). */
    public static PageCache<?, ?> pageCache(Db db) {
        return ((Store) db).backend().pageCache();
    }
}
