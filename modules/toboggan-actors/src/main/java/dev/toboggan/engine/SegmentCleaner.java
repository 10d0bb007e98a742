package dev.toboggan.engine;

import dev.toboggan.core.pagecache.SegmentCleaning;
import java.time.Duration;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The SegmentCleaner actor: runs the core's {@link SegmentCleaning#pass} when the log has filled a segment,
 * and again at once while the store is over its budget and passes still make progress ("works harder").
 * Each pass is bounded (a few segments drained, a few segments' worth of pages rewritten), so within budget
 * the cleaner's work is paced by the writers' (one pass per filled segment), over it passes run back to
 * back, and writers are slowed in proportion to how far behind it is ({@code SpaceGate}) rather than held
 * for one long pass. It keeps no state: each pass derives the segments' live bytes from the page table, so
 * a restarted cleaner (or one after a crash) simply runs a pass and continues. An idle store within its
 * budget sends it nothing, so it does nothing: no timer, no polling loop. A store left over
 * {@code max-space-amplification} by a pass that could free nothing (the space is in the log's tail, or a
 * snapshot must catch up first) is tried again after {@link #RETRY_MIN}, doubling to {@link #RETRY_MAX}
 * while nothing changes, so an idle store still comes back within the limit, at the cost of one table scan
 * per retry. Within the limit but over the working budget (which keeps room for the IO buffers' next
 * segments) it is not retried: an idle store there stays idle.
 *
 * <p><b>Writing and at rest.</b> A pass that a filled segment brings, and the passes that follow it back to
 * back, clean for {@code load-space-amplification} ({@link SegmentCleaning#pass(SegmentCleaning.Policy,
 * boolean) while writing}): a load lets the store grow to that looser bound instead of sweeping every page
 * once per few segments it writes. Once no segment has filled for {@link #SETTLE_AFTER} (the writers are
 * quiet, or write less than a segment in that time) and the last pass left the store over the watermark of
 * {@code max-space-amplification}, a single timer starts passes at rest, back to back while they make
 * progress and the store is still over it: the load's garbage is compacted once, after the load. A filled
 * segment switches back to passes while writing, and every pass while writing restarts the timer. Writers
 * are slowed and held against the looser bound's budget in both modes, so writers coming back while the
 * store settles are not held for the compaction.
 *
 * <ul>
 *   <li>A failed pass (an IO error, an injected failure) propagates: the guardian restarts this actor with
 *       backoff; the pass's own cleanup already released writers held for space. Nothing is lost: a
 *       segment's slot is given back only at the end of a pass, after everything that made it free is
 *       durable and promised on disk.
 *   <li>Once the store has failed, it cleans no more and only drains its mailbox.
 *   <li>When it stops (close, abandon) writers held for space are released.
 * </ul>
 *
 * <p>A backup, an export or a snapshot that ends after passes kept something for it brings one pass
 * ({@link Command#RETENTION_ENDED}): what they found empty is freed then, not at the next filled segment.
 *
 * <p>Runs on {@code toboggan.io-dispatcher}: it blocks in IO. The only messages it sends are to itself:
 * {@link Command#CONTINUE}, at most one in flight, and {@link Command#RETRY} by a single timer.
 */
final class SegmentCleaner {

    /** The SegmentCleaner's messages: signals only. */
    enum Command {
        /** The log filled one or more segments (coalesced by {@link CoalescedSignal}). */
        SEGMENT_FILLED,
        /** Over budget after a pass that made progress: run another. */
        CONTINUE,
        /** Over max-space-amplification after a pass that freed nothing: try again (a timer's, with backoff). */
        RETRY,
        /** No segment filled for {@link #SETTLE_AFTER} and the store is over its bound at rest: compact (a timer's). */
        SETTLE,
        /**
         * A backup, an export or a snapshot let go of the segments and blobs it kept (coalesced): a pass in the
         * current mode frees what earlier passes found empty and had to keep.
         */
        RETENTION_ENDED
    }

    /**
     * How long after the last filled segment writers count as quiet: a store written at less than a segment
     * per this is cleaned at rest between its segments, as if there were no looser bound.
     */
    static final Duration SETTLE_AFTER = Duration.ofMillis(200);
    static final Duration RETRY_MIN = Duration.ofMillis(100);
    static final Duration RETRY_MAX = Duration.ofSeconds(10);

    private final EngineCore core;
    private final SegmentCleaning work;
    private final TimerScheduler<Command> timers;
    /** Whether a {@link Command#CONTINUE} is in the mailbox: never more than one. */
    private boolean continuing;
    /** Whether passes clean at rest: from a {@link Command#SETTLE} until the next filled segment. */
    private boolean settling;
    /** The wait before the next {@link Command#RETRY}: doubles while passes free nothing. */
    private Duration retryAfter = RETRY_MIN;

    private SegmentCleaner(EngineCore core, TimerScheduler<Command> timers) {
        this.core = core;
        this.work = core.pageCache.cleaning();
        this.timers = timers;
    }

    static Behavior<Command> create(EngineCore core) {
        return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new SegmentCleaner(core, timers).start(ctx)));
    }

    private Behavior<Command> start(ActorContext<Command> ctx) {
        core.cleanerStarts.incrementAndGet();
        core.cleanerSignal.attach(ctx.getSelf());
        core.cleanerSignal.consumed();
        core.retentionSignal.attach(ctx.getSelf());
        core.retentionSignal.consumed();
        work.started();
        // Rebuild: one pass measures every segment from the page table, whatever happened before.
        continuing = true;
        ctx.getSelf().tell(Command.CONTINUE);
        return Behaviors.receive(Command.class)
                .onMessage(Command.class, command -> handle(ctx, command))
                .onSignal(PostStop.class, signal -> {
                    work.stopped();
                    return Behaviors.same();
                })
                .build();
    }

    private Behavior<Command> handle(ActorContext<Command> ctx, Command command) {
        if (command == Command.SEGMENT_FILLED) {
            core.cleanerSignal.consumed();
            settling = false;
        } else if (command == Command.CONTINUE) {
            continuing = false;
        } else if (command == Command.SETTLE) {
            settling = true;
        } else if (command == Command.RETENTION_ENDED) {
            core.retentionSignal.consumed();
        }
        if (core.log.failure() != null) {
            return failed();
        }
        SegmentCleaning.Outcome outcome = work.pass(core.settings.cleaning(), !settling);
        if (!outcome.overLimit() || outcome.progress()) {
            timers.cancel(Command.RETRY);
            retryAfter = RETRY_MIN;
        }
        if (!settling) {
            // restarted by every pass while writing (each filled segment brings one, and ends settling): it
            // fires only once writers have filled no segment for a while
            if (outcome.unsettled()) {
                timers.startSingleTimer(Command.SETTLE, SETTLE_AFTER);
            } else {
                timers.cancel(Command.SETTLE);
            }
        }
        boolean more = outcome.overBudget() || (settling && outcome.unsettled());
        if (more && outcome.progress() && !continuing) {
            continuing = true;
            ctx.getSelf().tell(Command.CONTINUE);
        } else if (outcome.overLimit() && !outcome.progress() && !timers.isTimerActive(Command.RETRY)) {
            timers.startSingleTimer(Command.RETRY, retryAfter);
            retryAfter = retryAfter.multipliedBy(2).compareTo(RETRY_MAX) > 0 ? RETRY_MAX : retryAfter.multipliedBy(2);
        }
        return Behaviors.same();
    }

    /** After the store failed: release writers, drain, do nothing. */
    private Behavior<Command> failed() {
        timers.cancelAll();
        work.stopped();
        return Behaviors.receive(Command.class).onAnyMessage(command -> Behaviors.same()).build();
    }
}
