package dev.toboggan.pekko;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.state.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.state.javadsl.DurableStateBehavior;

/**
 * A {@code DurableStateBehavior} whose state is a total: each {@link Add} stores one revision and replies with the
 * new total once it is stored ({@link DurableStateStoreTest}, {@link StateCounterChild}).
 */
final class StateCounter extends DurableStateBehavior<StateCounter.Command, Integer> {
    interface Command {}

    record Add(int amount, ActorRef<Integer> replyTo) implements Command {}

    static Behavior<Command> create(String id) {
        return new StateCounter(PersistenceId.ofUniqueId(id));
    }

    private StateCounter(PersistenceId persistenceId) {
        super(persistenceId);
    }

    @Override
    public Integer emptyState() {
        return 0;
    }

    @Override
    public CommandHandler<Command, Integer> commandHandler() {
        return newCommandHandlerBuilder().forAnyState()
                .onCommand(Add.class, (state, add) -> Effect().persist(state + add.amount())
                        .thenReply(add.replyTo(), total -> total))
                .build();
    }
}
