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
 * <p>Thread-safe. {@link #close()} makes everything durable, stops the actors, and releases files and
 * memory; every call after it throws {@link IllegalStateException}.
 */
public final class Engine<P, D> implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Engine.class);
    private static final AtomicLong NAMES = new AtomicLong();
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    private final EngineCore core;
    private final PageCache<P, D> pageCache;
    private final ActorSystem<?> system;
    private final boolean ownsSystem;
    private final ActorRef<EngineGuardian.Command> guardian;
    private final Cancellable shutdownHook;
    private volatile boolean closed;

    private Engine(EngineCore core, PageCache<P, D> pageCache, ActorSystem<?> system, boolean ownsSystem,
            ActorRef<EngineGuardian.Command> guardian) {
        this.core = core;
        this.pageCache = pageCache;
        this.system = system;
        this.ownsSystem = ownsSystem;
        this.guardian = guardian;
        this.shutdownHook = CoordinatedShutdown.get(system).addCancellableTask(
                CoordinatedShutdown.PhaseServiceStop(), "toboggan-close-" + NAMES.incrementAndGet(), () ->
                        CompletableFuture.supplyAsync(() -> {
                            closeCore();
                            return Done.getInstance();
                        }));
    }

    /** Opens (creating if needed) the store {@code settings} names, with an actor system of its own. */
    public static <P, D> Engine<P, D> open(EngineSettings settings, Materializer<P, D> materializer) {
        return open(settings, materializer, new FileChannelStorage(settings.pageCache().log().filePermissions()));
    }

    /**
     * As {@link #open(EngineSettings, Materializer)}, on the given IO (tests pass a simulated disk).
     *
     * <p>The actor system starts on a thread of its own while this one opens the store: the two took about
     * the same time (tens of ms each when the JVM has done it before) and need nothing from each other
     * until the engine's actors are spawned, under the system guardian as in a caller's system.
     */
    public static <P, D> Engine<P, D> open(EngineSettings settings, Materializer<P, D> materializer, StorageIo io) {
        String name = "toboggan-" + NAMES.incrementAndGet();
        CompletableFuture<ActorSystem<Void>> starting = new CompletableFuture<>();
        Thread starter = new Thread(() -> {
            try {
                starting.complete(ActorSystem.create(Behaviors.empty(), name, standaloneConfig()));
            } catch (Throwable t) {
                starting.completeExceptionally(t);
            }
        }, name + "-start");
        starter.setDaemon(true);
        starter.start();
        EngineCore core;
        try {
            core = openCore(settings, materializer, io);
        } catch (RuntimeException | Error e) {
            starting.thenAccept(ActorSystem::terminate); // the open failed: the system has no use
            awaitQuietly(starting.thenCompose(system -> system.getWhenTerminated()).toCompletableFuture(), e);
            throw e;
        }
        @SuppressWarnings("unchecked") // openCore opened it with this materializer
        PageCache<P, D> pageCache = (PageCache<P, D>) core.pageCache;
        ActorSystem<Void> system;
        try {
            system = starting.join();
        } catch (CompletionException e) {
            pageCache.close();
            if (e.getCause() instanceof RuntimeException cause) {
                throw cause;
            }
            if (e.getCause() instanceof Error cause) {
                throw cause;
            }
            throw e;
        }
        try {
            ActorRef<EngineGuardian.Command> guardian = system.systemActorOf(EngineGuardian.create(core), name,
                    Props.empty());
            return new Engine<>(core, pageCache, system, true, guardian);
        } catch (RuntimeException | Error e) {
            pageCache.close();
            system.terminate();
            throw e;
        }
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
        };
        return new EngineCore(settings, PageCache.open(settings.pageCache(), io, port, materializer), flushes,
                snapshots, evictions, cleaner);
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
        try {
            ActorRef<EngineGuardian.Command> guardian = system.systemActorOf(EngineGuardian.create(core),
                    "toboggan-" + NAMES.incrementAndGet(), Props.empty());
            return new Engine<>(core, pageCache, system, false, guardian);
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

    /** The actor system the engine's actors run in. */
    public ActorSystem<?> actorSystem() {
        return system;
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
        long lsn = core.log.maxReservedLsn();
        if (core.log.stableTip() > lsn) {
            return CompletableFuture.completedFuture(core.log.stableTip());
        }
        CompletableFuture<Long> done = core.flushWaiters.await(lsn);
        core.log.requestStable(lsn);
        core.flushRequests.send(core.flushSignalTarget(), Flusher.Command.FLUSH_REQUESTED);
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
        shutdownHook.cancel();
        try {
            closeCore();
        } finally {
            // A close whose final flush failed still releases everything.
            if (ownsSystem) {
                system.terminate();
                await(system.getWhenTerminated().toCompletableFuture(), "its actor system to terminate");
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
        shutdownHook.cancel();
        guardian.tell(EngineGuardian.Command.STOP);
        await(core.stopped, "its actors to stop");
        pageCache.abandon();
        core.flushWaiters.failAll(new IllegalStateException("the engine was abandoned before this flush finished"));
        if (ownsSystem) {
            system.terminate();
            await(system.getWhenTerminated().toCompletableFuture(), "its actor system to terminate");
        }
    }

    private synchronized void closeCore() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            guardian.tell(EngineGuardian.Command.STOP);
            await(core.stopped, "its actors to stop");
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
