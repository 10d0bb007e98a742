package dev.toboggan;

import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;

/**
 * The reads of an ordered map from {@code byte[]} keys to {@code byte[]} values: what a live {@link Tree} and a
 * {@link Snapshot}'s view of a tree have in common. Keys are ordered as unsigned bytes (lexicographically,
 * shorter first on a common prefix). A live tree's reads see the tree as it is (its class notes say how
 * iterators meet concurrent writes); a snapshot's see it as of the snapshot's moment, whatever is written
 * since.
 *
 * <p>Every method may be called from any thread. Arrays passed in are copied and arrays returned are copies.
 * A {@code null} key, or one longer than {@link Tree#MAX_KEY_LENGTH}, throws {@link IllegalArgumentException};
 * a closed store (or snapshot) or a dropped tree throws {@link IllegalStateException}.
 */
public interface ReadableTree extends Iterable<Map.Entry<byte[], byte[]>> {
    /** The tree's name; {@link Db#DEFAULT_TREE} for the default tree. */
    String name();

    /** The value of {@code key}, or {@code null} if it has none. */
    byte[] get(byte[] key);

    /** Whether {@code key} has a value. */
    boolean containsKey(byte[] key);

    /**
     * The entries with keys in {@code [from, to)}, in ascending key order.
     *
     * @param from the first key (inclusive), or {@code null}: from the smallest key
     * @param to the end (exclusive), or {@code null}: to the largest key
     * @throws IllegalArgumentException if {@code from} is greater than {@code to}
     */
    Iterator<Map.Entry<byte[], byte[]>> range(byte[] from, byte[] to);

    /** The entries with keys in {@code [from, to)}, in descending key order; bounds as {@link #range}. */
    Iterator<Map.Entry<byte[], byte[]>> rangeReverse(byte[] from, byte[] to);

    /**
     * The entries whose keys start with {@code prefix}, in ascending key order.
     *
     * @throws IllegalArgumentException if {@code prefix} is null
     */
    default Iterator<Map.Entry<byte[], byte[]>> scanPrefix(byte[] prefix) {
        if (prefix == null) {
            throw new IllegalArgumentException("the prefix is null; use iterator() to scan every key");
        }
        return range(prefix, BLinkTree.prefixEnd(prefix));
    }

    /** Every entry, in ascending key order: {@code range(null, null)}. */
    @Override
    default Iterator<Map.Entry<byte[], byte[]>> iterator() {
        return range(null, null);
    }

    /** The entry with the smallest key, or {@code null} if the tree is empty. */
    default Map.Entry<byte[], byte[]> first() {
        return firstOf(range(null, null));
    }

    /** The entry with the largest key, or {@code null} if the tree is empty. */
    default Map.Entry<byte[], byte[]> last() {
        return firstOf(rangeReverse(null, null));
    }

    /**
     * The entry with the largest key less than {@code key}, or {@code null} if there is none (sled's
     * {@code get_lt}, {@link java.util.NavigableMap#lowerEntry}). Read as an iterator reads (see
     * {@link Tree}'s class notes for a live tree), from one leaf unless the keys just below {@code key} were
     * removed.
     *
     * @throws IllegalArgumentException if {@code key} is null or longer than {@link Tree#MAX_KEY_LENGTH}
     */
    default Map.Entry<byte[], byte[]> lowerEntry(byte[] key) {
        Limits.checkKey(key);
        return firstOf(rangeReverse(null, key));
    }

    /** The entry with the largest key at most {@code key}, or {@code null}; as {@link #lowerEntry}. */
    default Map.Entry<byte[], byte[]> floorEntry(byte[] key) {
        Limits.checkKey(key);
        // every key at most key is below key followed by a zero byte (which may be longer than a key may be:
        // a bound need not be a key)
        return firstOf(rangeReverse(null, Arrays.copyOf(key, key.length + 1)));
    }

    /** The entry with the smallest key at least {@code key}, or {@code null}; as {@link #lowerEntry}. */
    default Map.Entry<byte[], byte[]> ceilingEntry(byte[] key) {
        Limits.checkKey(key);
        return firstOf(range(key, null));
    }

    /**
     * The entry with the smallest key greater than {@code key}, or {@code null} (sled's {@code get_gt},
     * {@link java.util.NavigableMap#higherEntry}); as {@link #lowerEntry}.
     */
    default Map.Entry<byte[], byte[]> higherEntry(byte[] key) {
        Limits.checkKey(key);
        return firstOf(range(Arrays.copyOf(key, key.length + 1), null));
    }

    private static Map.Entry<byte[], byte[]> firstOf(Iterator<Map.Entry<byte[], byte[]>> entries) {
        return entries.hasNext() ? entries.next() : null;
    }

    /** The number of entries: counts them all (a live tree's count is weakly consistent, as its iterators are). */
    long size();

    /** Whether the tree has no entry. */
    boolean isEmpty();
}
