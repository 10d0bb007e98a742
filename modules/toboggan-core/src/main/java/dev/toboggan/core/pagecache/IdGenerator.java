package dev.toboggan.core.pagecache;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Monotonic ids that never repeat, even across crashes, with one durable write per
 * {@code interval} ids (sled's {@code generate_id}).
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Marks</b>: the counter page holds a high-water mark. A run starts handing out ids at
 *       {@code startId}: 0 on a new store, else the recovered mark + 2I, or the {@link IdMarkFile}'s mark +
 *       2I if that is more. Each mark records its run's interval, and a restart uses the larger of that and
 *       its own, so a smaller interval in a later run cannot reissue ids.
 *   <li><b>Lazy start</b> (an open costs no write and no fsync): the run's first mark is written and
 *       made stable by the first {@link #generate}, through the ordinary slow path below: the generator
 *       starts with the recovered mark as both written and stable (it is on disk), or, on a new store,
 *       with the creation's mark 0 written but not yet known stable. The first id then lies at least
 *       one interval above the stable mark, so it waits for a new mark (or mark 0) to become stable, as
 *       the invariant asks. A run that hands out no id writes nothing, and ids restart where they would
 *       have. {@link #awaitReady} does the same before a thread's outermost atomic batch opens, so the
 *       first mark is never written inside a batch (where a crash could take it along).
 *   <li><b>Invariant</b>: an id x in interval k (kI &le; x &lt; (k+1)I) is returned only once a mark
 *       &ge; (k-1)I <em>survives a crash</em> (stable in the log, batches included, or recorded in the
 *       {@link IdMarkFile}) and the mark kI is written. So after any crash the recovered mark C &ge; (k-1)I and
 *       ids restart at C + 2I &ge; (k+1)I, above every id handed out. Writing kI when entering interval k gives
 *       it a whole interval to become stable before interval k+1 needs it, so waits are rare.
 *   <li><b>Fast path</b>: one {@code getAndIncrement} and one volatile read of {@code readyBelow}, the
 *       exclusive bound of ids known to satisfy the invariant; it only rises (CAS-max).
 *   <li><b>Slow path</b>: under {@code writeLock}, write the mark of the id's interval if no mark that
 *       high is written yet, and pick the oldest written mark that is high enough. The wait for it to be
 *       stable happens AFTER the lock is released: a thread holding an atomic batch open may need the
 *       lock, and the wait may be for that very batch to seal.
 *   <li><b>Inside a batch</b>: a wait for stability may never end while the caller holds a batch open:
 *       a batch of another thread opened before the mark and sealed after the caller's manifest puts
 *       both batches in one group, which is stable only once the caller's own batch is sealed (see
 *       {@code StabilityTracker}); and a mark written inside the caller's own batch is stable only with it. A
 *       crash that drops the group drops the mark with it. So a caller inside a batch that needs a mark not
 *       yet stable records the newest written mark in the {@link IdMarkFile} instead (a file of its own,
 *       forced and renamed, which no recovery drops), and an open restarts past the larger of that mark and
 *       the log's. This costs a few forces, at most once per interval and only inside batches: {@link
 *       #awaitReady} makes the next id ready before a batch opens, so only a batch taking ids across an
 *       interval boundary whose preceding mark is not stable yet (its mark written inside the batch, or after
 *       another thread's batch still open) writes the file. Before the file, such ids were handed out after
 *       the mark was only on disk, and came back after a crash that lost the batch
 *       ({@code PageCacheTest#idsHandedOutInsideABatchLostInACrashDoNotRepeat}).
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

        void encode(BodyWriter out) {
            out.writeStopBit(mark);
            out.writeStopBit(interval);
        }

        static Mark decode(BodyReader in) {
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

    /** Waits for a record to be stable. */
    interface Durability {
        void awaitStable(long lsn);
    }

    /** Records a mark durably outside the log ({@link IdMarkFile}), at once. */
    interface MarkFile {
        void record(long mark);
    }

    private final long interval;
    private final MarkWriter writer;
    private final Durability durability;
    private final MarkFile markFile;
    private final AtomicLong next;
    private final AtomicLong readyBelow = new AtomicLong();
    /** The newest mark known to survive a crash: stable in the log, or recorded in the mark file. */
    private final AtomicLong stableMark;
    private final ReentrantLock writeLock = new ReentrantLock();
    /** Guarded by writeLock: the newest mark written and its LSN, and the one before it. */
    private long writtenMark;
    private long writtenLsn;
    private long previousMark = -1;
    private long previousLsn = -1;

    /**
     * @param startId the first id this run hands out
     * @param writtenMark the newest mark in the log (recovered, or written at creation)
     * @param writtenLsn the LSN of its record
     * @param stableMark the newest mark known to be stable: {@code writtenMark} if it was recovered,
     *     {@link Long#MIN_VALUE} on a new store
     */
    IdGenerator(long interval, long startId, long writtenMark, long writtenLsn, long stableMark, MarkWriter writer,
            Durability durability, MarkFile markFile) {
        this.interval = interval;
        this.writer = writer;
        this.durability = durability;
        this.markFile = markFile;
        this.next = new AtomicLong(startId);
        this.stableMark = new AtomicLong(stableMark);
        this.writtenMark = writtenMark;
        this.writtenLsn = writtenLsn;
    }

    /**
     * Makes the next id ready if it is not (its interval's mark written, the mark before it stable), as a
     * {@link #generate} outside a batch would, without taking it: called before a thread opens its
     * outermost atomic batch, so that the first id the batch takes needs no mark written inside it. Two
     * batches in a row that each took an id across a boundary, both lost in a crash, reissued the second
     * one's id (the model test, interval 1): its interval's preceding mark had been written inside the first.
     * Waits only when the next id has crossed into an interval not yet ready: once per interval at most,
     * and the run's first mark included.
     */
    void awaitReady() {
        long id = next.get();
        if (id >= readyBelow.get()) {
            settle(id, false);
        }
    }

    /**
     * Makes every later id higher than {@code id} (an import carrying another store's ids over), as if ids
     * up to it had been handed out: the next id's interval gets its mark written and made stable before this
     * returns, through {@link #awaitReady}'s path, so the invariant holds for the jump as for a step. Called
     * outside any batch.
     */
    void advancePast(long id) {
        if (id < 0 || id == Long.MAX_VALUE) {
            throw new IllegalArgumentException("ids run from 0 to Long.MAX_VALUE - 1; cannot advance past " + id);
        }
        next.accumulateAndGet(id + 1, Math::max);
        awaitReady();
    }

    /**
     * The next id.
     *
     * @param insideBatch whether the calling thread holds an atomic batch open
     */
    long generate(boolean insideBatch) {
        long id = next.getAndIncrement();
        if (id >= readyBelow.get()) {
            settle(id, insideBatch);
        }
        return id;
    }

    private void settle(long id, boolean insideBatch) {
        long mark = id - id % interval;
        long needed = mark - interval;
        long waitLsn = -1;
        long waitMark = 0;
        long newest;
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
            newest = writtenMark;
        } finally {
            writeLock.unlock();
        }
        if (waitLsn >= 0) {
            if (insideBatch) {
                // the mark's record may be dropped with a batch: this one, or one grouped with it
                markFile.record(newest);
                stableMark.accumulateAndGet(newest, Math::max);
            } else {
                durability.awaitStable(waitLsn);
                stableMark.accumulateAndGet(waitMark, Math::max);
            }
        }
        readyBelow.accumulateAndGet(mark + interval, Math::max);
    }
}
