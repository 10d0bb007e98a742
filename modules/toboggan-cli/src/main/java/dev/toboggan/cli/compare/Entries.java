package dev.toboggan.cli.compare;

import dev.toboggan.cli.stress.Records;

/**
 * The keys and values of a compare run, the same for every store, made on demand from the entry's number
 * so that what a workload times is the store, not the fetching of its inputs or the checking of its answers.
 *
 * <p>Entry {@code i} is {@link Records} entry {@code id(i)}, where {@code id} is a bijective mix of
 * {@code i} (SplitMix64's finaliser): the keys are spread uniformly over the key space (the issue's
 * "random keys"; {@code Records}' big-endian numbers would share their leading bytes), yet every value
 * still names its key and version, so any value read back can be checked. Nothing is kept per entry: a
 * table of a million keys and values, read in random order, cost a workload's thread up to four cache
 * misses per operation (the table's slots and the arrays they point to) before the store's own, about as
 * many as a point read of the store itself makes; making a key or value takes a few steps of arithmetic.
 */
final class Entries {
    private final Records records;
    private final int count;

    Entries(Records records, int count) {
        this.records = records;
        this.count = count;
    }

    int count() {
        return count;
    }

    int entryBytes() {
        return records.entryBytes();
    }

    byte[] key(int i) {
        return records.key(mix(i));
    }

    /** Entry {@code i}'s value of {@code version} (at least 1). */
    byte[] value(int i, int version) {
        return records.value(mix(i), version);
    }

    /** Whether {@code read} is exactly entry {@code i}'s value of {@code version}. */
    boolean is(int i, int version, byte[] read) {
        return records.versionOf(mix(i), read) == version;
    }

    /**
     * Whether {@code read} is one of entry {@code i}'s values from {@code oldest} to {@code newest}: what a
     * get may return while another thread overwrites the entry.
     */
    boolean isBetween(int i, int oldest, int newest, byte[] read) {
        long version = records.versionOf(mix(i), read);
        return version >= oldest && version <= newest;
    }

    /** SplitMix64's finaliser: a bijection of the longs, so distinct entries get distinct keys. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58_476D_1CE4_E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D0_49BB_1331_11EBL;
        return z ^ (z >>> 31);
    }
}
