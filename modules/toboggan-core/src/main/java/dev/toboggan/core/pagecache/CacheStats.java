package dev.toboggan.core.pagecache;

/**
 * The page cache's residency figures at one moment (each read on its own).
 *
 * @param capacity {@code cache-capacity}: estimated heap bytes the resident pages may take
 * @param residentBytes estimated heap bytes of the resident pages now (values, their {@link Page}
 *     objects and policy entries; not the locations every page keeps, resident or not)
 * @param hits gets that found their page resident: an estimate, since gets are counted one in 256
 * @param misses gets that found their page paged out and read it back (exact)
 * @param evictions pages the eviction work paged out (exact)
 */
public record CacheStats(long capacity, long residentBytes, long hits, long misses, long evictions) {

    /** hits / (hits + misses); 1 when nothing was read. */
    public double hitRatio() {
        long total = hits + misses;
        return total == 0 ? 1 : (double) hits / total;
    }
}
