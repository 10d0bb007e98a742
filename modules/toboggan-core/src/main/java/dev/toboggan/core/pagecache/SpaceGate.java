package dev.toboggan.core.pagecache;

import dev.toboggan.core.log.Log;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Slows writers down while the segment cleaner is behind: the lossless backpressure behind
 * {@code max-space-amplification}. The cleaner sets a limit on the log's segments in use from its budget;
 * while more are in use, each change a writer starts waits until the cleaner has freed enough, or gives
 * up. Writers are held before they reserve anything, so they hold nothing the cleaner needs.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>State</b>: {@code limit} (volatile; {@link Integer#MAX_VALUE} when nobody is held), set only by
 *       the cleaner ({@link #limit(int)}, under {@code lock}, which also wakes the waiters); the log's count
 *       of segments in use, a volatile it keeps once per segment. A change reads both: two loads.
 *   <li><b>Progress</b>: a waiter returns once the segments in use are within the limit. The cleaner sets a
 *       limit only while it frees space (and then runs pass after pass), wakes waiters whenever it freed
 *       segments, and lifts the limit after any pass that freed nothing, or that failed, or when it stops:
 *       writers are never held by a cleaner that cannot help. A waiter also wakes every few milliseconds
 *       to notice a failed or closed store ({@code checkUsable}).
 *   <li><b>Wait-for graph</b>: writer → cleaner; the cleaner waits only for the flush work and for open
 *       atomic batches to seal, and writers inside a batch are never held (the page cache checks), so
 *       there is no cycle. The cleaner's own rewrites are never held: they are how space comes back.
 * </ul>
 */
final class SpaceGate {
    private static final long RECHECK_MILLIS = 10;

    private final Log log;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition room = lock.newCondition();
    private volatile int limit = Integer.MAX_VALUE;
    final LongAdder heldWrites = new LongAdder();

    SpaceGate(Log log) {
        this.log = log;
    }

    boolean throttled() {
        return log.segmentsInUse() > limit;
    }

    /** Waits until the segments in use are within the limit. */
    void awaitRoom(Runnable checkUsable) {
        heldWrites.increment();
        lock.lock();
        try {
            while (throttled()) {
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

    int limit() {
        return limit;
    }

    /** Sets the limit on segments in use ({@link Integer#MAX_VALUE}: none) and wakes the waiters to look again. */
    void limit(int segments) {
        lock.lock();
        try {
            limit = segments;
            room.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
