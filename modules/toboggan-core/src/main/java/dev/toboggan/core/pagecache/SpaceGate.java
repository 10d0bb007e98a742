package dev.toboggan.core.pagecache;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Slows writers down while the segment cleaner is behind: the lossless backpressure behind
 * {@code max-space-amplification}. While the store is over its space budget and the cleaner's last pass
 * made progress, each change a writer starts first waits for the cleaner's next pass to end. Writers are
 * held before they reserve anything, so they hold nothing the cleaner needs.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>State</b>: {@code throttled} (volatile, read by every change: one load when the store is within
 *       budget) and {@code passes}, the count of passes ended, guarded by {@code lock}. Only the cleaner's
 *       pass ({@link SegmentCleaning#pass}) sets them, in {@link #passEnded}, which also wakes the waiters.
 *   <li><b>Progress</b>: a waiter returns once {@code passes} moved or {@code throttled} is off, so a writer
 *       waits at most one pass. The cleaner turns throttling on only after a pass that freed space, and
 *       off after any pass that did not, or that failed, or when it stops: writers are never held by a
 *       cleaner that cannot help. A waiter also wakes every few milliseconds to notice a failed or closed
 *       store ({@code checkUsable}).
 *   <li><b>Wait-for graph</b>: writer → cleaner pass; the pass waits only for the flush work and for open
 *       atomic batches to seal, and writers inside a batch are never held (the page cache checks), so
 *       there is no cycle.
 * </ul>
 */
final class SpaceGate {
    private static final long RECHECK_MILLIS = 10;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition passed = lock.newCondition();
    private volatile boolean throttled;
    /** Passes ended; guarded by {@code lock}. */
    private long passes;
    final LongAdder heldWrites = new LongAdder();

    boolean throttled() {
        return throttled;
    }

    /** Waits until the cleaner's pass that is running or next ends, or throttling ends. */
    void awaitPass(Runnable checkUsable) {
        heldWrites.increment();
        lock.lock();
        try {
            long seen = passes;
            while (throttled && passes == seen) {
                checkUsable.run();
                passed.await(RECHECK_MILLIS, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the segment cleaner to free space", e);
        } finally {
            lock.unlock();
        }
    }

    /** A pass ended; writers are held from now on iff {@code throttle}. */
    void passEnded(boolean throttle) {
        lock.lock();
        try {
            passes++;
            throttled = throttle;
            passed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
