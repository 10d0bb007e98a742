package dev.toboggan;

import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * One tree's sequence lock for its structure changes (a merge, a clear, a drop, a rename onto it, a build's
 * replacing its empty root, the store's close): what keeps that tree's optimistic readers from trusting what
 * they read while its pages are freed and their ids may be handed out again ({@link ConcurrencyControl}'s notes).
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>States</b>: the value is even while no structure change of the tree runs, odd while one does. Only
 *       a holder of the store's exclusive side changes it ({@link #begin}, {@link #end}), so writes never race.
 *   <li><b>Readers</b> take the even value as their stamp ({@link #beginRead}, waiting while it is odd), read, and
 *       keep what they read only if the value is still the stamp ({@link #validate}).
 *   <li><b>Visibility</b>: the odd value is written (volatile) before the change's first page table CAS; a reader
 *       whose page reads saw that CAS reads, after the acquire fence in {@link #validate}, at least the odd value.
 *       The even value is written after the change's last CAS, so a reader whose stamp is that value sees
 *       every page the change made.
 *   <li><b>Why one per tree suffices</b>: a tree's readers follow page ids only from that tree's own pages. An id
 *       another tree's structure change frees was never linked from this tree, and an id this tree freed and
 *       another reused is caught by this tree's sequence: a merge frees inside its structure change, and a
 *       teardown (a clear, a drop, a rename onto the tree) unlinks its pages inside one and frees them after it,
 *       when no stamp taken since can lead to them. So a clear of one tree holds up
 *       that tree's readers only, not those of the store's other trees. The one way pages change owner without
 *       being freed, a rename, retires the renamed tree's object in a structure change of its own
 *       ({@code BLinkTree.retire}) before the new owner can change anything, so no reader of the old object reads
 *       on under a sequence that the new owner's frees would not bump.
 * </ul>
 */
final class StructureSequence {
    private volatile long value;

    /** A structure change of the tree starts: its readers from here on fail their validation. The caller holds the exclusive side. */
    void begin() {
        value = value + 1;
    }

    /** The structure change is over; the caller still holds the exclusive side. */
    void end() {
        value = value + 1;
    }

    /** A stamp for an optimistic read of the tree; waits while a structure change of it runs. */
    long beginRead() {
        long stamp = value;
        for (int waits = 0; (stamp & 1) != 0; waits++) {
            // Wait for that structure change only (a merge's is short), not on the lock: the exclusive side may
            // pass to a transaction's body running alone, which readers do not wait for.
            if (waits < 64) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(20_000);
            }
            stamp = value;
        }
        return stamp;
    }

    /** Whether no structure change of the tree started since {@code stamp} was taken: what was read since is valid. */
    boolean validate(long stamp) {
        VarHandle.acquireFence(); // the reads before this come before the read of the sequence below
        return value == stamp;
    }
}
