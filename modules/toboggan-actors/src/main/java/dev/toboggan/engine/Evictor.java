package dev.toboggan.engine;

import dev.toboggan.core.pagecache.CacheEvictor;
import java.time.Duration;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The Evictor actor: keeps the page cache under {@code cache-capacity} by running the core's
 * {@link CacheEvictor#run()} (drain the access buffers into the W-TinyLFU policy, page out durable
 * victims) whenever readers or writers ask ({@link EvictSignal}, one message in flight) and every
 * {@value #TICK_MILLIS} ms, so the access buffers are drained even when nothing is over capacity. It is
 * supervised:
 *
 * <ul>
 *   <li>A failed run propagates: the guardian restarts this actor with backoff. Its only state is the
 *       policy, which a restart drops ({@link CacheEvictor#restart()}); the next run rebuilds it,
 *       approximately, from the page table. The resident accounting lives in the core, so nothing is
 *       lost. While it is down, readers and writers that would push the cache past capacity + slack
 *       wait (the core's {@link CacheEvictor} admission), so the heap does not grow without bound.
 *   <li>Once the store has failed, it runs no more and only drains its mailbox.
 * </ul>
 *
 * <p>Runs on {@code toboggan.io-dispatcher}: a victim not durable yet is made durable first, which may
 * block in IO. Confined state: none beyond the timer scheduler (actor-owned).
 */
final class Evictor {
    static final long TICK_MILLIS = 100;

    /** The Evictor's messages: signals only. */
    enum Command {
        /** The cache is over capacity or its buffers are filling (coalesced by {@link EvictSignal}). */
        RUN,
        /** The periodic drain. */
        TICK
    }

    private final EngineCore core;
    private final CacheEvictor work;
    private final TimerScheduler<Command> timers;

    private Evictor(EngineCore core, TimerScheduler<Command> timers) {
        this.core = core;
        this.work = core.pageCache.evictor();
        this.timers = timers;
    }

    static Behavior<Command> create(EngineCore core) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new Evictor(core, timers).start(ctx)));
    }

    private Behavior<Command> start(ActorContext<Command> ctx) {
        if (core.evictorStarts.incrementAndGet() > 1) {
            work.restart();
        }
        core.evictSignal.attach(ctx.getSelf());
        core.evictSignal.consumed();
        timers.startTimerWithFixedDelay(Command.TICK, Duration.ofMillis(TICK_MILLIS));
        // Run now: callers may be waiting for room since before this (re)start.
        ctx.getSelf().tell(Command.RUN);
        return Behaviors.receive(Command.class).onAnyMessage(this::handle).build();
    }

    private Behavior<Command> handle(Command command) {
        if (command == Command.RUN) {
            core.evictSignal.consumed();
        }
        if (core.log.failure() != null) {
            return failed();
        }
        work.run();
        return Behaviors.same();
    }

    /** After the store failed: drain, do nothing. */
    private Behavior<Command> failed() {
        timers.cancelAll();
        return Behaviors.receive(Command.class).onAnyMessage(command -> Behaviors.same()).build();
    }
}
