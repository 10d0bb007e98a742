package dev.toboggan.pekko;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.LongStream;
import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.Persistence;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.PersistentRepr$;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;
import scala.jdk.javaapi.CollectionConverters;

/** Talks to a journal actor in its own protocol, as Pekko's persistent actors do, and checks its replies. */
final class JournalClient {
    static final Duration TIMEOUT = Duration.ofSeconds(10);

    private final ActorRef journal;
    private final TestProbe<Object> probe;

    JournalClient(ActorRef journal, TestProbe<Object> probe) {
        this.journal = journal;
        this.probe = probe;
    }

    /** A client of the journal {@code toboggan.journal} of {@code testKit}'s system (started by this call). */
    static JournalClient of(ActorTestKit testKit) {
        return new JournalClient(Persistence.get(Adapter.toClassic(testKit.system()))
                .journalFor("toboggan.journal", ConfigFactory.empty()), testKit.createTestProbe());
    }

    static PersistentRepr repr(String persistenceId, long seqNr, Object payload) {
        return PersistentRepr$.MODULE$.apply(payload, seqNr, persistenceId, "", false, ActorRef.noSender(), "writer-1");
    }

    static AtomicWrite atomic(String persistenceId, long from, long to) {
        List<PersistentRepr> reprs = new ArrayList<>();
        for (long seqNr = from; seqNr <= to; seqNr++) {
            reprs.add(repr(persistenceId, seqNr, persistenceId + "-" + seqNr));
        }
        return new AtomicWrite(seq(reprs));
    }

    /** One AtomicWrite per event. */
    static List<AtomicWrite> events(String persistenceId, long from, long to) {
        List<AtomicWrite> writes = new ArrayList<>();
        for (long seqNr = from; seqNr <= to; seqNr++) {
            writes.add(atomic(persistenceId, seqNr, seqNr));
        }
        return writes;
    }

    static <T> scala.collection.immutable.Seq<T> seq(List<T> items) {
        return CollectionConverters.asScala(items).toList();
    }

    static scala.collection.immutable.Set<String> tags(String... tags) {
        return CollectionConverters.asScala(Set.of(tags)).toSet();
    }

    static List<Long> range(long from, long to) {
        return LongStream.rangeClosed(from, to).boxed().toList();
    }

    void send(List<AtomicWrite> writes) {
        ActorRef replyTo = Adapter.toClassic(probe.ref());
        journal.tell(new JournalProtocol.WriteMessages(seq(new ArrayList<>(writes)), replyTo, 1), replyTo);
    }

    void writeAndAcknowledge(List<AtomicWrite> writes) {
        send(writes);
        assertThat(probe.receiveMessage(TIMEOUT)).isEqualTo(JournalProtocol.WriteMessagesSuccessful$.MODULE$);
        int events = writes.stream().mapToInt(AtomicWrite::size).sum();
        for (int i = 0; i < events; i++) {
            assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageSuccess.class);
        }
    }

    List<PersistentRepr> replayReprs(String persistenceId, long from, long to, long max) {
        ActorRef replyTo = Adapter.toClassic(probe.ref());
        journal.tell(new JournalProtocol.ReplayMessages(from, to, max, persistenceId, replyTo), replyTo);
        List<PersistentRepr> replayed = new ArrayList<>();
        while (true) {
            Object reply = probe.receiveMessage(TIMEOUT);
            if (reply instanceof JournalProtocol.ReplayedMessage message) {
                replayed.add(message.persistent());
            } else {
                assertThat(reply).isInstanceOf(JournalProtocol.RecoverySuccess.class);
                return replayed;
            }
        }
    }

    List<Long> replay(String persistenceId, long from, long to, long max) {
        return replayReprs(persistenceId, from, to, max).stream().map(PersistentRepr::sequenceNr).toList();
    }

    /** The highest sequence number a recovery reports. */
    long highest(String persistenceId) {
        ActorRef replyTo = Adapter.toClassic(probe.ref());
        journal.tell(new JournalProtocol.ReplayMessages(Long.MAX_VALUE, Long.MAX_VALUE, 0, persistenceId, replyTo), replyTo);
        Object reply = probe.receiveMessage(TIMEOUT);
        assertThat(reply).isInstanceOf(JournalProtocol.RecoverySuccess.class);
        return ((JournalProtocol.RecoverySuccess) reply).highestSequenceNr();
    }

    void delete(String persistenceId, long to) {
        ActorRef replyTo = Adapter.toClassic(probe.ref());
        journal.tell(new JournalProtocol.DeleteMessagesTo(persistenceId, to, replyTo), replyTo);
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(org.apache.pekko.persistence.DeleteMessagesSuccess.class);
    }

    /** What the read journal's {@code currentEventsByTag} delivers, in order. */
    static List<EventEnvelope> currentEventsByTag(org.apache.pekko.actor.typed.ActorSystem<?> system, String tag,
            Offset offset) {
        return await(readJournal(system).currentEventsByTag(tag, offset).runWith(Sink.seq(), system));
    }

    static TobogganReadJournal readJournal(org.apache.pekko.actor.typed.ActorSystem<?> system) {
        return PersistenceQuery.get(Adapter.toClassic(system))
                .getReadJournalFor(TobogganReadJournal.class, TobogganReadJournal.IDENTIFIER);
    }

    static <T> T await(CompletionStage<T> stage) {
        try {
            return stage.toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new AssertionError("the query failed", e.getCause());
        } catch (InterruptedException | TimeoutException e) {
            throw new AssertionError("the query did not complete in " + TIMEOUT, e);
        }
    }
}
