package dev.toboggan;

import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.StampedLock;

/**
 * Keeps atomic batches, structure changes (merges, clears, tree drops, renames) and close apart from everything else in
 * memory (sled's {@code concurrency_control}, a global reader-writer lock, for writers; readers are kept
 * apart by what they read). The page cache's batches make a batch atomic on disk; this makes it atomic to
 * readers and writers.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Writers and exclusive operations</b> share one {@link StampedLock}: a <em>writer</em> (insert,
 *       remove, compare-and-swap) holds its read side for its whole change; an <em>exclusive</em> operation
 *       (apply a batch, commit a transaction, merge, clear, drop or rename a tree, close) holds its write side, so
 *       no writer runs meanwhile. A clear, a drop or a rename onto a tree holds it for its structure change only,
 *       then turns it into a read side ({@link #toShared}) for the frees of the pages it took out of the tree, in
 *       the same page cache batch: writers go on, exclusive operations wait for the batch's seal.
 *   <li><b>Readers</b> (get, one leaf of an iterator) hold nothing and write nothing shared, so reads scale
 *       across cores. Two things can make what a reader read wrong, and each is kept apart differently:
 *       <ul>
 *         <li>a <em>structure change</em> of a tree (a merge, a clear, a drop, a rename onto it, close) frees
 *             pages whose ids may be reused under the tree's readers, or unlinks them for frees right after it
 *             (a teardown, {@link #toShared}): it bumps the tree's
 *             {@link StructureSequence} to odd before its first change and to even after its last (a sequence
 *             lock). A reader takes the even value as its stamp, waiting while it is odd, and throws away what
 *             it read and reads again if the value changed meanwhile. The sequence is the tree's own, so a
 *             structure change holds up only the readers of its tree. The caller of
 *             {@link StructureSequence#begin} holds the write side here, and counts it
 *             ({@link #countStructureChange}).
 *         <li>a <em>batch being applied</em> must not be seen in part: the batch registers every page it is
 *             about to change in {@link #applying} before it publishes the change ({@link #willChange});
 *             a reader that read a page the batch registered waits until the batch is done
 *             ({@link #awaitBatch}) and reads again. Pages no batch touches are read at full speed while
 *             batches run: only structure changes invalidate readers (their tree's).
 *       </ul>
 *   <li><b>What a reader may see before validating</b>: anything the tree's lock-free structure allows,
 *       including pages a structure change freed; the tree's traversal is correct on any state a CAS of the
 *       page table leaves, so such a read ends normally (or with the exception of a tree dropped meanwhile)
 *       and is then discarded.
 *   <li><b>Linearization</b>: a writer's change at its page table CAS, which happens while no exclusive
 *       operation runs; a batch at its end ({@link #endBatch}); a reader at its last page table read, or, if
 *       that read returned a version a batch being applied made, at the moment it saw the batch done.
 *       Why that is linearizable: a reader that returns a page version from before a batch's change of that
 *       page read it before the change, so before the batch's end; one that returns a version the batch made
 *       returns after the end. A reader that starts after another one returned a batch's change starts after
 *       the batch's end, so it finds every page the batch changed in its new version.
 *   <li><b>Visibility</b>: a batch's registration (a concurrent set's add) happens before its page table CAS
 *       (a release); a reader's acquire load of the page table that sees the CAS therefore sees the page in
 *       the set if the batch still runs, or {@link #applying} cleared if it ended. A structure change's odd
 *       value is written (volatile) before its first page table CAS; a reader whose page reads saw that CAS
 *       reads, after an acquire fence, at least the odd value.
 *   <li><b>Readers never wait on the lock</b>: a reader waits for the one batch or structure change it met
 *       (the batch's end, the sequence turning even), not for the write side, which may pass straight to a
 *       transaction's body running alone for as long as the body takes. A thread holding the write side
 *       reads too (a transaction's commit, or its body running alone): it meets no batch of someone else's
 *       and no structure change, since none can run beside it.
 *   <li>The lock is not reentrant: the tree's internal operations below a held side never take it again.
 * </ul>
 */
final class ConcurrencyControl {
    private final StampedLock lock = new StampedLock();
    /** The batch being applied, or {@code null} while none is. */
    private volatile Applying applying;
    /** Batches begun, structure changes begun: counted by holders of the write side only. */
    private volatile long batches;
    private volatile long structureChanges;
    private final LongAdder readsThatWaited = new LongAdder();

    /** Enters as a writer; pass the stamp to {@link #exitShared}. */
    long enterShared() {
        return lock.readLock();
    }

    void exitShared(long stamp) {
        lock.unlockRead(stamp);
    }

    /** Enters alone: waits for every writer to leave, and keeps new ones out (readers go on). */
    long enterExclusive() {
        return lock.writeLock();
    }

    void exitExclusive(long stamp) {
        lock.unlockWrite(stamp);
    }

    /**
     * Turns the exclusive side into a writer's, at once: writers go on from here, and no exclusive operation (a
     * batch, a merge, close) comes between. A teardown frees a tree's pages so, after its structure change
     * (those pages are no tree's any more), in the page cache batch that change opened: writers need not wait
     * for the frees, and close, which must not find that batch open, still does.
     *
     * @return the stamp to pass to {@link #exitShared}
     */
    long toShared(long exclusive) {
        long shared = lock.tryConvertToReadLock(exclusive);
        if (shared == 0L) {
            throw new IllegalStateException("the exclusive side is not held with stamp " + exclusive);
        }
        return shared;
    }

    /** Counts a structure change of a tree ({@link StructureSequence#begin}) for the metrics; the caller holds the write side. */
    void countStructureChange() {
        structureChanges = structureChanges + 1;
    }

    /** A batch starts to be applied; the caller holds the write side. */
    void beginBatch() {
        applying = new Applying();
        batches = batches + 1;
    }

    /** The batch is applied: readers that met its pages go on. The caller holds the write side. */
    void endBatch() {
        Applying batch = applying;
        applying = null;
        batch.ended.complete(null);
    }

    /** Registers page {@code pid}, which the caller is about to change, with the batch being applied, if any. */
    void willChange(long pid) {
        Applying batch = applying;
        if (batch != null) {
            batch.pages.add(pid);
        }
    }

    /**
     * The batch being applied if page {@code pid}, as a reader just read it, may hold one of its changes (the
     * reader then {@link #awaitBatch}es it and reads again), else {@code null}.
     */
    Applying batchChanging(long pid) {
        Applying batch = applying;
        return batch != null && batch.pages.contains(pid) ? batch : null;
    }

    /**
     * Waits until {@code batch} is applied. Only for it: the exclusive side may already be held by what came
     * next (a transaction's body running alone, say), which readers do not wait for.
     */
    void awaitBatch(Applying batch) {
        readsThatWaited.increment();
        batch.ended.join();
    }

    /** A batch being applied: the pages it changes, and its end, which readers that met them wait for. */
    static final class Applying {
        private final Set<Long> pages = ConcurrentHashMap.newKeySet();
        private final CompletableFuture<Void> ended = new CompletableFuture<>();
    }

    StoreMetrics.Concurrency metrics() {
        return new StoreMetrics.Concurrency(batches, structureChanges, readsThatWaited.sum());
    }
}
