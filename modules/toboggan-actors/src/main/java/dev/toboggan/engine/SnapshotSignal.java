package dev.toboggan.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The engine's side of the core's {@link dev.toboggan.core.Background} port for snapshots: the core tells
 * it the operation count now and then (about once per thousand changes); once the count reaches
 * {@code snapshot-after-ops} this sends at most one {@link Snapshotter.Command#SNAPSHOT_DUE} in flight.
 *
 * <p>{@code pending} is set by the writer that sends and cleared by the Snapshotter BEFORE it snapshots,
 * and at every (re)start, so a message lost in a restart never leaves it stuck.
 */
final class SnapshotSignal {
    private final long afterOps;
    private final AtomicBoolean pending = new AtomicBoolean();
    private volatile ActorRef<Snapshotter.Command> snapshotter;

    SnapshotSignal(long afterOps) {
        this.afterOps = afterOps;
    }

    void operationsLogged(long count) {
        if (count >= afterOps && pending.compareAndSet(false, true)) {
            ActorRef<Snapshotter.Command> target = snapshotter;
            if (target != null) {
                target.tell(Snapshotter.Command.SNAPSHOT_DUE);
            }
        }
    }

    void attach(ActorRef<Snapshotter.Command> target) {
        snapshotter = target;
    }

    void consumed() {
        pending.set(false);
    }
}
