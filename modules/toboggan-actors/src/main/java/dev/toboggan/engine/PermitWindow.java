package dev.toboggan.engine;

import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Exact, lossless backpressure for threads outside the actor system that send to an engine actor.
 *
 * <p>Pekko's bounded mailbox drops to dead letters when full, and while an actor backs off before a
 * restart its messages go to a stash that ignores mailbox bounds. So the bound is enforced here instead:
 * a sender takes a permit before it tells (waiting up to {@code send-timeout}, then failing with
 * {@link BackpressureTimeoutException}), and the actor gives the permit back once it has handled the
 * message, whether handling succeeded, failed, or the message was stashed across a restart. The actor's
 * mailbox and stash are sized above the number of permits, so they can never overflow.
 *
 * <p>Invariant: permits in use = permitted messages in the mailbox, in the stash, or being handled.
 */
final class PermitWindow {
    private final Semaphore permits;
    private final int capacity;
    private final Duration timeout;
    private final String target;

    PermitWindow(int capacity, Duration timeout, String target) {
        this.permits = new Semaphore(capacity);
        this.capacity = capacity;
        this.timeout = timeout;
        this.target = target;
    }

    /**
     * Sends {@code message}, waiting for room first.
     *
     * @throws BackpressureTimeoutException if no room came up within {@code send-timeout}
     */
    <T> void send(ActorRef<T> recipient, T message) {
        boolean acquired;
        try {
            acquired = permits.tryAcquire(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BackpressureTimeoutException(target, capacity, timeout, e);
        }
        if (!acquired) {
            throw new BackpressureTimeoutException(target, capacity, timeout, null);
        }
        recipient.tell(message);
    }

    /** Called by the recipient once per permitted message it has handled. */
    void release() {
        permits.release();
    }

    /** Permits in use: permitted messages not yet handled. */
    int inFlight() {
        return capacity - permits.availablePermits();
    }
}
