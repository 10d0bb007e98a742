package dev.toboggan.pekko;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;

/**
 * A persistent actor for the tests: appends entries (events) to its state, a comma-separated list, and
 * answers an append only once it is persisted. Snapshots every 50 events, so a recovery uses the snapshot
 * store and the journal.
 */
final class Ledger extends EventSourcedBehavior<Ledger.Command, String, String> {
    interface Command {}

    /** Appends {@code entry}; answers with the number of entries once it is persisted. */
    record Append(String entry, ActorRef<Integer> replyTo) implements Command {}

    /** Answers with the state: every entry, in order, comma-separated. */
    record Read(ActorRef<String> replyTo) implements Command {}

    private Ledger(String persistenceId) {
        super(PersistenceId.ofUniqueId(persistenceId));
    }

    static Behavior<Command> create(String persistenceId) {
        return new Ledger(persistenceId);
    }

    @Override
    public String emptyState() {
        return "";
    }

    @Override
    public CommandHandler<Command, String, String> commandHandler() {
        return newCommandHandlerBuilder().forAnyState()
                .onCommand(Append.class, (state, append) -> Effect().persist(append.entry())
                        .thenReply(append.replyTo(), after -> after.split(",").length))
                .onCommand(Read.class, (state, read) -> Effect().reply(read.replyTo(), state))
                .build();
    }

    @Override
    public EventHandler<String, String> eventHandler() {
        return newEventHandlerBuilder().forAnyState()
                .onEvent(String.class, (state, entry) -> state.isEmpty() ? entry : state + "," + entry)
                .build();
    }

    @Override
    public RetentionCriteria retentionCriteria() {
        return RetentionCriteria.snapshotEvery(50, 2);
    }
}
