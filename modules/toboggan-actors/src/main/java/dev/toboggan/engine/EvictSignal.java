package dev.toboggan.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The engine's side of the core's {@link dev.toboggan.core.Background} port for eviction: readers and
 * writers call {@link #evictionNeeded()} when the cache is over capacity or its access buffers fill; this
 * sends at most one {@link Evictor.Command#RUN} in flight.
 *
 * <p>{@code pending} is set by the caller that sends and cleared by the Evictor BEFORE it runs, and at
 * every (re)start, so a message lost in a restart never leaves it stuck. While the Evictor is not
 * attached (before its first start) nothing is sent; its start runs anyway.
 */
final class EvictSignal {
    private final AtomicBoolean pending = new AtomicBoolean();
    private volatile ActorRef<Evictor.Command> evictor;

    /** Always true: the Evictor runs the work, callers only wait for it. */
    boolean evictionNeeded() {
        if (!pending.get() && pending.compareAndSet(false, true)) {
            ActorRef<Evictor.Command> target = evictor;
            if (target != null) {
                target.tell(Evictor.Command.RUN);
            }
        }
        return true;
    }

    void attach(ActorRef<Evictor.Command> target) {
        evictor = target;
    }

    void consumed() {
        pending.set(false);
    }
}
