package dev.toboggan.engine;

import dev.toboggan.core.log.Log;
import dev.toboggan.core.pagecache.PageCache;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the engine's actors share: the core (source of truth), and the engine-side structures that must
 * outlive any actor restart. Actors keep nothing that is not rebuilt from here.
 */
final class EngineCore {
    private static final Logger LOG = LoggerFactory.getLogger(EngineCore.class);

    /** Mailbox slots beyond the permits, for the signals and timers an actor can have queued at once. */
    static final int SIGNAL_SLOTS = 4;

    final EngineSettings settings;
    final PageCache<?, ?> pageCache;
    final Log log;
    final FlushSignal flushSignal;
    final SnapshotSignal snapshotSignal;
    final EvictSignal evictSignal;
    final CoalescedSignal<SegmentCleaner.Command> cleanerSignal;
    /** Tells the SegmentCleaner that a reader let go of what it kept ({@code Background.retentionEnded}). */
    final CoalescedSignal<SegmentCleaner.Command> retentionSignal;
    final PermitWindow flushRequests;
    final FlushWaiters flushWaiters = new FlushWaiters();
    /** Starts of the Flusher: 1 + its restarts. */
    final java.util.concurrent.atomic.AtomicInteger flusherStarts = new java.util.concurrent.atomic.AtomicInteger();
    /** Starts of the Snapshotter: 1 + its restarts. */
    final java.util.concurrent.atomic.AtomicInteger snapshotterStarts = new java.util.concurrent.atomic.AtomicInteger();
    /** Starts of the Evictor: 1 + its restarts. */
    final java.util.concurrent.atomic.AtomicInteger evictorStarts = new java.util.concurrent.atomic.AtomicInteger();
    /** Starts of the SegmentCleaner: 1 + its restarts. */
    final java.util.concurrent.atomic.AtomicInteger cleanerStarts = new java.util.concurrent.atomic.AtomicInteger();
    /** Snapshots the Snapshotter took. */
    final java.util.concurrent.atomic.AtomicLong snapshotsTaken = new java.util.concurrent.atomic.AtomicLong();
    /** Completed when the guardian has stopped, with every child. */
    final CompletableFuture<Void> stopped = new CompletableFuture<>();

    EngineCore(EngineSettings settings, PageCache<?, ?> pageCache, FlushSignal flushSignal,
            SnapshotSignal snapshotSignal, EvictSignal evictSignal,
            CoalescedSignal<SegmentCleaner.Command> cleanerSignal, CoalescedSignal<SegmentCleaner.Command> retentionSignal) {
        this.settings = settings;
        this.pageCache = pageCache;
        this.log = pageCache.log();
        this.flushSignal = flushSignal;
        this.snapshotSignal = snapshotSignal;
        this.evictSignal = evictSignal;
        this.cleanerSignal = cleanerSignal;
        this.retentionSignal = retentionSignal;
        this.flushRequests = new PermitWindow(settings.mailboxCapacity(), settings.sendTimeout(), "Flusher");
    }

    /** The Flusher, once it has started; flush requests before that wait for it in the permit window. */
    org.apache.pekko.actor.typed.ActorRef<Flusher.Command> flushSignalTarget() {
        return flushSignal.target();
    }

    /**
     * Puts the store into its failed state for good: every later call fails fast naming {@code cause},
     * and every waiting flush fails with it.
     */
    void fail(Throwable cause) {
        if (log.failure() == null) {
            LOG.error("the store at {} failed: {}", settings.directory(), cause.toString(), cause);
        }
        log.fail(cause);
        flushWaiters.failAll(log.failure());
    }
}
