package dev.toboggan;

/**
 * A serializable transaction over the trees of one store, given to the body that {@link Db#transaction}
 * runs (sled's {@code transaction}): the default tree as this transaction sees it (this object), and any
 * other tree ({@link #tree}).
 *
 * <p>What a transaction guarantees: its writes are made all together or not at all, in memory and across a
 * crash (one atomic batch), and only if every key it read still held, at that moment, the value it read
 * (an absent key still absent) and every range it read still held exactly the entries it saw. So the transaction takes effect as if its body had run alone at that
 * moment, and its writes appear to other callers then, as a batch's do. A transaction that read a key a
 * concurrent change modified runs its body again.
 *
 * <p>What a body may see: its reads are not taken at one moment, so a body that conflicts with a concurrent
 * change may see some keys before that change and others after it. Such a run never commits, and if its
 * body throws, the exception is dropped and the body runs again; an exception reaches the caller only from
 * a run whose reads were all current together. A body never sees one key two ways, though: a second read of
 * a key gives what the first gave, a point read inside a span a range read covered gives what the range gave
 * (the key's value, or its absence), and a range read that would show a key otherwise than an earlier read
 * of the run ends the run at once: it throws {@link TransactionReadsDisagreeException}, and the body runs
 * again (a body that catches that exception gets it again from its next read, and its run does not commit). A body therefore must do nothing outside the transaction
 * (no side effects: it may run several times) and must end on any view (no loop that waits for a value).
 *
 * <p>Use this object only in the body, on the thread that runs it: it refuses calls after the body
 * returned, and calls on the store itself (its trees, a nested transaction, a flush) are refused inside the
 * body, because they would not be part of the transaction.
 */
public interface Transaction extends TransactionalTree {
    /**
     * The tree named {@code name} as this transaction sees it. A tree that does not exist reads as empty;
     * it is created at commit if the transaction writes to it (a step of its own before the writes, as
     * {@link Db#applyBatches} does).
     *
     * @throws IllegalArgumentException if {@code name} is null
     */
    TransactionalTree tree(String name);

    /**
     * A new id from the store's generator ({@link Db#generateId}). Ids are not transactional: one taken by a
     * body that runs again or aborts is not handed out again.
     */
    long generateId();
}
