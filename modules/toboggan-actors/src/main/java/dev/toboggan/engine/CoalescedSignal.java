package dev.toboggan.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * One signal from the core's {@link dev.toboggan.core.Background} port to an actor, with at most one
 * message in flight however often the core signals meanwhile (never a message per operation).
 *
 * <p>{@code pending} is set by the writer that sends and cleared by the actor BEFORE it does the work, and
 * at every (re)start, so a message lost in a restart never leaves it stuck.
 *
 * @param <C> the actor's command type
 */
final class CoalescedSignal<C> {
    private final C message;
    private final AtomicBoolean pending = new AtomicBoolean();
    private volatile ActorRef<C> target;

    CoalescedSignal(C message) {
        this.message = message;
    }

    /** Sends the message unless one is in flight (or no actor has attached yet: it looks at start). */
    void signal() {
        if (pending.compareAndSet(false, true)) {
            ActorRef<C> to = target;
            if (to != null) {
                to.tell(message);
            }
        }
    }

    void attach(ActorRef<C> actor) {
        target = actor;
    }

    void consumed() {
        pending.set(false);
    }
}
