package dev.toboggan.cli.stress;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The keys and values {@code toboggan stress} writes: each one says what it is, so anything read back can
 * be checked on its own, without asking the model.
 *
 * <pre>
 * key   (key-len bytes, at least 8):    | key index (8, big-endian) | filler(index)          |
 * value (value-len bytes, at least 16): | key index (8) | version (8) | filler(index, version) |
 * </pre>
 *
 * Big-endian indexes make the store's order (unsigned bytes) the order of the indexes, so a range of
 * indexes is a range of keys. The filler is a xorshift stream seeded by the index (and version), eight
 * bytes per step (little-endian; the last step's low bytes end it), so a value that belongs to another key
 * or version, or a damaged byte anywhere, does not check out.
 */
public final class Records {
    public static final int MIN_KEY_LENGTH = 8;
    public static final int MIN_VALUE_LENGTH = 16;

    private static final VarHandle LITTLE_ENDIAN_LONGS =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final int keyLength;
    private final int valueLength;

    public Records(int keyLength, int valueLength) {
        if (keyLength < MIN_KEY_LENGTH || valueLength < MIN_VALUE_LENGTH) {
            throw new IllegalArgumentException("keys need at least " + MIN_KEY_LENGTH + " bytes and values at least "
                    + MIN_VALUE_LENGTH);
        }
        this.keyLength = keyLength;
        this.valueLength = valueLength;
    }

    public int keyLength() {
        return keyLength;
    }

    public int valueLength() {
        return valueLength;
    }

    /** Bytes one live entry holds: its key and its value. */
    public int entryBytes() {
        return keyLength + valueLength;
    }

    public byte[] key(long index) {
        byte[] key = new byte[keyLength];
        ByteBuffer.wrap(key).putLong(0, index);
        fill(key, MIN_KEY_LENGTH, index * 0x9E37_79B9_7F4A_7C15L + 1);
        return key;
    }

    public byte[] value(long index, long version) {
        byte[] value = new byte[valueLength];
        ByteBuffer.wrap(value).putLong(0, index).putLong(8, version);
        fill(value, MIN_VALUE_LENGTH, (index * 31 + version) * 0xBF58_476D_1CE4_E5B9L + 7);
        return value;
    }

    /** The index a key read back encodes, or -1 if the key is not one of ours. */
    public long indexOf(byte[] key) {
        if (key.length != keyLength) {
            return -1;
        }
        long index = ByteBuffer.wrap(key).getLong(0);
        return java.util.Arrays.equals(key, key(index)) ? index : -1;
    }

    /**
     * The version a value read back for {@code index} encodes.
     *
     * @return the version, or -1 if the value does not belong to that key or is damaged
     */
    public long versionOf(long index, byte[] value) {
        if (value == null || value.length != valueLength) {
            return -1;
        }
        ByteBuffer bb = ByteBuffer.wrap(value);
        long version = bb.getLong(8);
        if (bb.getLong(0) != index || version <= 0) {
            return -1;
        }
        return java.util.Arrays.equals(value, value(index, version)) ? version : -1;
    }

    /** Eight bytes of the stream per step: the harness's share of an operation stays a few nanoseconds. */
    private static void fill(byte[] into, int from, long seed) {
        long x = seed | 1;
        int i = from;
        for (; i < into.length; i += Long.BYTES) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            if (i + Long.BYTES <= into.length) {
                LITTLE_ENDIAN_LONGS.set(into, i, x);
            } else {
                for (int j = i; j < into.length; j++) {
                    into[j] = (byte) (x >>> 8 * (j - i));
                }
            }
        }
    }
}
