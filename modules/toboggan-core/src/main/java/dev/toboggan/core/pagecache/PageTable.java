package dev.toboggan.core.pagecache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

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
 *       counts what it set, so that {@link #plausible} can refuse ids no record backs.
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
    /** Slots set by {@link #set} (recovery, one thread). */
    private long recoveredSets;

    /**
     * The current entry of {@code pid} (a {@link Page} or a paged-out locations array), or {@code null}
     * if nothing was ever installed there.
     */
    Object get(long pid) {
        Object[] chunk = (Object[]) CHUNK.getAcquire(chunks, (int) (pid >>> L2_BITS));
        return chunk == null ? null : SLOT.getAcquire(chunk, (int) pid & L2_MASK);
    }

    /**
     * Replaces {@code expected} (the exact object read, or {@code null} for a slot never written) with
     * {@code next}.
     *
     * @return whether this call made the change
     */
    boolean compareAndSet(long pid, Object expected, Object next) {
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
