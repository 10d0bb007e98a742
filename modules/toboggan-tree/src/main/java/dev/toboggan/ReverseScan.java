package dev.toboggan;

import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * A descending iterator over {@code [from, to)}: one leaf's entries at a time, read by
 * {@link LeafReader#fetchReverse}. Not thread-safe.
 */
final class ReverseScan implements Iterator<Map.Entry<byte[], byte[]>> {
    private static final byte[][] NONE = new byte[0][];

    private final LeafReader tree;
    /** The inclusive start, or {@code null}. */
    final byte[] from;
    /** Every key still to return is below this; {@code null}: no bound. */
    byte[] position;
    /** Whether a leaf is still to be read. */
    private boolean more;
    private byte[][] keys = NONE;
    private byte[][] values = NONE;
    /** The next entry to return is {@code index - 1}: leaves are read in ascending order. */
    private int index;

    /** The entries of {@code tree} in {@code [from, to)} (bounds {@code null}: open), descending, the bounds copied. */
    static ReverseScan entries(LeafReader tree, byte[] from, byte[] to) {
        return new ReverseScan(tree, from == null ? null : from.clone(), to == null ? null : to.clone());
    }

    ReverseScan(LeafReader tree, byte[] from, byte[] to) {
        this.tree = tree;
        this.from = from;
        this.position = to;
        // No key is below the empty key.
        this.more = to == null || to.length > 0;
    }

    /**
     * Takes the entries of one leaf, ascending (the scan's own copies), and the bound below which the scan
     * goes on ({@code null}: done).
     */
    void accept(byte[][] leafKeys, byte[][] leafValues, byte[] nextPosition) {
        keys = leafKeys;
        values = leafValues;
        index = leafKeys.length;
        position = nextPosition;
        more = nextPosition != null;
    }

    @Override
    public boolean hasNext() {
        while (index == 0 && more) {
            tree.fetchReverse(this);
        }
        return index > 0;
    }

    @Override
    public Map.Entry<byte[], byte[]> next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        int i = --index;
        return Map.entry(keys[i], values[i]);
    }
}
