package dev.toboggan.engine;

import dev.toboggan.core.Background;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The engine's side of the core's {@link Background} port for flushing: "sealed buffers are waiting"
 * becomes at most one {@link Flusher.Command#FLUSH_NEEDED} message in flight, however many buffers writers
 * hand over. Writers never block and never send a message per write.
 *
 * <p>{@code pending} is set by the writer that sends and cleared by the Flusher BEFORE it looks for work,
 * so a hand-over after the Flusher's look always sends a new message. The Flusher clears it at every
 * (re)start too, so a message lost in a restart, or a signal given before the Flusher existed, never
 * leaves it stuck.
 */
final class FlushSignal implements Background {
    private final AtomicBoolean pending = new AtomicBoolean();
    private volatile ActorRef<Flusher.Command> flusher;

    @Override
    public void flushNeeded() {
        if (pending.compareAndSet(false, true)) {
            ActorRef<Flusher.Command> target = flusher;
            if (target != null) {
                target.tell(Flusher.Command.FLUSH_NEEDED);
            }
        }
    }

    /** The Flusher; waits the few milliseconds between the engine's open and the Flusher's start. */
    ActorRef<Flusher.Command> target() {
        ActorRef<Flusher.Command> target = flusher;
        while (target == null) {
            Thread.onSpinWait();
            target = flusher;
        }
        return target;
    }

    void attach(ActorRef<Flusher.Command> target) {
        flusher = target;
    }

    void consumed() {
        pending.set(false);
    }
}
