package dev.toboggan.core.pagecache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.function.LongConsumer;

/**
 * Striped, lossy rings of page ids that reads and writes record for the cache policy (as Caffeine's read
 * buffer), drained by one thread at a time (the evictor). Recording is a few plain stores, no lock, no
 * CAS, no message.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Layout</b>: {@code stripes} rings of {@value #RING} slots in one {@code long[]}, each ring
 *       followed by its write counter, rings {@value #PAD} longs apart so two stripes never share a cache
 *       line. A thread records into the stripe of its thread id, so threads rarely share a stripe.
 *   <li><b>Record</b>: read the stripe's counter (opaque), store the pid in slot {@code counter % RING}
 *       (opaque), store counter + 1 (release). Two threads racing on one stripe may overwrite each
 *       other's slot or counter: a record is lost or an old slot is read again. That is the "lossy" of
 *       the design: the policy sees a sample of accesses, never a wrong pid (slots hold only pids that
 *       were recorded, and long stores are atomic through the VarHandle).
 *   <li><b>Drain</b> (one thread at a time: the caller holds the evictor's lock): per stripe, read the
 *       counter (acquire), then the slots between the last drained counter and it, at most one ring:
 *       records overwritten before the drain are lost, by design. The drained counter is the drainer's
 *       own state; a counter that went backwards (lost race) is taken as is.
 *   <li><b>Signal</b>: {@link #record} returns true when a stripe has filled half its ring since it
 *       was last at a half mark, so the caller asks for a drain about twice per ring, never per access.
 *   <li><b>Linearization</b>: none is promised; a record is visible to a drain that reads the counter
 *       after the record's release store.
 * </ul>
 */
final class AccessBuffers {
    /** Slots per stripe (a power of two). */
    static final int RING = 256;
    private static final int PAD = RING + 16;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] slots;
    private final int mask;
    private final long[] drained;

    AccessBuffers(int stripes) {
        int n = Integer.highestOneBit(Math.max(1, stripes - 1)) << 1;
        this.slots = new long[n * PAD];
        this.mask = n - 1;
        this.drained = new long[n];
    }

    /** Stripes for this machine: four per processor, so threads seldom collide. */
    static AccessBuffers forThisMachine() {
        return new AccessBuffers(4 * Runtime.getRuntime().availableProcessors());
    }

    /**
     * Records an access to {@code pid}.
     *
     * @return whether a stripe just filled half its ring: time to ask for a drain
     */
    boolean record(long pid) {
        int base = ((int) Thread.currentThread().getId() & mask) * PAD;
        int counterAt = base + RING;
        long count = (long) SLOT.getOpaque(slots, counterAt);
        SLOT.setOpaque(slots, base + (int) (count & (RING - 1)), pid);
        SLOT.setRelease(slots, counterAt, count + 1);
        return ((count + 1) & (RING / 2 - 1)) == 0;
    }

    /** Hands every record since the last drain (at most a ring per stripe) to {@code sink}. */
    void drain(LongConsumer sink) {
        for (int stripe = 0; stripe < drained.length; stripe++) {
            int base = stripe * PAD;
            long count = (long) SLOT.getAcquire(slots, base + RING);
            long from = Math.max(drained[stripe], count - RING);
            for (long i = from; i < count; i++) {
                sink.accept((long) SLOT.getOpaque(slots, base + (int) (i & (RING - 1))));
            }
            drained[stripe] = count;
        }
    }
}
