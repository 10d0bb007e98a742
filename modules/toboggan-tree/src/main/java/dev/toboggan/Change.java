package dev.toboggan;

import java.util.Arrays;

/**
 * One key's change, as a {@link Tree#watchPrefix watch} delivers it: the key and its new value, or
 * {@code null} for a removal. Arrays returned are copies.
 */
public final class Change {
    private final byte[] key;
    private final byte[] value;

    /** A change of {@code key} to {@code value} ({@code null}: removed); both arrays are copied. */
    public Change(byte[] key, byte[] value) {
        this(key, value, true);
    }

    private Change(byte[] key, byte[] value, boolean copy) {
        this.key = copy ? key.clone() : key;
        this.value = copy && value != null ? value.clone() : value;
    }

    /**
     * A change holding {@code key} and {@code value} themselves, not copies: for arrays nobody else holds
     * (an iterator's entries are copies of their own), so a prefix's state is not copied twice.
     */
    static Change owning(byte[] key, byte[] value) {
        return new Change(key, value, false);
    }

    /** The key that changed. */
    public byte[] key() {
        return key.clone();
    }

    /** The key's new value, or {@code null} if the change removed it. */
    public byte[] value() {
        return value == null ? null : value.clone();
    }

    /** Whether the change removed the key. */
    public boolean isRemoval() {
        return value == null;
    }

    boolean startsWith(byte[] prefix) {
        return Watchers.startsWith(key, prefix);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Change other && Arrays.equals(key, other.key) && Arrays.equals(value, other.value);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(key) + Arrays.hashCode(value);
    }

    @Override
    public String toString() {
        return (value == null ? "remove " : "set ") + TreeNode.show(key) + (value == null ? "" : " to " + value.length + " bytes");
    }
}
