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
 *   <li><b>Batch groups</b>: recovery drops a batch without a durable seal and everything after its
 *       manifest, the seals of other batches included. So a batch whose seal lies after another batch's
 *       manifest stands or falls with that batch: batches form <em>groups</em>, each batch joining the
 *       group before it if its manifest lies below the end of that group's last seal (an open batch's
 *       "seal end" is {@code Long.MAX_VALUE}: every later batch joins it). A group is durable once every
 *       seal in it is durable; recovery cuts the log at the first manifest of the first group that is not
 *       (LogScanner, the same rule).
 *   <li><b>Stable tip</b> (published): the durable tip, lowered to the first manifest of the earliest
 *       group that is not durable yet. A caller told "stable" may rely on all of it after a crash.
 *       Monotonic too: a batch opens at an LSN that is not durable yet (its manifest's window is
 *       unwritten until the manifest completes), and every group below a published tip was durable, its
 *       seals below that tip, so a new batch never joins a group below what was published.
 *   <li><b>Liveness</b>: batches that keep overlapping (one opening before the last seals) chain into a
 *       group that never ends, and the stable tip would never move. So while somebody wants an LSN that is
 *       not stable, a thread about to open its outermost batch first waits until no batch is open
 *       ({@code Log#awaitBatchAdmission}): the group ends within the longest batch in flight.
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
    /** Batches opened and not sealed yet; {@link #awaitNoOpenBatch} waiters are woken when it drops to 0. */
    private int openBatches;
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
     * The LSN just past the last seal of the earliest group of batches holding the stable tip back: that
     * seal's window must be written for the tip to move. {@code Long.MAX_VALUE} if a batch of that group is
     * still open, -1 if no batch holds the tip back.
     */
    synchronized long blockingSealEnd() {
        var first = batches.firstEntry();
        return first == null || first.getKey() >= durableTip ? -1 : groupEnd(first.getKey());
    }

    /** The end of the last seal of the group that starts with the batch at {@code manifest} (see the class notes). */
    private long groupEnd(long manifest) {
        long end = 0;
        for (Map.Entry<Long, Long> batch : batches.tailMap(manifest, true).entrySet()) {
            if (end != 0 && batch.getKey() >= end) {
                break;
            }
            end = Math.max(end, batch.getValue());
        }
        return end;
    }

    /**
     * The first manifest of the earliest group of batches with a batch still open: the stable tip cannot pass
     * it before that batch seals, however much is forced. {@code Long.MAX_VALUE} if no batch is open.
     */
    synchronized long openGroupStart() {
        if (openBatches == 0) {
            return Long.MAX_VALUE;
        }
        Long start = batches.isEmpty() ? null : batches.firstKey();
        while (start != null) {
            long end = groupEnd(start);
            if (end == Long.MAX_VALUE) {
                return start;
            }
            start = batches.ceilingKey(end); // the next group starts at the first manifest past this one's end
        }
        return Long.MAX_VALUE;
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
        openBatches++;
        publish();
    }

    /** Whether some batch is open (its seal not reserved yet). */
    synchronized boolean hasOpenBatch() {
        return openBatches > 0;
    }

    /** Waits until no batch is open, or {@code millis} passed. */
    synchronized void awaitNoOpenBatch(long millis) throws InterruptedException {
        if (openBatches > 0) {
            wait(millis);
        }
    }

    /** The batch's seal was reserved; the batch is durable once the tip passes {@code sealEnd}. */
    synchronized void sealBatch(long manifestLsn, long sealEnd) {
        batches.put(manifestLsn, sealEnd);
        if (--openBatches == 0) {
            notifyAll();
        }
        publish();
    }

    @SuppressWarnings("GuardedBy")
    private void publish() {
        long tip = durableTip;
        while (!batches.isEmpty()) {
            long start = batches.firstKey();
            long end = groupEnd(start);
            if (end > durableTip) {
                tip = Math.min(tip, start);
                break;
            }
            batches.headMap(end).clear(); // the whole group is durable: every manifest of it lies below its end
        }
        if (tip > stableTip) {
            stableTip = tip;
        }
    }
}
