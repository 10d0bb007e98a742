package dev.toboggan.bench.journal;

import org.apache.pekko.actor.AbstractActor;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.DeleteMessagesSuccess;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.NonPersistentRepr;
import org.apache.pekko.persistence.PersistentEnvelope;
import org.apache.pekko.persistence.PersistentRepr;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The floor of the journal benchmarks, not a journal: it stores nothing and answers Pekko's journal protocol
 * directly, every write acknowledged at once in the order it came, every replay empty. It skips what a
 * plugin built on Pekko's {@code AsyncWriteJournal} pays (its future, circuit breaker and resequencer: two
 * messages per event instead of one; Toboggan's journal skips most of it too, speaking the protocol itself)
 * and any storage, so no journal plugin can take less time for the same workload than this one: the time
 * left is the persistent actor's own and the messages between it and its journal. {@code LevelDB ÷ this}
 * bounds what any journal can reach against LevelDB in the same run.
 */
final class AcknowledgeOnlyJournal extends AbstractActor {
    @Override
    public Receive createReceive() {
        return receiveBuilder()
                .match(JournalProtocol.WriteMessages.class, this::acknowledge)
                .match(JournalProtocol.ReplayMessages.class, replay ->
                        replay.persistentActor().tell(new JournalProtocol.RecoverySuccess(0L), self()))
                .match(JournalProtocol.DeleteMessagesTo.class, delete ->
                        delete.persistentActor().tell(new DeleteMessagesSuccess(delete.toSequenceNr()),
                                self()))
                .build();
    }

    private void acknowledge(JournalProtocol.WriteMessages write) {
        ActorRef actor = write.persistentActor();
        int instance = write.actorInstanceId();
        actor.tell(JournalProtocol.WriteMessagesSuccessful$.MODULE$, self());
        for (PersistentEnvelope envelope : CollectionConverters.asJava(write.messages())) {
            if (envelope instanceof AtomicWrite atomic) {
                for (PersistentRepr repr : CollectionConverters.asJava(atomic.payload())) {
                    actor.tell(new JournalProtocol.WriteMessageSuccess(repr, instance), repr.sender());
                }
            } else if (envelope instanceof NonPersistentRepr loop) {
                actor.tell(new JournalProtocol.LoopMessageSuccess(loop.payload(), instance), loop.sender());
            }
        }
    }
}
