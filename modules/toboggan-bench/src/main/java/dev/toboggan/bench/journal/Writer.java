package dev.toboggan.bench.journal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.PoisonPill;
import org.apache.pekko.actor.Props;
import org.apache.pekko.persistence.AbstractPersistentActor;
import org.apache.pekko.persistence.RecoveryCompleted;

/**
 * The persistent actor of the journal benchmarks (the TCK's JournalPerfSpec workload): every command is
 * one event, persisted with {@code persist} (the actor handles the next command only once the event is
 * stored) or {@code persistAsync} (commands keep coming while events are written, in batches); the
 * {@code expected}-th confirmation completes {@link #done}.
 */
final class Writer extends AbstractPersistentActor {
    /** Persist this event; count its confirmation. */
    record Event(String payload) {}

    private final String persistenceId;
    private final boolean async;
    private final CompletableFuture<Void> recovered;
    private CompletableFuture<Void> done = new CompletableFuture<>();
    private long expected;
    private long confirmed;

    private Writer(String persistenceId, boolean async, CompletableFuture<Void> recovered) {
        this.persistenceId = persistenceId;
        this.async = async;
        this.recovered = recovered;
    }

    static Props props(String persistenceId, boolean async, CompletableFuture<Void> recovered) {
        return Props.create(Writer.class, () -> new Writer(persistenceId, async, recovered));
    }

    /**
     * Persists {@code events} events as {@code persistenceId} (all commands sent at once) and waits until
     * every one is confirmed; stops the writer.
     */
    static void persistAll(ActorSystem system, String persistenceId, boolean async, int events) throws Exception {
        CompletableFuture<Void> recovered = new CompletableFuture<>();
        ActorRef writer = system.actorOf(props(persistenceId, async, recovered));
        recovered.get(1, TimeUnit.MINUTES);
        CompletableFuture<Void> done = new CompletableFuture<>();
        writer.tell(new Expect(events, done), ActorRef.noSender());
        for (int i = 0; i < events; i++) {
            writer.tell(new Event("event-" + i), ActorRef.noSender());
        }
        done.get(10, TimeUnit.MINUTES);
        writer.tell(PoisonPill.getInstance(), ActorRef.noSender());
    }

    /** Completes the returned future once {@code count} more events are confirmed. */
    record Expect(long count, CompletableFuture<Void> done) {}

    @Override
    public String persistenceId() {
        return persistenceId;
    }

    @Override
    public Receive createReceiveRecover() {
        return receiveBuilder()
                .match(RecoveryCompleted.class, completed -> recovered.complete(null))
                .matchAny(event -> {})
                .build();
    }

    @Override
    public Receive createReceive() {
        return receiveBuilder()
                .match(Expect.class, expect -> {
                    expected = confirmed + expect.count();
                    done = expect.done();
                })
                .match(Event.class, event -> {
                    if (async) {
                        persistAsync(event.payload(), this::confirmed);
                    } else {
                        persist(event.payload(), this::confirmed);
                    }
                })
                .build();
    }

    private void confirmed(String payload) {
        if (++confirmed == expected) {
            done.complete(null);
        }
    }
}
