package dev.toboggan.engine;

import dev.toboggan.core.Failpoints;
import dev.toboggan.core.pagecache.SnapshotWriter;
import java.time.Duration;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The Snapshotter actor: takes a snapshot every {@code snapshot-after-ops} changes or every
 * {@code snapshot-interval}, whichever comes first, so an open replays little of the log. The work is the
 * core's {@link SnapshotWriter#takeSnapshot()}; this actor only schedules it, and is supervised:
 *
 * <ul>
 *   <li>A failed snapshot (an IO error) propagates: the guardian restarts this actor with backoff. The
 *       previous snapshot stays the one recovery uses, so nothing is lost; the restarted actor rebuilds
 *       its state (its timer) and tries again at once.
 *   <li>Once the store has failed, it takes no more snapshots and only drains its mailbox.
 * </ul>
 *
 * <p>Runs on {@code toboggan.io-dispatcher}: it blocks in IO. Confined state: none beyond the timer
 * scheduler (actor-owned).
 */
final class Snapshotter {

    /** The Snapshotter's messages: signals only. */
    enum Command {
        /** {@code snapshot-after-ops} changes were logged since the last snapshot (coalesced by {@link SnapshotSignal}). */
        SNAPSHOT_DUE,
        /** {@code snapshot-interval} passed since the last snapshot. */
        TICK
    }

    private final EngineCore core;
    private final SnapshotWriter work;
    private final TimerScheduler<Command> timers;

    private Snapshotter(EngineCore core, TimerScheduler<Command> timers) {
        this.core = core;
        this.work = core.pageCache.snapshots();
        this.timers = timers;
    }

    static Behavior<Command> create(EngineCore core) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new Snapshotter(core, timers).start(ctx)));
    }

    private Behavior<Command> start(ActorContext<Command> ctx) {
        try {
            Failpoints.check("snapshotter.start");
        } catch (Failpoints.InjectedFailure e) {
            throw new IllegalStateException("injected failure of the Snapshotter's start", e);
        }
        core.snapshotterStarts.incrementAndGet();
        core.snapshotSignal.attach(ctx.getSelf());
        // After a restart, try again now: the failure that caused it left the snapshot due.
        if (core.snapshotterStarts.get() > 1) {
            ctx.getSelf().tell(Command.SNAPSHOT_DUE);
        } else {
            core.snapshotSignal.consumed();
            // The engine's open returns before its actors start: writers may have logged snapshot-after-ops
            // changes already, and their signals, given before this actor was attached, sent nothing. Signal
            // the count now, as a writer would.
            core.snapshotSignal.operationsLogged(work.operationsSinceSnapshot());
            scheduleTick();
        }
        return Behaviors.receive(Command.class).onAnyMessage(this::handle).build();
    }

    private Behavior<Command> handle(Command command) {
        if (command == Command.SNAPSHOT_DUE) {
            core.snapshotSignal.consumed();
        }
        if (core.log.failure() != null) {
            return failed();
        }
        if (work.takeSnapshot() >= 0) {
            core.snapshotsTaken.incrementAndGet();
        }
        scheduleTick(); // the interval counts from the last snapshot, whatever triggered it
        return Behaviors.same();
    }

    private void scheduleTick() {
        Duration every = core.settings.snapshotInterval();
        if (!every.isZero()) {
            timers.startSingleTimer(Command.TICK, every);
        }
    }

    /** After the store failed: drain, do nothing. */
    private Behavior<Command> failed() {
        timers.cancelAll();
        return Behaviors.receive(Command.class).onAnyMessage(command -> Behaviors.same()).build();
    }
}
