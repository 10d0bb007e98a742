package dev.toboggan.core.pagecache;

/**
 * How often each page id was seen lately, approximately: a count-min sketch of 4-bit counters with
 * periodic halving (TinyLFU's "reset"), as Caffeine's. Four counters per id, in four rows of one
 * {@code long[]}; an id's estimate is the least of its four. After {@code 10 ×} its width increments,
 * every counter is halved, so old popularity fades. It grows with the number of pages tracked,
 * keeping what it counted. Not thread-safe: used by the cache policy under the
 * evictor's lock.
 */
final class FrequencySketch {
    private static final long[] SEEDS = {0xc3a5c85c97cb3127L, 0xb492b66fbe98f273L, 0x9ae16a3b2f90404fL,
        0xcbf29ce484222325L};
    private static final long RESET_MASK = 0x7777_7777_7777_7777L;
    private static final int MAX_COUNT = 15;

    private long[] table = new long[16];
    private int sampleSize = 10 * 16 * 16;
    private int additions;

    /**
     * Grows the sketch for about {@code entries} distinct ids. Growth keeps every estimate: an id's
     * counters sit at the low bits of its index and at a shift that growth does not change, so each new
     * word starts as a copy of the old word its index folds onto.
     */
    void ensureCapacity(long entries) {
        int wanted = (int) Math.min(1 << 24, Math.max(16, Long.highestOneBit(Math.max(1, entries) - 1) << 1));
        if (wanted > table.length) {
            long[] grown = new long[wanted];
            for (int i = 0; i < wanted; i++) {
                grown[i] = table[i & (table.length - 1)];
            }
            table = grown;
            sampleSize = 10 * wanted;
        }
    }

    /** The estimated recent count of {@code pid}, 0 to 15. */
    int frequency(long pid) {
        int min = MAX_COUNT;
        for (int row = 0; row < 4; row++) {
            long hash = hash(pid, row);
            int index = (int) (hash >>> 40) & (table.length - 1);
            int shift = ((int) hash & 15) << 2;
            min = Math.min(min, (int) ((table[index] >>> shift) & 0xF));
        }
        return min;
    }

    /** Counts one occurrence of {@code pid}. */
    void increment(long pid) {
        boolean added = false;
        for (int row = 0; row < 4; row++) {
            long hash = hash(pid, row);
            int index = (int) (hash >>> 40) & (table.length - 1);
            int shift = ((int) hash & 15) << 2;
            if (((table[index] >>> shift) & 0xF) < MAX_COUNT) {
                table[index] += 1L << shift;
                added = true;
            }
        }
        if (added && ++additions >= sampleSize) {
            for (int i = 0; i < table.length; i++) {
                table[i] = (table[i] >>> 1) & RESET_MASK;
            }
            additions /= 2;
        }
    }

    private static long hash(long pid, int row) {
        long h = (pid + SEEDS[row]) * 0x9E3779B97F4A7C15L;
        h ^= h >>> 29;
        h *= 0xBF58476D1CE4E5B9L;
        return h ^ (h >>> 32);
    }
}
