package dev.toboggan.core.pagecache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.LongConsumer;

/**
 * Page id → the page's current entry: a two-level radix of reference arrays. An entry is a
 * {@link Page} (resident or free) or a paged-out page's bare locations array ({@code long[]}); see
 * {@link Page} for the states.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Layout</b>: a fixed first level of {@value #L1_SIZE} references to second-level chunks of
 *       {@value #L2_SIZE} slots each; pid {@code p} lives in chunk {@code p >>> 16}, slot
 *       {@code p & 0xFFFF}, so pids up to 2^32 - 1. A lookup is two dependent loads (chunk, then slot)
 *       after the final field. Plain arrays with {@link VarHandle} element access rather than
 *       {@code AtomicReferenceArray}s, whose wrapper objects would add a dependent load per level.
 *   <li><b>Growth</b>: a chunk is created on the first write into its range, by one CAS from
 *       {@code null}; a loser drops its copy and uses the winner's. Chunks and slots are never
 *       removed: the table never shrinks, and a slot, once set, is never {@code null} again.
 *   <li><b>Changes</b>: every change of a slot is {@link #compareAndSet} from the exact entry object
 *       the caller read to a new one. Pages are immutable and never reinstalled, so identity rules out
 *       ABA; a locations array may come back (out, in, out again) but stands for exactly one logical
 *       state (see {@link Page}), so a CAS expecting it is still right. The JVM's collector frees
 *       superseded versions once no reader holds them.
 *   <li><b>Visibility</b>: slots and chunks are read with acquire and written by CAS (volatile
 *       semantics), so a reader that sees a page sees it fully built (its fields are final anyway),
 *       and sees a chunk's slots initialized to {@code null} before any page put there.
 *   <li><b>Linearization</b>: a {@link #get} at its slot read; a change at its successful CAS.
 *   <li><b>Recovery</b>: {@link #set} fills the table on the opening thread before it is shared, and
 *       counts what it set, so that {@link #plausible} can refuse ids no record backs. Every {@code set}
 *       of a pid comes after a {@link #get} of it (the replay's rules need the entry before).
 *   <li><b>Unresolved pages</b>: the pages of the snapshot recovery started from are not decoded at
 *       open ({@link #attach}): their slots stay {@code null} until their snapshot block (4096 ids,
 *       {@link SnapshotFormat}) is resolved. A slot is unresolved iff it is {@code null}, an
 *       {@link Unresolved} is attached, and its block is in the snapshot and not yet marked resolved.
 *       {@link #get} that reads {@code null} takes the slow path: it resolves the block (decodes it and
 *       installs each page by a CAS from {@code null}), then reads the slot again; so the hot path pays
 *       nothing for a slot that holds an entry, and one volatile read for an empty one.
 *   <li><b>Why an install cannot lose a write</b>: it is a CAS from {@code null}, and a slot, once set,
 *       is never {@code null} again, so it can only fill a slot nobody has set. A writer sets a slot only
 *       by a CAS from what a {@code get} returned (or {@link #set} after one), and that {@code get}
 *       resolved the block first; a CAS that expects {@code null} resolves the block itself before. So
 *       a writer never sets a slot of an unresolved block, and an install never meets a writer's entry
 *       it would have had to keep: the two only race between resolvers, which install equal entries
 *       (the first wins, the others' CASes fail and they read the winner's).
 *   <li><b>What a reader of an unresolved slot sees</b>: never {@code null} for a page the snapshot
 *       holds. A block is marked resolved (a CAS of its flag, after every install of its pages) only by
 *       a thread that installed them all, so a reader that sees the flag set (acquire) sees the
 *       installs; a reader that sees it clear decodes and installs the block itself (concurrent
 *       resolvers of one block each decode it; wasted work, never a wrong answer). Linearization of
 *       such a {@code get}: its final slot read, at which point the block is resolved.
 *   <li><b>Dropping the snapshot</b>: the thread that marks the last block resolved clears
 *       {@link #unresolved} (volatile), which lets the mapped file go. A reader that then still holds
 *       the old reference finds every flag set; one that reads {@code null} re-reads its slot after that
 *       volatile read, so it sees every install (they happen-before the clearing).
 * </ul>
 */
final class PageTable {
    static final int L2_BITS = 16;
    static final int L2_SIZE = 1 << L2_BITS;
    static final int L1_SIZE = 1 << 16;
    private static final int L2_MASK = L2_SIZE - 1;
    /** One past the largest pid the table can hold. */
    static final long CAPACITY = (long) L1_SIZE * L2_SIZE;

    private static final VarHandle CHUNK = MethodHandles.arrayElementVarHandle(Object[][].class);
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Object[].class);

    /**
     * Page ids recovery may name beyond those its records back (see {@link #plausible}): 16 chunks, and
     * as many reusable ids for the gaps, a few MiB at most.
     */
    static final long UNBACKED_IDS = 1L << 20;

    private final Object[][] chunks = new Object[L1_SIZE][];
    /** Slots set by {@link #set} and pages of the attached snapshot (recovery, one thread). */
    private long recoveredSets;
    /** The snapshot whose pages are not all installed yet, or {@code null}; see the class notes. */
    private volatile Unresolved unresolved;

    /**
     * The current entry of {@code pid} (a {@link Page} or a paged-out locations array), or {@code null}
     * if nothing was ever installed there; a page of the snapshot recovery started from is decoded here
     * the first time it is asked for.
     *
     * @throws dev.toboggan.core.CorruptionException if the snapshot block holding it does not decode
     */
    Object get(long pid) {
        Object entry = slot(pid);
        return entry != null ? entry : resolve(pid);
    }

    /**
     * The entries of the ids below {@code next}, each read as {@link #get} reads it (a snapshot's block decoded
     * first), in chunks of {@link #L2_SIZE} (the last one only as long as needed). The slots are read one after
     * another: the copy is of one moment only if nothing changes them meanwhile ({@link FrozenPages}).
     *
     * <p>Each chunk is copied in bulk ({@link Arrays#copyOf}, an intrinsic), then an acquire fence orders those
     * reads before every later read through what they returned: together an acquire read of each slot, as
     * {@link #get}'s. This runs once per freeze, cold: a loop of {@link #get}s ran interpreted, ~100 ns a slot
     * (3.5-7 ms for 43 000 ids, writers held throughout). A {@code null} copied (an id never installed, or a
     * page of a snapshot block not decoded yet) is read again with {@link #get} if a snapshot was attached when
     * the copy began; if none was, every block had been resolved before {@link #unresolved} was cleared, and the
     * copy, after that volatile read, sees their installs.
     */
    Object[][] copyBelow(long next) {
        Unresolved pending = unresolved; // before the copy: see above
        Object[][] copy = new Object[(int) ((next + L2_SIZE - 1) >>> L2_BITS)][];
        for (int c = 0; c < copy.length; c++) {
            Object[] chunk = (Object[]) CHUNK.getAcquire(chunks, c);
            int length = (int) Math.min(L2_SIZE, next - ((long) c << L2_BITS));
            copy[c] = chunk == null ? new Object[length] : Arrays.copyOf(chunk, length);
        }
        VarHandle.acquireFence();
        if (pending != null) {
            for (int c = 0; c < copy.length; c++) {
                Object[] chunk = copy[c];
                for (int i = 0; i < chunk.length; i++) {
                    if (chunk[i] == null) {
                        chunk[i] = get(((long) c << L2_BITS) + i);
                    }
                }
            }
        }
        return copy;
    }

    /** The slot as it is: {@code null} for a page of the snapshot not yet decoded too (see the class notes). */
    Object peek(long pid) {
        return slot(pid);
    }

    private Object slot(long pid) {
        Object[] chunk = (Object[]) CHUNK.getAcquire(chunks, (int) (pid >>> L2_BITS));
        return chunk == null ? null : SLOT.getAcquire(chunk, (int) pid & L2_MASK);
    }

    /** The slow path of {@link #get} for an empty slot: resolves its snapshot block, then reads it again. */
    private Object resolve(long pid) {
        Unresolved pending = unresolved;
        if (pending != null) {
            pending.resolveBlockOf(pid);
        }
        return slot(pid);
    }

    /**
     * Replaces {@code expected} (the exact object read, or {@code null} for a slot never written) with
     * {@code next}.
     *
     * @return whether this call made the change
     */
    boolean compareAndSet(long pid, Object expected, Object next) {
        if (expected == null) {
            resolve(pid); // a page of an unresolved block is not "never written": see the class notes
        }
        Object[] chunk = chunkFor(pid);
        if (Jitter.ENABLED) {
            Jitter.beforeCas();
        }
        return SLOT.compareAndSet(chunk, (int) pid & L2_MASK, expected, next);
    }

    /** Sets a slot during recovery, before any other thread can see the table. */
    void set(long pid, Object page) {
        SLOT.setRelease(chunkFor(pid), (int) pid & L2_MASK, page);
        recoveredSets++;
    }

    /**
     * Attaches the snapshot recovery starts from, its pages unresolved (see the class notes); on the
     * opening thread, before any page is set or read.
     */
    void attach(SnapshotFormat.Image image) {
        recoveredSets += image.records();
        if (image.blocks() > 0) {
            unresolved = new Unresolved(image);
        }
    }

    /**
     * Calls {@code action} with every id in {@code [from, to)} whose slot holds no page or a free one,
     * reading an unresolved snapshot block's live map instead of decoding it. Recovery only: on the
     * opening thread, before the table is shared.
     */
    void forEachVacant(long from, long to, LongConsumer action) {
        Unresolved pending = unresolved;
        for (long pid = from; pid < to; ) {
            long groupEnd = Math.min(to, (pid | (SnapshotFormat.BLOCK_PIDS - 1)) + 1);
            int block = pending == null ? -1 : pending.image.blockOf(pid);
            if (block >= 0 && !pending.isResolved(block)) {
                // ids from the snapshot's count on are not its pages (the replay may have set them): slots
                long mapEnd = Math.min(groupEnd, pending.image.pageIds());
                pending.image.forEachVacant(block, pid, mapEnd, action);
                pid = mapEnd;
                continue;
            }
            // a resolved block, a group without a record in the snapshot, or ids past it: the slots say it
            for (; pid < groupEnd; pid++) {
                Object entry = slot(pid);
                if (entry == null || Page.isFree(entry)) {
                    action.accept(pid);
                }
            }
        }
    }

    /** Whether some page of the snapshot recovery started from is not decoded yet (for tests and tools). */
    boolean hasUnresolved() {
        return unresolved != null;
    }

    /**
     * The snapshot blocks not yet installed: per block a flag, set once (0 → 1, by CAS) by a thread
     * after it installed all of the block's pages.
     */
    private final class Unresolved {
        final SnapshotFormat.Image image;
        private final AtomicIntegerArray resolved;
        private final AtomicInteger left;

        Unresolved(SnapshotFormat.Image image) {
            this.image = image;
            this.resolved = new AtomicIntegerArray(image.blocks());
            this.left = new AtomicInteger(image.blocks());
        }

        boolean isResolved(int block) {
            return resolved.get(block) != 0;
        }

        void resolveBlockOf(long pid) {
            int block = image.blockOf(pid);
            if (block >= 0) {
                resolve(block);
            }
        }

        void resolve(int block) {
            if (isResolved(block)) {
                return;
            }
            image.decodeBlock(block, (pid, entry) -> SLOT.compareAndSet(chunkFor(pid), (int) pid & L2_MASK, null, entry));
            if (resolved.compareAndSet(block, 0, 1) && left.decrementAndGet() == 0) {
                unresolved = null;
            }
        }
    }

    /**
     * Whether recovery may name {@code pid} (in a record or as the snapshot's id count) after the records
     * set so far. A store hands out the lowest free id first, so its ids are dense: every id below the
     * highest is a page, a free page, or one of the few allocations a crash lost. Each id below the highest
     * costs memory (a chunk of the table, an entry among the reusable ids), so a damaged or crafted file
     * that names a far id must not be believed: that would allocate gigabytes from a few bytes.
     */
    boolean plausible(long pid) {
        return pid < UNBACKED_IDS + 2 * recoveredSets;
    }

    private Object[] chunkFor(long pid) {
        int index = (int) (pid >>> L2_BITS);
        Object[] chunk = (Object[]) CHUNK.getAcquire(chunks, index);
        if (chunk != null) {
            return chunk;
        }
        Object[] fresh = new Object[L2_SIZE];
        Object[] witness = (Object[]) CHUNK.compareAndExchange(chunks, index, null, fresh);
        return witness == null ? fresh : witness;
    }

    static boolean holds(long pid) {
        return pid >= 0 && pid < CAPACITY;
    }
}
