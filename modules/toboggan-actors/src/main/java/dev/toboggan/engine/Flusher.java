package dev.toboggan.engine;

import dev.toboggan.core.log.LogWriteException;
import java.time.Duration;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The Flusher actor: runs the log's flush work (write sealed IO buffers, force, advance the stable tip),
 * the periodic flush, and completes {@code flushAsync} waiters. The work itself is the core's
 * {@code LogFlusher.doWork()}; this actor only schedules it, and is supervised:
 *
 * <ul>
 *   <li>A {@link LogWriteException} (a failed write or fsync) propagates: the guardian restarts this actor
 *       with backoff. The failed windows stay in the core and are rewritten by the next attempt, so
 *       nothing is lost; the restarted actor rebuilds its state (nothing but its timers) and looks for
 *       work at once.
 *   <li>When the core has given up (too many consecutive failures: the log is failed), the actor fails
 *       the whole store and from then on only drains its mailbox, so no message becomes a dead letter.
 * </ul>
 *
 * <p>Runs on {@code toboggan.io-dispatcher}: it blocks in IO, and must not starve anybody's actors.
 * Confined state: none beyond the timer scheduler (actor-owned).
 */
final class Flusher {

    /** The Flusher's messages: signals only; callers' futures live in {@link FlushWaiters}. */
    enum Command {
        /** Writers handed over sealed buffers (coalesced by {@link FlushSignal}). */
        FLUSH_NEEDED,
        /** A caller of {@code flushAsync} registered a waiter; sent through the permit window. */
        FLUSH_REQUESTED,
        /** The periodic flush: ask for everything written so far to become durable on time. */
        TICK,
        /** Waiters are left whose data another thread is writing, or a batch holds back: look again soon. */
        RECHECK
    }

    private static final Duration RECHECK_DELAY = Duration.ofMillis(1);

    private final EngineCore core;
    private final TimerScheduler<Command> timers;

    private Flusher(EngineCore core, TimerScheduler<Command> timers) {
        this.core = core;
        this.timers = timers;
    }

    static Behavior<Command> create(EngineCore core) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new Flusher(core, timers).start(ctx)));
    }

    private Behavior<Command> start(ActorContext<Command> ctx) {
        core.flusherStarts.incrementAndGet();
        core.flushSignal.attach(ctx.getSelf());
        scheduleTick();
        // Rebuild after a (re)start: whatever the core holds (ready buffers, windows of a failed attempt,
        // waiters) is looked at now, not when the next writer happens to signal.
        ctx.getSelf().tell(Command.FLUSH_NEEDED);
        return running();
    }

    private Behavior<Command> running() {
        return Behaviors.receive(Command.class).onAnyMessage(this::handle).build();
    }

    private Behavior<Command> handle(Command command) {
        try {
            switch (command) {
                case FLUSH_NEEDED -> core.flushSignal.consumed();
                case TICK -> {
                    scheduleTick();
                    if (core.log.failure() == null) {
                        core.log.requestStable(core.log.periodicFlushTarget());
                    }
                }
                case FLUSH_REQUESTED, RECHECK -> { }
            }
            return flush();
        } finally {
            if (command == Command.FLUSH_REQUESTED) {
                core.flushRequests.release();
            }
        }
    }

    private Behavior<Command> flush() {
        if (core.log.failure() != null) {
            core.fail(core.log.failure());
            return failed();
        }
        while (core.log.flushWork().hasWork()) {
            if (core.log.flushWork().doWork() == 0) {
                break; // another thread holds the flush work and will signal its progress
            }
        }
        if (core.log.failure() != null) {
            core.fail(core.log.failure());
            return failed();
        }
        core.flushWaiters.completeBelow(core.log.stableTip());
        long waiting = core.flushWaiters.lowest();
        if (waiting >= 0) {
            // Asked again: a batch that held the stable tip back at it may have sealed since, past what was asked.
            core.log.requestStable(waiting);
            timers.startSingleTimer(Command.RECHECK, RECHECK_DELAY);
        }
        return Behaviors.same();
    }

    private void scheduleTick() {
        Duration every = core.settings.flushEvery();
        if (!every.isZero()) {
            timers.startSingleTimer(Command.TICK, every);
        }
    }

    /** After the store failed: drain, give permits back, do nothing. */
    private Behavior<Command> failed() {
        timers.cancelAll();
        return Behaviors.receive(Command.class).onAnyMessage(command -> {
            if (command == Command.FLUSH_REQUESTED) {
                core.flushRequests.release();
            }
            return Behaviors.same();
        }).build();
    }
}
