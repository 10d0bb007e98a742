package dev.toboggan;

import java.util.concurrent.locks.StampedLock;

/**
 * Keeps atomic batches, tree drops and close apart from everything else in memory (sled's
 * {@code concurrency_control}: a global reader-writer lock). The page cache's batches make a batch
 * atomic on disk; this makes it atomic to readers and writers.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Three roles</b> on one {@link StampedLock}: a <em>writer</em> (insert, remove,
 *       compare-and-swap) holds the shared side for its whole change; an <em>exclusive</em> operation
 *       (apply a batch, drop a tree, merge emptied nodes, close) holds the exclusive side; a
 *       <em>reader</em> (get, one leaf of an iterator) holds nothing: it reads optimistically and
 *       validates afterwards.
 *   <li><b>Readers</b>: {@link #beginRead()} returns a stamp, waiting first while an exclusive operation
 *       runs; {@link #validate} says whether one started since. A reader that fails validation throws
 *       away what it read and reads again. Readers write nothing to shared memory here, so reads scale
 *       across cores; the price is a retry when a batch lands in the middle of a read.
 *   <li><b>What a reader may see before validating</b>: anything the tree's lock-free structure allows,
 *       including half of a batch; the tree's traversal is correct on any state a CAS of the page table
 *       leaves, so such a read ends normally (or with the exception of a tree dropped meanwhile) and is
 *       then discarded.
 *   <li><b>Linearization</b>: a writer's change at its page table CAS, which happens while no exclusive
 *       operation runs; a batch as a whole while it holds the exclusive side; a reader at the last page
 *       table read of a validated attempt.
 *   <li>The lock is not reentrant: the tree's internal operations below a held side never take it again.
 * </ul>
 */
final class ConcurrencyControl {
    private final StampedLock lock = new StampedLock();

    /** Enters as a writer; pass the stamp to {@link #exitShared}. */
    long enterShared() {
        return lock.readLock();
    }

    void exitShared(long stamp) {
        lock.unlockRead(stamp);
    }

    /** Enters alone: waits for every writer to leave, and keeps new ones and readers out. */
    long enterExclusive() {
        return lock.writeLock();
    }

    void exitExclusive(long stamp) {
        lock.unlockWrite(stamp);
    }

    /** A stamp for an optimistic read; waits while an exclusive operation runs. */
    long beginRead() {
        while (true) {
            long stamp = lock.tryOptimisticRead();
            if (stamp != 0) {
                return stamp;
            }
            // Wait for the exclusive operation without spinning: the shared side is granted when it ends.
            lock.unlockRead(lock.readLock());
        }
    }

    /** Whether nothing exclusive started since {@code stamp} was taken: what was read since is valid. */
    boolean validate(long stamp) {
        return lock.validate(stamp);
    }
}
