package dev.toboggan.core.pagecache;

import java.util.concurrent.atomic.AtomicLong;
import net.openhft.chronicle.bytes.Bytes;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Monotonic ids that never repeat, even across crashes, with one durable write per
 * {@code interval} ids (sled's {@code generate_id}).
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Marks</b>: the counter page holds a high-water mark, always a multiple of the interval I.
 *       A run starts handing out ids at a mark that is already stable: 0 on a new store (whose first
 *       mark is made stable when it is created), else the recovered mark + 2I, written and made stable
 *       at open. Each mark records its run's interval, and a restart uses the larger of that and its
 *       own, so a smaller interval in a later run cannot reissue ids.
 *   <li><b>Invariant</b>: an id x in interval k (kI &le; x &lt; (k+1)I) is returned only once a mark
 *       &ge; (k-1)I is <em>stable</em> (survives a crash, batches included) and the mark kI is written.
 *       So after any crash the recovered mark C &ge; (k-1)I and ids restart at C + 2I &ge; (k+1)I, above
 *       every id handed out. Writing kI when entering interval k gives it a whole interval to become
 *       stable before interval k+1 needs it, so waits are rare.
 *   <li><b>Fast path</b>: one {@code getAndIncrement} and one volatile read of {@code readyBelow}, the
 *       exclusive bound of ids known to satisfy the invariant; it only rises (CAS-max).
 *   <li><b>Slow path</b>: under {@code writeLock}, write the mark of the id's interval if no mark that
 *       high is written yet, and pick the oldest written mark that is high enough. The wait for it to be
 *       stable happens AFTER the lock is released: a thread holding an atomic batch open may need the
 *       lock, and the wait may be for that very batch to seal.
 *   <li><b>Inside a batch</b>: a wait for stability cannot pass the caller's own open batch. If the
 *       mark to wait for was written before that batch's manifest, the batch does not hold it back and
 *       the caller waits for stability as usual. If it was written inside the batch (the batch has run
 *       across an interval boundary already), the caller waits only until the mark is on disk
 *       ({@code makeDurable}) and does not publish readiness. The one case this does not cover: a batch
 *       that runs across two interval boundaries and is then lost in a crash takes the mark it
 *       depended on with it, so ids handed out inside it may be handed out again after the restart.
 *       Its own writes are lost with it; only ids it let escape before it was stable can repeat.
 *       Batches are meant to be short.
 *   <li>sled 0.34 waits for the previous mark only to be durable, and publishes the new mark before
 *       waiting, so other threads may return ids of the new interval before the previous mark is on
 *       disk; and the first persist after a restart waits for the old mark rather than the new one (the
 *       old pagecache crate flushed in that case; found again here by the model test when that first
 *       persist happened inside a batch that a crash then lost). Both are closed here.
 * </ul>
 */
final class IdGenerator {

    /**
     * The counter page's value: a mark and the interval of the run that wrote it. A later run with a
     * smaller interval must still restart past every id the earlier run could have handed out.
     *
     * <pre>
     * body of a COUNTER message: | mark (stop bit) | interval (stop bit) |
     * </pre>
     */
    record Mark(long mark, long interval) {

        /** Where the next run starts handing out ids when this is the last mark recovered. */
        long restartAt(long newInterval) {
            return mark + 2 * Math.max(interval, newInterval);
        }

        void encode(Bytes<?> out) {
            out.writeStopBit(mark);
            out.writeStopBit(interval);
        }

        static Mark decode(Bytes<?> in) {
            long mark = in.readStopBit();
            long interval = in.readStopBit();
            if (mark < 0 || interval < 1) {
                throw new IllegalArgumentException("counter record holds mark " + mark + " and interval " + interval);
            }
            return new Mark(mark, interval);
        }
    }

    /** Writes a mark to the log and returns the LSN of its record. */
    interface MarkWriter {
        long write(long mark);
    }

    /** Waits for a record to be stable (or only durable, inside a batch). */
    interface Durability {
        void await(long lsn, boolean stable);
    }

    private final long interval;
    private final MarkWriter writer;
    private final Durability durability;
    private final AtomicLong next;
    private final AtomicLong readyBelow = new AtomicLong();
    private final AtomicLong stableMark;
    private final ReentrantLock writeLock = new ReentrantLock();
    /** Guarded by writeLock: the newest mark written and its LSN, and the one before it. */
    private long writtenMark;
    private long writtenLsn;
    private long previousMark = -1;
    private long previousLsn = -1;

    /**
     * @param startMark this run's first mark, already stable; ids start there
     * @param startLsn the LSN of its record
     */
    IdGenerator(long interval, long startMark, long startLsn, MarkWriter writer, Durability durability) {
        this.interval = interval;
        this.writer = writer;
        this.durability = durability;
        this.next = new AtomicLong(startMark);
        this.stableMark = new AtomicLong(startMark);
        this.writtenMark = startMark;
        this.writtenLsn = startLsn;
    }

    /**
     * The next id.
     *
     * @param ownBatchManifest the manifest LSN of the oldest atomic batch the calling thread holds open,
     *     or {@link Long#MAX_VALUE} if it holds none
     */
    long generate(long ownBatchManifest) {
        long id = next.getAndIncrement();
        if (id >= readyBelow.get()) {
            settle(id, ownBatchManifest);
        }
        return id;
    }

    private void settle(long id, long ownBatchManifest) {
        long mark = id - id % interval;
        long needed = mark - interval;
        long waitLsn = -1;
        long waitMark = 0;
        writeLock.lock();
        try {
            if (writtenMark < mark) {
                long lsn = writer.write(mark);
                previousMark = writtenMark;
                previousLsn = writtenLsn;
                writtenMark = mark;
                writtenLsn = lsn;
            }
            if (stableMark.get() < needed) {
                boolean previousSuffices = previousLsn >= 0 && previousMark >= needed;
                waitLsn = previousSuffices ? previousLsn : writtenLsn;
                waitMark = previousSuffices ? previousMark : writtenMark;
            }
        } finally {
            writeLock.unlock();
        }
        if (waitLsn >= 0) {
            if (waitLsn > ownBatchManifest) {
                durability.await(waitLsn, false);
                return;
            }
            durability.await(waitLsn, true);
            stableMark.accumulateAndGet(waitMark, Math::max);
        }
        readyBelow.accumulateAndGet(mark + interval, Math::max);
    }
}
