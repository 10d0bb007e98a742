package dev.toboggan.core.log;

import java.util.Map;
import java.util.TreeMap;

/**
 * Turns out-of-order completions of buffer writes into the contiguous durable tip, and caps the tip
 * that callers see at the start of any atomic batch that is not wholly durable yet.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Durable tip</b> (internal): every byte below it is forced to disk. Windows may be written in
 *       any order; each reports its LSN range [lo, hi), and the tip moves over every range that starts
 *       at it. Monotonic.
 *   <li><b>Stable tip</b> (published): the durable tip, lowered to the manifest LSN of the earliest
 *       batch whose seal is not durable yet. A caller told "stable" may rely on all of it after a
 *       crash: recovery drops a batch without a durable seal, and everything after its manifest.
 *       Monotonic too: a batch opens at an LSN that is not durable yet (its manifest's window is
 *       unwritten until the manifest completes), so it never lowers what was published.
 *   <li>All state is guarded by {@code this}; the published tip is also readable without the lock
 *       (volatile), which is the only read on the fast path of {@code makeStable}.
 * </ul>
 */
final class StabilityTracker {
    /** lo → hi of written windows above the durable tip. */
    private final TreeMap<Long, Long> pending = new TreeMap<>();
    /** manifest LSN → LSN just past the seal (Long.MAX_VALUE while the batch is open). */
    private final TreeMap<Long, Long> batches = new TreeMap<>();
    private long durableTip;
    private volatile long stableTip;
    private volatile long durableTipSnapshot;

    StabilityTracker(long tip) {
        this.durableTip = tip;
        this.stableTip = tip;
        this.durableTipSnapshot = tip;
    }

    /** The tip callers may rely on: see the class notes. */
    long stableTip() {
        return stableTip;
    }

    /** Every byte below this is on disk (batches not considered). */
    long durableTip() {
        return durableTipSnapshot;
    }

    /**
     * The LSN just past the seal of the earliest batch holding the stable tip back: the seal's window
     * must be written for the tip to move. {@code Long.MAX_VALUE} if that batch is still open, -1 if no
     * batch holds the tip back.
     */
    synchronized long blockingSealEnd() {
        var first = batches.firstEntry();
        return first == null || first.getKey() >= durableTip ? -1 : first.getValue();
    }

    /** Records that [lo, hi) is on disk. */
    synchronized void markDurable(long lo, long hi) {
        if (lo == durableTip) {
            durableTip = hi;
            Map.Entry<Long, Long> next;
            while ((next = pending.firstEntry()) != null && next.getKey() == durableTip) {
                durableTip = next.getValue();
                pending.pollFirstEntry();
            }
        } else {
            pending.put(lo, hi);
        }
        durableTipSnapshot = durableTip;
        publish();
    }

    /** A batch's manifest was reserved at {@code manifestLsn}; call before the manifest completes. */
    synchronized void openBatch(long manifestLsn) {
        batches.put(manifestLsn, Long.MAX_VALUE);
        publish();
    }

    /** The batch's seal was reserved; the batch is durable once the tip passes {@code sealEnd}. */
    synchronized void sealBatch(long manifestLsn, long sealEnd) {
        batches.put(manifestLsn, sealEnd);
        publish();
    }

    @SuppressWarnings("GuardedBy")
    private void publish() {
        long tip = durableTip;
        var it = batches.entrySet().iterator();
        while (it.hasNext()) {
            Map.Entry<Long, Long> batch = it.next();
            if (batch.getValue() <= durableTip) {
                it.remove();
            } else {
                tip = Math.min(tip, batch.getKey());
                break;
            }
        }
        if (tip > stableTip) {
            stableTip = tip;
        }
    }
}
