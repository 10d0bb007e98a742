package dev.toboggan.core.log;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * The threads waiting in {@link Log#makeStable} or {@link Log#makeDurable} for a tip to pass their LSN,
 * each parked on its own: whoever moves a tip wakes exactly the waiters it satisfied, and one waiter it did
 * not, to run the flush work next.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Why not one condition</b>: with every waiter on one condition, a force woke all of them, and
 *       each re-took the condition's lock in turn before it could see whether its LSN was durable: the last
 *       satisfied writers woke a few wake-ups (tens of microseconds each on a busy machine) after the force,
 *       too late to join the next one, and the unsatisfied ones woke only to park again. Here a satisfied
 *       waiter is unparked directly, and the others sleep through (docs/benchmarks.md, "Sixteen durable
 *       writers").
 *   <li><b>States of a waiter</b>: registered (in {@code waiters}) → parked or checking → removed by its
 *       own thread when it returns. Nobody but its thread removes it, so a wake that races its return
 *       only leaves a permit that makes the thread's next park return at once (a spurious wake-up, which
 *       every park loop tolerates).
 *   <li><b>No lost wake-up</b>: a waiter registers BEFORE it tries the flush work's lock, and parks only if
 *       that try failed; the holder of the lock calls {@link #wake} AFTER releasing it. So the holder's
 *       scan, which follows its release, which follows the waiter's failed try, which follows its
 *       registration, sees the waiter (a volatile write and read in the queue). A waiter that got the lock
 *       but found nothing to do waits for something that wakes it too: a window it sealed while another
 *       writer was still in it (that writer's hand-over wakes one waiter), or a batch's seal (sealing wakes
 *       them). Parks are also bounded ({@code Log}'s backstop), so a missed wake costs a delay, never a hang.
 *   <li><b>One leader</b>: of the waiters not satisfied, {@link #wake} unparks only the first: it runs the
 *       flush work for all of them (their windows are ready: a waiter hands its window over before it
 *       registers). Waking them all let each find the work's lock free in turn and force for a group of
 *       one or two.
 * </ul>
 */
final class TipWaiters {
    /** A thread waiting for the stable tip (or the durable tip, if {@code stable} is false) to pass {@code lsn}. */
    record Waiter(Thread thread, long lsn, boolean stable) {
        boolean satisfied(StabilityTracker tips) {
            return (stable ? tips.stableTip() : tips.durableTip()) > lsn;
        }
    }

    private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();

    /** Registers the calling thread; call before trying the flush work, and {@link #remove} it when done. */
    Waiter register(long lsn, boolean stable) {
        Waiter waiter = new Waiter(Thread.currentThread(), lsn, stable);
        waiters.add(waiter);
        return waiter;
    }

    void remove(Waiter waiter) {
        waiters.remove(waiter);
    }

    /** Parks the calling thread until {@link #wake} names it, or {@code nanos} pass. */
    void park(long nanos) {
        LockSupport.parkNanos(this, nanos);
    }

    /**
     * Unparks every waiter whose tip passed its LSN and, if {@code leaderWanted}, the first waiter whose tip
     * did not (it runs the flush work next). The calling thread is never unparked: it is not parked.
     */
    void wake(StabilityTracker tips, boolean leaderWanted) {
        boolean leaderWoken = !leaderWanted;
        Thread self = Thread.currentThread();
        for (Waiter waiter : waiters) {
            if (waiter.thread() == self) {
                continue;
            }
            if (waiter.satisfied(tips)) {
                LockSupport.unpark(waiter.thread());
            } else if (!leaderWoken) {
                LockSupport.unpark(waiter.thread());
                leaderWoken = true;
            }
        }
    }

    /** Unparks every waiter (the log failed or closed: each sees it when it checks). */
    void wakeAll() {
        for (Waiter waiter : waiters) {
            LockSupport.unpark(waiter.thread());
        }
    }
}
