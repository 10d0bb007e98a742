package dev.toboggan.engine;

import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.MailboxSelector;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Supervises the engine's background actors. Each child restarts with backoff on any exception (its state
 * is rebuilt from the core, so a restart loses nothing but time); errors the core cannot retry put the
 * store into its failed state from inside the child (see {@link Flusher}), so they never need to travel
 * up here.
 *
 * <p>Every child gets a bounded mailbox and a restart stash sized above what can be queued for it (its
 * permits plus a few coalesced signals), so neither can ever drop a message.
 */
final class EngineGuardian {

    /** Stops the guardian and, with it, every child. */
    enum Command { STOP }

    private EngineGuardian() {}

    static Behavior<Command> create(EngineCore core) {
        return Behaviors.setup(ctx -> {
            spawnSupervised(ctx, core, Flusher.create(core), "flusher");
            spawnSupervised(ctx, core, Snapshotter.create(core), "snapshotter");
            spawnSupervised(ctx, core, Evictor.create(core), "evictor");
            spawnSupervised(ctx, core, SegmentCleaner.create(core), "segment-cleaner");
            return Behaviors.receive(Command.class)
                    .onMessageEquals(Command.STOP, Behaviors::stopped)
                    .onSignal(PostStop.class, signal -> {
                        core.stopped.complete(null);
                        return Behaviors.same();
                    })
                    .build();
        });
    }

    private static <T> void spawnSupervised(ActorContext<Command> ctx, EngineCore core, Behavior<T> behavior,
            String name) {
        EngineSettings s = core.settings;
        int bound = s.mailboxCapacity() + EngineCore.SIGNAL_SLOTS;
        Behavior<T> supervised = Behaviors.supervise(behavior).onFailure(Exception.class,
                SupervisorStrategy.restartWithBackoff(s.backoffMin(), s.backoffMax(), s.backoffRandomFactor())
                        .withStashCapacity(bound));
        ctx.spawn(supervised, name, MailboxSelector.bounded(bound).withDispatcherFromConfig(EngineSettings.IO_DISPATCHER));
    }
}
