package dev.toboggan.engine;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.Background;
import dev.toboggan.core.StoreFailedException;
import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.io.StorageIo;
import dev.toboggan.core.pagecache.Materializer;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.SegmentCleaning;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An open store: the core (log and page cache) and the supervised actors that do its background work.
 *
 * <p>By default an engine runs its actors in a small {@link ActorSystem} of its own. Services that
 * already run one pass it to {@link #open(EngineSettings, Materializer, ActorSystem)} (or use
 * {@link TobogganExtension}): the engine then lives under that system's system guardian and is closed
 * by its {@code CoordinatedShutdown} (phase {@code service-stop}) if the service does not close it first.
 *
 * <p>An engine with a system of its own returns from its open as soon as the store is recovered; the system
 * and the actors start on a thread of their own meanwhile (see {@link #open(EngineSettings, Materializer,
 * StorageIo)}). Nothing a read or a change needs runs in an actor, so the store is usable at once; what does
 * wait for the actors ({@link #flushAsync()}, {@link #actorSystem()}, {@link #close()}) waits for their start.
 *
 * <p>Thread-safe. {@link #close()} makes everything durable, stops the actors, and releases files and
 * memory; every call after it throws {@link IllegalStateException}.
 */
public final class Engine<P, D> implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Engine.class);
    private static final AtomicLong NAMES = new AtomicLong();
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    private final EngineCore core;
    private final PageCache<P, D> pageCache;
    private final boolean ownsSystem;
    /** Completed once the actors run ({@link #startActors}), or exceptionally if they could not start. */
    private final CompletableFuture<Actors> actors = new CompletableFuture<>();
    private volatile boolean closed;

    /** The engine's actor side: the system, the guardian of its actors, and the hook that closes it with the system. */
    private record Actors(ActorSystem<?> system, ActorRef<EngineGuardian.Command> guardian, Cancellable shutdownHook) {}

    private Engine(EngineCore core, PageCache<P, D> pageCache, boolean ownsSystem) {
        this.core = core;
        this.pageCache = pageCache;
        this.ownsSystem = ownsSystem;
    }

    /** Spawns the engine's actors under {@code system}'s guardian and closes the engine with the system. */
    private void startActors(ActorSystem<?> system, String name) {
        ActorRef<EngineGuardian.Command> guardian = system.systemActorOf(EngineGuardian.create(core), name,
                Props.empty());
        Cancellable shutdownHook = CoordinatedShutdown.get(system).addCancellableTask(
                CoordinatedShutdown.PhaseServiceStop(), "toboggan-close-" + NAMES.incrementAndGet(), () ->
                        CompletableFuture.supplyAsync(() -> {
                            closeCore();
                            return Done.getInstance();
                        }));
        actors.complete(new Actors(system, guardian, shutdownHook));
    }

    /** Opens (creating if needed) the store {@code settings} names, with an actor system of its own. */
    public static <P, D> Engine<P, D> open(EngineSettings settings, Materializer<P, D> materializer) {
        return open(settings, materializer, new FileChannelStorage(settings.pageCache().log().filePermissions()));
    }

    /**
     * As {@link #open(EngineSettings, Materializer)}, on the given IO (tests pass a simulated disk).
     *
     * <p>The actor system starts on a thread of its own while this one opens the store, and the engine's
     * actors are spawned there (under the system guardian, as in a caller's system) once it has started: the
     * open returns when the store is recovered, without waiting for them. Starting a system took about half
     * of a warm reopen of a 1 M-key store (tens of ms, far more on a busy machine), and nothing a get or a
     * change does needs an actor: a change whose IO buffers are all full writes them itself, {@code flush()}
     * runs in the caller. If the system or the actors fail to start, the store fails (every later call throws
     * {@link StoreFailedException} naming why): a store without its flusher, cleaner and evictor must not run on
     * as if it had them.
     */
    public static <P, D> Engine<P, D> open(EngineSettings settings, Materializer<P, D> materializer, StorageIo io) {
        String name = "toboggan-" + NAMES.incrementAndGet();
        CompletableFuture<Engine<?, ?>> opened = new CompletableFuture<>();
        CompletableFuture<Void> starterDone = new CompletableFuture<>();
        Thread starter = new Thread(() -> {
            try {
                startOwnSystem(name, opened, settings);
            } finally {
                starterDone.complete(null);
            }
        }, name + "-start");
        starter.setDaemon(true);
        starter.start();
        EngineCore core;
        try {
            core = openCore(settings, materializer, io);
        } catch (RuntimeException | Error e) {
            opened.completeExceptionally(e); // the starter stops the system: it has no use
            awaitQuietly(starterDone, e);
            throw e;
        }
        @SuppressWarnings("unchecked") // openCore opened it with this materializer
        PageCache<P, D> pageCache = (PageCache<P, D>) core.pageCache;
        Engine<P, D> engine = new Engine<>(core, pageCache, true);
        opened.complete(engine);
        return engine;
    }

    /**
     * The starter thread's work: creates the engine's own system, waits for the store's open, then spawns the
     * engine's actors; stops the system again if the open failed, and fails the store if the system or its
     * actors could not start.
     */
    private static void startOwnSystem(String name, CompletableFuture<Engine<?, ?>> opened, EngineSettings settings) {
        ActorSystem<Void> system;
        try {
            system = ActorSystem.create(Behaviors.empty(), name, standaloneConfig());
        } catch (Throwable t) {
            opened.thenAccept(engine -> engine.actorsFailed(t, settings));
            return;
        }
        Engine<?, ?> engine;
        try {
            engine = opened.join();
        } catch (CompletionException | java.util.concurrent.CancellationException e) {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().orTimeout(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                    .exceptionally(failure -> null).join();
            return;
        }
        try {
            engine.startActors(system, name);
        } catch (Throwable t) {
            system.terminate();
            engine.actorsFailed(t, settings);
        }
    }

    /** The actors could not start: the store fails, naming why. */
    private void actorsFailed(Throwable failure, EngineSettings settings) {
        core.fail(new IllegalStateException("the actor system of the store at " + settings.directory()
                + " could not start: its background work cannot run", failure));
        actors.completeExceptionally(failure);
    }

    /** Waits (bounded) for a failed open's leftovers to stop, adding a failure to wait to {@code failure}. */
    private static void awaitQuietly(CompletableFuture<?> stopped, Throwable failure) {
        try {
            stopped.get(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            failure.addSuppressed(e);
        }
    }

    /** Opens the core, its port wired to the signals the engine's actors listen to. */
    private static <P, D> EngineCore openCore(EngineSettings settings, Materializer<P, D> materializer,
            StorageIo io) {
        FlushSignal flushes = new FlushSignal();
        SnapshotSignal snapshots = new SnapshotSignal(settings.snapshotAfterOps());
        EvictSignal evictions = new EvictSignal();
        CoalescedSignal<SegmentCleaner.Command> cleaner = new CoalescedSignal<>(SegmentCleaner.Command.SEGMENT_FILLED);
        CoalescedSignal<SegmentCleaner.Command> released = new CoalescedSignal<>(SegmentCleaner.Command.RETENTION_ENDED);
        Background port = new Background() {
            @Override
            public void flushNeeded() {
                flushes.flushNeeded();
            }

            @Override
            public void operationsLogged(long count) {
                snapshots.operationsLogged(count);
            }

            @Override
            public boolean evictionNeeded() {
                return evictions.evictionNeeded();
            }

            @Override
            public void segmentFilled() {
                cleaner.signal();
            }

            @Override
            public void retentionEnded() {
                released.signal();
            }
        };
        return new EngineCore(settings, PageCache.open(settings.pageCache(), io, port, materializer), flushes,
                snapshots, evictions, cleaner, released);
    }

    /** Opens the store with its actors in the caller's actor system. */
    public static <P, D> Engine<P, D> open(EngineSettings settings, Materializer<P, D> materializer,
            ActorSystem<?> system) {
        return open(settings, materializer, system,
                new FileChannelStorage(settings.pageCache().log().filePermissions()));
    }

    /** As {@link #open(EngineSettings, Materializer, ActorSystem)}, on the given IO. */
    public static <P, D> Engine<P, D> open(EngineSettings settings, Materializer<P, D> materializer,
            ActorSystem<?> system, StorageIo io) {
        EngineCore core = openCore(settings, materializer, io);
        @SuppressWarnings("unchecked") // openCore opened it with this materializer
        PageCache<P, D> pageCache = (PageCache<P, D>) core.pageCache;
        Engine<P, D> engine = new Engine<>(core, pageCache, false);
        try {
            engine.startActors(system, "toboggan-" + NAMES.incrementAndGet());
            return engine;
        } catch (RuntimeException | Error e) {
            pageCache.close();
            throw e;
        }
    }

    /**
     * A small system for an engine of its own: two threads for actors, the IO dispatcher for blocking work,
     * Pekko's logging through SLF4J, and no JVM shutdown hook of its own (the engine's close does it).
     */
    private static Config standaloneConfig() {
        return ConfigFactory.parseString("""
                pekko.loggers = ["org.apache.pekko.event.slf4j.Slf4jLogger"]
                pekko.logging-filter = "org.apache.pekko.event.slf4j.Slf4jLoggingFilter"
                pekko.loglevel = INFO
                pekko.stdout-loglevel = OFF
                pekko.log-dead-letters-during-shutdown = off
                pekko.actor.default-dispatcher.fork-join-executor.parallelism-max = 2
                pekko.coordinated-shutdown.run-by-jvm-shutdown-hook = off
                pekko.coordinated-shutdown.terminate-actor-system = on
                """).withFallback(ConfigFactory.load());
    }

    /** The page cache this engine runs. */
    public PageCache<P, D> pageCache() {
        checkOpen();
        return pageCache;
    }

    public EngineSettings settings() {
        return core.settings;
    }

    /**
     * The actor system the engine's actors run in (waiting for its start, right after an open).
     *
     * @throws StoreFailedException if it could not start
     */
    public ActorSystem<?> actorSystem() {
        return started().system();
    }

    /**
     * Makes everything written so far durable, in this thread if the flusher is busy (group commit with
     * every concurrent caller); never waits on a thread that must do the write.
     *
     * @return bytes made durable by this call
     */
    public long flush() {
        checkOpen();
        return pageCache.flush();
    }

    /**
     * Makes everything written so far durable without blocking: the Flusher actor does the work.
     *
     * @return a stage completed with the stable tip once everything written before this call is durable, or
     *     exceptionally with {@link StoreFailedException} if the store fails first
     * @throws BackpressureTimeoutException if the Flusher's mailbox stayed full for {@code send-timeout}
     */
    public CompletionStage<Long> flushAsync() {
        checkOpen();
        CompletableFuture<Long> done = stableWaiter(core.log.maxReservedLsn());
        if (!done.isDone()) {
            core.flushRequests.send(core.flushSignalTarget(), Flusher.Command.FLUSH_REQUESTED);
        }
        return done;
    }

    /**
     * Makes the log stable past {@code lsn} (a position reserved already) without ever waiting for the
     * Flusher's mailbox: the Flusher makes it stable with whatever else is written by then. Where
     * {@link #flushAsync} sends a request of its own (bounded by the mailbox's permits, so a caller learns
     * when the Flusher is stuck), this one raises the Flusher's coalesced signal, as a writer that hands over
     * a buffer does: at most one message in flight however many ask, so it can be asked from any thread, a
     * writer's included (a durable watch's drain).
     *
     * @return a stage completed with the stable tip once it passed {@code lsn}, or exceptionally with
     *     {@link StoreFailedException} if the store fails first
     */
    public CompletionStage<Long> stableAsync(long lsn) {
        checkOpen();
        CompletableFuture<Long> done = stableWaiter(lsn);
        if (!done.isDone()) {
            core.flushSignal.flushNeeded();
        }
        return done;
    }

    /**
     * A stage completed once the stable tip passes {@code lsn} (at once if it has), the log asked to get
     * there; the caller tells the Flusher.
     */
    private CompletableFuture<Long> stableWaiter(long lsn) {
        if (core.log.stableTip() > lsn) {
            return CompletableFuture.completedFuture(core.log.stableTip());
        }
        started(); // the Flusher does the work: right after an open, wait for it to exist
        CompletableFuture<Long> done = core.flushWaiters.await(lsn);
        core.log.requestStable(lsn);
        return done;
    }

    /** Whether {@link #close()} has not been called yet. */
    public boolean isOpen() {
        return !closed;
    }

    /** The cause of the store's failed state, or {@code null} if it has not failed. */
    public Throwable failure() {
        return core.log.failure();
    }

    /** How often the Flusher has started: 1 + its restarts (for tests and metrics). */
    int flusherStarts() {
        return core.flusherStarts.get();
    }

    /** How often the Snapshotter has started: 1 + its restarts (for tests and metrics). */
    int snapshotterStarts() {
        return core.snapshotterStarts.get();
    }

    /** How often the Evictor has started: 1 + its restarts (for tests and metrics). */
    int evictorStarts() {
        return core.evictorStarts.get();
    }

    /** Snapshots the Snapshotter has taken (for tests and metrics). */
    long snapshotsTaken() {
        return core.snapshotsTaken.get();
    }

    /**
     * The segment cleaner's counters (bytes cleaned, segments freed, writes held) and gauges (space
     * amplification, live bytes, lag behind the space budget) as of its last pass.
     */
    public SegmentCleaning.Metrics cleanerMetrics() {
        checkOpen();
        return pageCache.cleaning().metrics();
    }

    /** How often the SegmentCleaner has started: 1 + its restarts (for tests and metrics). */
    int cleanerStarts() {
        return core.cleanerStarts.get();
    }

    /** Flush requests sent to the Flusher and not yet handled (for tests and metrics). */
    int flushRequestsInFlight() {
        return core.flushRequests.inFlight();
    }

    /** The engine's actors, waiting for their start; a failed start is the store's failure. */
    private Actors started() {
        try {
            return actors.join();
        } catch (CompletionException e) {
            throw new StoreFailedException(core.log.failure() != null ? core.log.failure() : e.getCause());
        }
    }

    /** The engine's actors, or {@code null} if they could not start (waiting for their start first). */
    private Actors startedOrNull() {
        try {
            return actors.join();
        } catch (CompletionException e) {
            return null;
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the engine for " + core.settings.directory() + " is closed");
        }
    }

    /**
     * Makes everything durable, stops the actors, and releases files and memory (and the actor system, if
     * the engine owns it). A failed store is closed without writing.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        Actors started = startedOrNull();
        if (started != null) {
            started.shutdownHook().cancel();
        }
        try {
            closeCore();
        } finally {
            // A close whose final flush failed still releases everything.
            if (ownsSystem && started != null) {
                started.system().terminate();
                await(started.system().getWhenTerminated().toCompletableFuture(), "its actor system to terminate");
            }
        }
    }

    /**
     * Drops this engine as if its process died here: stops the actors and releases nothing durably, writes
     * nothing, flushes nothing. For a service going down after a fatal error, and for tests that simulate a
     * crash (after a simulated power loss the old file handles are dead). Reopening recovers what was
     * durable.
     */
    public void abandon() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        Actors started = startedOrNull();
        if (started != null) {
            started.shutdownHook().cancel();
            started.guardian().tell(EngineGuardian.Command.STOP);
            await(core.stopped, "its actors to stop");
        }
        pageCache.abandon();
        core.flushWaiters.failAll(new IllegalStateException("the engine was abandoned before this flush finished"));
        if (ownsSystem && started != null) {
            started.system().terminate();
            await(started.system().getWhenTerminated().toCompletableFuture(), "its actor system to terminate");
        }
    }

    private synchronized void closeCore() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Actors started = startedOrNull(); // the hook runs only once they have started; close waited for it
            if (started != null) {
                started.guardian().tell(EngineGuardian.Command.STOP);
                await(core.stopped, "its actors to stop");
            }
        } finally {
            try {
                pageCache.close();
            } finally {
                Throwable failure = core.log.failure();
                if (failure != null) {
                    core.flushWaiters.failAll(failure);
                } else {
                    core.flushWaiters.completeBelow(Long.MAX_VALUE);
                }
            }
        }
    }

    private void await(CompletableFuture<?> future, String what) {
        try {
            future.get(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            LOG.warn("closing the engine for {}: gave up waiting for {}", core.settings.directory(), what, e);
        }
    }
}
