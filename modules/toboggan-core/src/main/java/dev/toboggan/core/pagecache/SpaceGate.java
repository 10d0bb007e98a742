package dev.toboggan.core.pagecache;

import dev.toboggan.core.log.Log;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Slows writers down while the segment cleaner is behind: the lossless backpressure behind
 * {@code max-space-amplification}. The cleaner sets two limits on the log's segments in use. Over the
 * <em>soft</em> limit each change a writer starts is delayed, the longer the further over it the log is
 * ({@link #delayNanos}: a fraction of a millisecond one segment over, {@link #MAX_DELAY_NANOS} at the hard
 * limit), like RocksDB's delayed write rate between its soft and hard pending-compaction limits: writers
 * slow down smoothly and the cleaner gets the CPU and the time to catch up. Only over the <em>hard</em>
 * limit, the last resort when the disk would otherwise grow without bound, is a change held until the
 * cleaner has freed enough (a compaction stall, which pacing exists to avoid). Writers wait before they
 * reserve anything, so they hold nothing the cleaner needs.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>State</b>: {@code limits}, one volatile long packing the soft limit (high 32 bits) and the hard
 *       limit (low 32 bits), so a writer never pairs a new soft limit with an old hard one; both
 *       {@link Integer#MAX_VALUE} when nobody is slowed. Written only by the cleaner ({@link #limits(int, int)},
 *       under {@code lock}, which also wakes held writers); the log's count of segments in use is a volatile
 *       it keeps once per segment, less the empty segments a backup keeps until it has copied them (a
 *       volatile count, 0 but during a backup). A change under the soft limit reads both
 *       ({@link #throttled}): two loads, no write.
 *   <li><b>Delay</b>: soft &lt; in use &le; hard: {@code MAX_DELAY_NANOS × (inUse − soft) / (hard − soft)},
 *       parked in the writer's own thread (no message, no lock, nothing shared but two counters).
 *   <li><b>Progress</b>: a held writer returns once the segments in use are within the hard limit. The
 *       cleaner keeps limits only while its passes free space (it then runs pass after pass while over its
 *       watermark), wakes held writers whenever it freed segments, and lifts both limits after any pass that
 *       freed nothing while over the soft limit, or that failed, or when it stops: writers are never slowed
 *       by a cleaner that cannot help. A held writer also wakes every few milliseconds to notice a failed
 *       or closed store ({@code checkUsable}).
 *   <li><b>Wait-for graph</b>: writer → cleaner; the cleaner waits only for the flush work and for open
 *       atomic batches to seal, and writers inside a batch are never slowed (the page cache checks), so
 *       there is no cycle. The cleaner's own rewrites are never slowed: they are how space comes back.
 * </ul>
 */
final class SpaceGate {
    /** The delay of a change at the hard limit; one segment over the soft limit gets its share of it. */
    static final long MAX_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long NONE = pack(Integer.MAX_VALUE, Integer.MAX_VALUE);
    private static final long RECHECK_MILLIS = 10;

    private final Log log;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition room = lock.newCondition();
    private volatile long limits = NONE;
    /** Changes delayed between the soft and the hard limit. */
    final LongAdder delayedWrites = new LongAdder();
    /** Changes held over the hard limit until the cleaner freed segments. */
    final LongAdder heldWrites = new LongAdder();
    /** Time writers spent delayed or held, summed over writers. */
    final LongAdder waitNanos = new LongAdder();

    SpaceGate(Log log) {
        this.log = log;
    }

    private static long pack(int soft, int hard) {
        return ((long) soft << 32) | (hard & 0xffff_ffffL);
    }

    /** Whether a change must go through {@link #awaitRoom}: the segments in use are over the soft limit. */
    boolean throttled() {
        int soft = (int) (limits >>> 32);
        // the second load only past the first: the hot path stays two loads
        return log.segmentsInUse() > soft && inUse() > soft;
    }

    /**
     * Segments in use that count against writers: not those the cleaner would have freed but for a backup that
     * has yet to copy them ({@link Log#segmentsKeptForCopies}). A backup holds them for the seconds it copies,
     * and holding writers for that space would stall them for the whole backup.
     */
    private int inUse() {
        return log.segmentsInUse() - log.segmentsKeptForCopies();
    }

    /**
     * The delay of a change while {@code inUse} segments are in use: 0 up to the soft limit, then growing
     * linearly with the overshoot to {@link #MAX_DELAY_NANOS} at the hard limit; -1 over it (held).
     */
    static long delayNanos(int inUse, int soft, int hard) {
        if (inUse <= soft) {
            return 0;
        }
        if (inUse > hard) {
            return -1;
        }
        return MAX_DELAY_NANOS * (inUse - soft) / Math.max(1, hard - soft);
    }

    /**
     * Delays the calling writer by {@link #delayNanos}, or holds it until the segments in use are within the
     * hard limit.
     */
    void awaitRoom(Runnable checkUsable) {
        long from = System.nanoTime();
        long now = limits;
        long delay = delayNanos(inUse(), (int) (now >>> 32), (int) now);
        if (delay > 0) {
            delayedWrites.increment();
            LockSupport.parkNanos(this, delay);
        } else if (delay < 0) {
            heldWrites.increment();
            hold(checkUsable);
        }
        waitNanos.add(System.nanoTime() - from);
    }

    private void hold(Runnable checkUsable) {
        lock.lock();
        try {
            while (inUse() > (int) limits) {
                checkUsable.run();
                room.await(RECHECK_MILLIS, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the segment cleaner to free space", e);
        } finally {
            lock.unlock();
        }
    }

    int softLimit() {
        return (int) (limits >>> 32);
    }

    int hardLimit() {
        return (int) limits;
    }

    /**
     * Sets the limits on segments in use ({@link Integer#MAX_VALUE} for both: none) and wakes held writers
     * to look again.
     *
     * @throws IllegalArgumentException if {@code hard < soft}
     */
    void limits(int soft, int hard) {
        if (hard < soft) {
            throw new IllegalArgumentException("hard limit " + hard + " under soft limit " + soft);
        }
        lock.lock();
        try {
            limits = pack(soft, hard);
            room.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Lifts both limits: nobody is slowed or held. */
    void lift() {
        limits(Integer.MAX_VALUE, Integer.MAX_VALUE);
    }

    /** Wakes held writers to look again: the cleaner freed segments. */
    void wake() {
        lock.lock();
        try {
            room.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
