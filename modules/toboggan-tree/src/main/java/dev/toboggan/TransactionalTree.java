package dev.toboggan;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * One tree as a {@link Transaction} sees it: its reads are checked at commit, its writes are kept in the
 * transaction and made at commit, together with the transaction's other writes (sled's
 * {@code TransactionalTree}). It reads its own writes.
 *
 * <p>Use it only in the transaction's body, on the thread that runs it; it refuses calls after the body
 * returned. Arrays passed in are copied and arrays returned are copies, as for {@link Tree}; the same
 * limits apply, and invalid input throws {@link IllegalArgumentException} (which, if the body lets it
 * through, aborts the transaction).
 */
public interface TransactionalTree {
    /** The tree's name; {@link Db#DEFAULT_TREE} for the default tree. */
    String name();

    /**
     * The value of {@code key} as of the transaction, or {@code null} if it has none: what the transaction
     * wrote to it, else what the tree held when the transaction first read it (a second read gives the same).
     * The commit checks the key still holds that.
     */
    byte[] get(byte[] key);

    /** Whether {@code key} has a value as of the transaction; a read, as {@link #get}. */
    boolean containsKey(byte[] key);

    /**
     * Sets {@code key} to {@code value} at commit.
     *
     * @return the value before, as {@link #get} gives it: this reads the key, so the transaction conflicts
     *     with a change of it made meanwhile (a write that need not read: {@link #applyBatch})
     */
    byte[] insert(byte[] key, byte[] value);

    /** Removes {@code key} at commit; returns the value before, as {@link #insert} does. */
    byte[] remove(byte[] key);

    /** Adds every change of {@code batch}, in its order, to the transaction's writes, reading nothing. */
    void applyBatch(Batch batch);

    /**
     * The first {@code limit} entries with keys in {@code [from, to)}, ascending, as of the transaction (its
     * own writes included). The commit checks that the tree still holds exactly the entries this read saw
     * in the span it covered (from {@code from} through the last key returned, or to {@code to} if fewer than
     * {@code limit} came back): a key added, removed or changed there is a conflict, so the transaction is
     * serializable against inserts into the range too (no phantoms). Unlike {@link #get}, a second read of a
     * range reads the tree again. The entries are read into memory: bound them with {@code limit}.
     *
     * @param from the first key (inclusive), or {@code null}: from the smallest key
     * @param to the end (exclusive), or {@code null}: to the largest key
     * @param limit the most entries to return, at least 1
     * @throws IllegalArgumentException if {@code from} is greater than {@code to}, or {@code limit} is under 1
     */
    List<Map.Entry<byte[], byte[]>> range(byte[] from, byte[] to, int limit);

    /** As {@link #range}, descending from the largest key below {@code to}. */
    List<Map.Entry<byte[], byte[]>> rangeReverse(byte[] from, byte[] to, int limit);

    /**
     * The first {@code limit} entries whose keys start with {@code prefix}, ascending: a {@link #range} over
     * the prefix.
     *
     * @throws IllegalArgumentException if {@code prefix} is null or {@code limit} is under 1
     */
    default List<Map.Entry<byte[], byte[]>> scanPrefix(byte[] prefix, int limit) {
        if (prefix == null) {
            throw new IllegalArgumentException("the prefix is null; use range(null, null, limit) to read from the smallest key");
        }
        return range(prefix, BLinkTree.prefixEnd(prefix), limit);
    }

    /** The entry with the smallest key as of the transaction, or {@code null} if the tree is empty: a {@link #range} of one. */
    default Map.Entry<byte[], byte[]> first() {
        return only(range(null, null, 1));
    }

    /** The entry with the largest key as of the transaction, or {@code null}: a {@link #rangeReverse} of one. */
    default Map.Entry<byte[], byte[]> last() {
        return only(rangeReverse(null, null, 1));
    }

    /**
     * The entry with the largest key less than {@code key} as of the transaction, or {@code null}
     * ({@link Tree#lowerEntry}): a {@link #rangeReverse} of one, so a key the commit finds added between the
     * entry and {@code key} is a conflict.
     *
     * @throws IllegalArgumentException if {@code key} is null or longer than {@link Tree#MAX_KEY_LENGTH}
     */
    default Map.Entry<byte[], byte[]> lowerEntry(byte[] key) {
        Limits.checkKey(key);
        return only(rangeReverse(null, key, 1));
    }

    /** The entry with the largest key at most {@code key}, or {@code null}; as {@link #lowerEntry}. */
    default Map.Entry<byte[], byte[]> floorEntry(byte[] key) {
        Limits.checkKey(key);
        return only(rangeReverse(null, Arrays.copyOf(key, key.length + 1), 1));
    }

    /** The entry with the smallest key at least {@code key}, or {@code null}: a {@link #range} of one. */
    default Map.Entry<byte[], byte[]> ceilingEntry(byte[] key) {
        Limits.checkKey(key);
        return only(range(key, null, 1));
    }

    /** The entry with the smallest key greater than {@code key}, or {@code null}; as {@link #ceilingEntry}. */
    default Map.Entry<byte[], byte[]> higherEntry(byte[] key) {
        Limits.checkKey(key);
        return only(range(Arrays.copyOf(key, key.length + 1), null, 1));
    }

    private static Map.Entry<byte[], byte[]> only(List<Map.Entry<byte[], byte[]>> entries) {
        return entries.isEmpty() ? null : entries.get(0);
    }
}
