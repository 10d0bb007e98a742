package dev.toboggan.cli.compare;

import dev.toboggan.cli.stress.Records;
import java.util.Arrays;

/**
 * The keys and values of a compare run, made once and shared by every store, so that what a workload
 * times is the store, not the making of its inputs or the checking of its answers.
 *
 * <p>Entry {@code i} is {@link Records} entry {@code id(i)}, where {@code id} is a bijective mix of
 * {@code i} (SplitMix64's finaliser): the keys are spread uniformly over the key space (the issue's
 * "random keys"; {@code Records}' big-endian numbers would share their leading bytes), yet every value
 * still names its key and version, so any value read back can be checked. The first version of every
 * value is kept (what the load writes and most reads return); later versions are made when needed.
 */
final class Entries {
    private final Records records;
    private final long[] ids;
    private final byte[][] keys;
    private final byte[][] firstValues;

    Entries(Records records, int count) {
        this.records = records;
        this.ids = new long[count];
        this.keys = new byte[count][];
        this.firstValues = new byte[count][];
        for (int i = 0; i < count; i++) {
            ids[i] = mix(i);
            keys[i] = records.key(ids[i]);
            firstValues[i] = records.value(ids[i], 1);
        }
    }

    int count() {
        return keys.length;
    }

    int entryBytes() {
        return records.entryBytes();
    }

    byte[] key(int i) {
        return keys[i];
    }

    /** Entry {@code i}'s value of {@code version} (at least 1). */
    byte[] value(int i, int version) {
        return version == 1 ? firstValues[i] : records.value(ids[i], version);
    }

    /** Whether {@code read} is exactly entry {@code i}'s value of {@code version}. */
    boolean is(int i, int version, byte[] read) {
        return read != null && Arrays.equals(read, value(i, version));
    }

    /**
     * Whether {@code read} is one of entry {@code i}'s values from {@code oldest} to {@code newest}: what a
     * get may return while another thread overwrites the entry.
     */
    boolean isBetween(int i, int oldest, int newest, byte[] read) {
        if (is(i, oldest, read)) {
            return true;
        }
        long version = records.versionOf(ids[i], read);
        return version >= oldest && version <= newest;
    }

    /** SplitMix64's finaliser: a bijection of the longs, so distinct entries get distinct keys. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58_476D_1CE4_E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D0_49BB_1331_11EBL;
        return z ^ (z >>> 31);
    }
}
