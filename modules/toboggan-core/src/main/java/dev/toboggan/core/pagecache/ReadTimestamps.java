package dev.toboggan.core.pagecache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Per-page transactional read timestamps (seed 001's {@code rts}): the highest timestamp of a
 * transaction that read the page, so a writer with an older timestamp can tell it would invalidate
 * that read. Kept beside the page table, not in the immutable {@link Page}, so that a bump is one CAS
 * on a {@code long} and never changes the page's version.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li>Same radix shape as {@link PageTable}: {@code long[]} chunks created lazily by CAS, on the first
 *       bump into their range, so a store whose pages are never bumped pays one empty first level.
 *   <li>A timestamp only rises ({@link #bump} is a CAS-max loop; its linearization point is the
 *       successful CAS, or the read that found a value at least as high). It is not persisted and
 *       survives a free and reallocation of the pid, which is conservative: a reused page looks read
 *       more recently than it was.
 * </ul>
 */
final class ReadTimestamps {
    private static final VarHandle CHUNK = MethodHandles.arrayElementVarHandle(long[][].class);
    private static final VarHandle TS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int MASK = PageTable.L2_SIZE - 1;

    private final long[][] chunks = new long[PageTable.L1_SIZE][];

    /** Raises the read timestamp of {@code pid} to at least {@code ts}. */
    void bump(long pid, long ts) {
        long[] chunk = chunkFor(pid);
        int i = (int) pid & MASK;
        long current = (long) TS.getVolatile(chunk, i);
        while (current < ts) {
            long witness = (long) TS.compareAndExchange(chunk, i, current, ts);
            if (witness == current) {
                return;
            }
            current = witness;
        }
    }

    /** The read timestamp of {@code pid}; 0 if it was never bumped. */
    long get(long pid) {
        long[] chunk = (long[]) CHUNK.getAcquire(chunks, (int) (pid >>> PageTable.L2_BITS));
        return chunk == null ? 0 : (long) TS.getVolatile(chunk, (int) pid & MASK);
    }

    private long[] chunkFor(long pid) {
        int index = (int) (pid >>> PageTable.L2_BITS);
        long[] chunk = (long[]) CHUNK.getAcquire(chunks, index);
        if (chunk != null) {
            return chunk;
        }
        long[] fresh = new long[PageTable.L2_SIZE];
        long[] witness = (long[]) CHUNK.compareAndExchange(chunks, index, null, fresh);
        return witness == null ? fresh : witness;
    }
}
