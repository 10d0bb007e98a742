package dev.toboggan;

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
}
