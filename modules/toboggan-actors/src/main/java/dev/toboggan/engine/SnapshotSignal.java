package dev.toboggan.engine;

/**
 * The engine's side of the core's {@link dev.toboggan.core.Background} port for snapshots: the core tells
 * it the operation count now and then (about once per thousand changes); once the count reaches
 * {@code snapshot-after-ops} this sends at most one {@link Snapshotter.Command#SNAPSHOT_DUE} in flight
 * ({@link CoalescedSignal}).
 */
final class SnapshotSignal {
    private final long afterOps;
    private final CoalescedSignal<Snapshotter.Command> signal = new CoalescedSignal<>(Snapshotter.Command.SNAPSHOT_DUE);

    SnapshotSignal(long afterOps) {
        this.afterOps = afterOps;
    }

    void operationsLogged(long count) {
        if (count >= afterOps) {
            signal.signal();
        }
    }

    void attach(org.apache.pekko.actor.typed.ActorRef<Snapshotter.Command> target) {
        signal.attach(target);
    }

    void consumed() {
        signal.consumed();
    }
}
