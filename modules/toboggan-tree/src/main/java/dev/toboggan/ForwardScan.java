package dev.toboggan;

import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * An ascending iterator over {@code [from, to)}: one leaf's entries at a time, read by
 * {@link LeafReader#fetchForward} (over a live tree weakly consistent: {@link BLinkTree}'s class notes say
 * why). Not thread-safe: one thread at a time uses an iterator.
 */
final class ForwardScan implements Iterator<Map.Entry<byte[], byte[]>> {
    private static final byte[][] NONE = new byte[0][];

    private final LeafReader tree;
    /** The exclusive end, or {@code null}. */
    final byte[] to;
    /** Whether values are read (a count reads keys only). */
    final boolean withValues;
    /** Where the next leaf read starts (inclusive); {@code null} once the last leaf was read. */
    byte[] position;
    /** The page of the leaf that starts at {@link #position}, if known, else {@link TreeNode#NO_PID}. */
    long nextPid = TreeNode.NO_PID;
    /**
     * The optimistic-read stamp under which {@link #nextPid} was read: once a structure change (a merge, a drop) has run
     * since, the page may have been freed by a merge and its id reused, even by another tree for a leaf
     * that starts at the same key, so the scan descends instead.
     */
    long nextStamp;
    private byte[][] keys = NONE;
    private byte[][] values = NONE;
    /** Entries of the current leaf (without keys and values when counting). */
    private int count;
    private int index;

    /** The entries of {@code tree} in {@code [from, to)} (bounds {@code null}: open), the bounds copied. */
    static ForwardScan entries(LeafReader tree, byte[] from, byte[] to) {
        return new ForwardScan(tree, from == null ? TreeNode.NO_KEY : from.clone(), to == null ? null : to.clone(), true);
    }

    /** How many entries {@code tree} has, counted a leaf at a time (no key or value copied). */
    static long count(LeafReader tree) {
        return new ForwardScan(tree, TreeNode.NO_KEY, null, false).countRemaining();
    }

    /** Whether {@code tree} has no entry. */
    static boolean isEmpty(LeafReader tree) {
        return !new ForwardScan(tree, TreeNode.NO_KEY, null, false).hasNext();
    }

    ForwardScan(LeafReader tree, byte[] from, byte[] to, boolean withValues) {
        this.tree = tree;
        this.position = from;
        this.to = to;
        this.withValues = withValues;
    }

    /**
     * Takes the entries of one leaf (the scan's own copies; {@code null} when counting), and where the
     * scan goes on ({@code null}: nowhere).
     */
    void accept(int entries, byte[][] leafKeys, byte[][] leafValues, byte[] nextPosition, long nextLeaf, long stamp) {
        count = entries;
        keys = leafKeys;
        values = leafValues;
        index = 0;
        position = nextPosition;
        nextPid = nextLeaf;
        nextStamp = stamp;
    }

    @Override
    public boolean hasNext() {
        while (index == count && position != null) {
            tree.fetchForward(this);
        }
        return index < count;
    }

    @Override
    public Map.Entry<byte[], byte[]> next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        int i = index++;
        return Map.entry(keys[i], values[i]);
    }

    /** Counts the entries left; for a scan made without values. */
    long countRemaining() {
        long total = count - index;
        index = count;
        while (position != null) {
            tree.fetchForward(this);
            total += count;
        }
        return total;
    }
}
