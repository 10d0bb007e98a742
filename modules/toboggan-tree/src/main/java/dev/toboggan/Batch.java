package dev.toboggan;

import java.util.ArrayList;
import java.util.List;

/**
 * Changes to apply to a tree atomically with {@link Tree#applyBatch}: inserts and removes, applied in the
 * order they were added (a later change of a key wins). Keys and values are checked and copied as they are
 * added, so an invalid one is refused here and the caller may reuse its arrays.
 *
 * <p>Not thread-safe: build it in one thread. It can be applied several times, to several trees.
 */
public final class Batch {
    private final List<byte[]> keys = new ArrayList<>();
    /** Per key: the value to set, or {@code null} to remove the key. */
    private final List<byte[]> values = new ArrayList<>();

    /** Adds "set {@code key} to {@code value}". */
    public Batch insert(byte[] key, byte[] value) {
        Limits.checkKey(key);
        Limits.checkValue(value);
        keys.add(key.clone());
        values.add(value.clone());
        return this;
    }

    /** Adds "remove {@code key}". */
    public Batch remove(byte[] key) {
        Limits.checkKey(key);
        keys.add(key.clone());
        values.add(null);
        return this;
    }

    /** The number of changes added. */
    public int size() {
        return keys.size();
    }

    public boolean isEmpty() {
        return keys.isEmpty();
    }

    byte[] key(int i) {
        return keys.get(i);
    }

    /** The value of change {@code i}, or {@code null} for a remove. */
    byte[] value(int i) {
        return values.get(i);
    }

    @Override
    public String toString() {
        return "Batch[" + keys.size() + " changes]";
    }
}
