package dev.toboggan.pekko;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static dev.toboggan.pekko.JournalClient.*;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.Db;
import dev.toboggan.Tree;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.LongStream;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.Persistence;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.PersistentRepr$;
import org.apache.pekko.persistence.journal.Tagged;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.NoOffset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.jdk.javaapi.CollectionConverters;

/** The journal plugin's contract, case by case, through the journal actor's own protocol. */
class JournalContractTest {
    @TempDir
    Path directory;

    private ActorTestKit testKit;
    private ActorRef journal;
    private TestProbe<Object> probe;
    private JournalClient client;

    @BeforeEach
    void start() {
        startSystem();
    }

    @AfterEach
    void stop() {
        testKit.shutdownTestKit();
    }

    private void startSystem() {
        testKit = ActorTestKit.create("journal", PekkoTestConfig.persistence(directory));
        journal = Persistence.get(Adapter.toClassic(testKit.system()))
                .journalFor("toboggan.journal", ConfigFactory.empty());
        probe = testKit.createTestProbe();
        client = new JournalClient(journal, probe);
    }

    private void restartSystem() {
        testKit.shutdownTestKit();
        startSystem();
    }

    // ---------------------------------------------------------------- the cases

    @Test
    void replaysWithInclusiveBoundsAndMax() {
        client.writeAndAcknowledge(events("a", 1, 5));

        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(client.replay("a", 2, 4, Long.MAX_VALUE)).containsExactly(2L, 3L, 4L);
        assertThat(client.replay("a", 3, 3, Long.MAX_VALUE)).containsExactly(3L);
        assertThat(client.replay("a", 1, 5, 2)).containsExactly(1L, 2L);
        assertThat(client.replay("a", 1, 5, 0)).isEmpty();
        assertThat(client.replay("a", 6, Long.MAX_VALUE, Long.MAX_VALUE)).isEmpty();
        assertThat(client.replay("b", 1, Long.MAX_VALUE, Long.MAX_VALUE)).isEmpty();
    }

    @Test
    void replaysPayloadAndMetadataAsWritten() {
        PersistentRepr compact = repr("a", 1, "hello").withManifest("m1").withTimestamp(1234);
        PersistentRepr withMetadata = repr("a", 2, "there").withMetadata("meta").withTimestamp(5678);
        client.writeAndAcknowledge(List.of(new AtomicWrite(seq(List.of(compact))),
                new AtomicWrite(seq(List.of(withMetadata)))));

        List<PersistentRepr> replayed = client.replayReprs("a", 1, Long.MAX_VALUE, Long.MAX_VALUE);
        assertThat(replayed.get(0).payload()).isEqualTo("hello");
        assertThat(replayed.get(0).persistenceId()).isEqualTo("a");
        assertThat(replayed.get(0).sequenceNr()).isEqualTo(1);
        assertThat(replayed.get(0).manifest()).isEqualTo("m1");
        assertThat(replayed.get(0).writerUuid()).isEqualTo("writer-1");
        assertThat(replayed.get(0).timestamp()).isEqualTo(1234);
        assertThat(replayed.get(0).metadata().isEmpty()).isTrue();
        assertThat(replayed.get(1).payload()).isEqualTo("there");
        assertThat(replayed.get(1).metadata().get()).isEqualTo("meta");
        assertThat(replayed.get(1).timestamp()).isEqualTo(5678);
        // The first in Toboggan's compact layout, the second (metadata) by Pekko's serializer, in one run.
        List<PluginFormat.StoredEvent> stored = PluginFormat.decodeEventRun(
                journalTree().scanPrefix(new byte[] {PluginFormat.EVENT}).next().getValue());
        assertThat(stored).extracting(PluginFormat.StoredEvent::serializerId)
                .first().isEqualTo(PluginFormat.COMPACT_REPR);
        assertThat(stored.get(1).serializerId()).isNotEqualTo(PluginFormat.COMPACT_REPR);
        restartSystem();
        assertThat(client.replayReprs("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).extracting(PersistentRepr::payload)
                .containsExactly("hello", "there");
    }

    @Test
    void anAtomicWriteOfSeveralEventsIsStoredWhole() {
        client.writeAndAcknowledge(List.of(atomic("a", 1, 3), atomic("a", 4, 4)));

        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 2L, 3L, 4L);
        assertThat(client.highest("a")).isEqualTo(4);
    }

    @Test
    void aRejectionInTheMiddleOfABatchRefusesOnlyThatWriteAndIsNeverReplayed() {
        List<AtomicWrite> writes = List.of(
                atomic("a", 1, 1),
                new AtomicWrite(seq(List.of(repr("a", 2, "ok"), repr("a", 3, new TestSerializers.Unserializable("x"))))),
                atomic("a", 4, 4));
        client.send(writes);

        assertThat(probe.receiveMessage(TIMEOUT)).isEqualTo(JournalProtocol.WriteMessagesSuccessful$.MODULE$);
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageSuccess.class);
        // Both events of the rejected AtomicWrite are reported rejected, the serializable one too.
        for (int i = 0; i < 2; i++) {
            Object rejected = probe.receiveMessage(TIMEOUT);
            assertThat(rejected).isInstanceOf(JournalProtocol.WriteMessageRejected.class);
            assertThat(((JournalProtocol.WriteMessageRejected) rejected).cause()).hasMessageContaining("refusing");
        }
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageSuccess.class);

        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 4L);
        restartSystem();
        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 4L);
    }

    @Test
    void writesForOnePersistenceIdKeepTheirOrder() {
        // Like persistAsync: many WriteMessages in flight for one persistence id, none awaited.
        for (long seqNr = 1; seqNr <= 200; seqNr++) {
            client.send(List.of(atomic("a", seqNr, seqNr)));
        }
        List<Long> acknowledged = new ArrayList<>();
        while (acknowledged.size() < 200) {
            Object reply = probe.receiveMessage(TIMEOUT);
            if (reply instanceof JournalProtocol.WriteMessageSuccess success) {
                acknowledged.add(success.persistent().sequenceNr());
            }
        }
        assertThat(acknowledged).isSorted();
        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(1, 200));
    }

    @Test
    void replayOfADeletedPrefixReturnsOnlyTheRest() {
        client.writeAndAcknowledge(events("a", 1, 10));
        client.delete("a", 4);

        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(5, 10));
        assertThat(client.replay("a", 1, 6, Long.MAX_VALUE)).containsExactly(5L, 6L);
        assertThat(client.highest("a")).isEqualTo(10);
        restartSystem();
        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(5, 10));
    }

    @Test
    void highestSequenceNrNeverDecreasesAlsoAfterDeletingEverything() {
        client.writeAndAcknowledge(events("a", 1, 5));
        client.delete("a", 5);
        assertThat(client.highest("a")).isEqualTo(5);
        client.delete("a", Long.MAX_VALUE);
        assertThat(client.highest("a")).isEqualTo(5);
        restartSystem();
        assertThat(client.highest("a")).isEqualTo(5);
        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).isEmpty();

        client.writeAndAcknowledge(events("a", 6, 7));
        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(6L, 7L);
        assertThat(client.highest("a")).isEqualTo(7);
        client.delete("a", 3); // below what is left: deletes nothing, changes nothing
        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(6L, 7L);
    }

    @Test
    void deletingAllEventsReclaimsTheirSpaceAndTheIdMappingLeavingOnlyATombstone() {
        Tree tree = journalTree();
        List<AtomicWrite> writes = new ArrayList<>();
        for (long seqNr = 1; seqNr <= 50; seqNr++) {
            writes.add(new AtomicWrite(seq(List.of(repr("gone", seqNr, new Tagged("e" + seqNr, tags("t1", "t2")))))));
        }
        client.writeAndAcknowledge(writes);
        client.writeAndAcknowledge(events("kept", 1, 3));
        assertThat(keysOf(tree, PluginFormat.EVENT)).as("one run per persistence id and call").hasSize(2);
        assertThat(keysOf(tree, PluginFormat.TAGGED)).hasSize(100);
        assertThat(keysOf(tree, PluginFormat.PERSISTENCE_ID_BY_NUMERIC_ID)).hasSize(2);

        client.delete("gone", 50);

        assertThat(keysOf(tree, PluginFormat.EVENT)).hasSize(1);
        assertThat(keysOf(tree, PluginFormat.TAGGED)).isEmpty();
        assertThat(keysOf(tree, PluginFormat.PERSISTENCE_ID_BY_NUMERIC_ID)).as("the numeric id mapping goes too")
                .singleElement().satisfies(key -> assertThat(tree.get(key)).asString().isEqualTo("kept"));
        byte[] entry = tree.get(PluginFormat.persistenceIdKey("gone"));
        assertThat(entry).as("a tombstone: only the highest sequence number").hasSize(PluginFormat.TOMBSTONE_LENGTH);
        assertThat(PluginFormat.decodePersistenceIdValue(entry).highestSequenceNr()).isEqualTo(50);
        assertThat(client.highest("gone")).isEqualTo(50);
        assertThat(client.replay("kept", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 2L, 3L);
    }

    @Test
    void survivesARestartOfTheActorSystemBetweenWriteAndReplay() {
        client.writeAndAcknowledge(events("a", 1, 100));
        client.writeAndAcknowledge(events("b", 1, 3));
        restartSystem();

        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(1, 100));
        assertThat(client.replay("b", 2, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(2L, 3L);
        assertThat(client.highest("a")).isEqualTo(100);
    }

    @Test
    void taggedEventsStayQueryableInWriteOrderAcrossRestarts() {
        client.writeAndAcknowledge(List.of(
                new AtomicWrite(seq(List.of(repr("a", 1, new Tagged("a1", tags("red")))))),
                new AtomicWrite(seq(List.of(repr("b", 1, new Tagged("b1", tags("red", "blue")))))),
                new AtomicWrite(seq(List.of(repr("a", 2, "untagged")))),
                new AtomicWrite(seq(List.of(repr("a", 3, new Tagged("a3", tags("blue"))))))));
        restartSystem();

        List<EventEnvelope> red = currentEventsByTag(testKit.system(), "red", NoOffset.getInstance());
        assertThat(red).extracting(EventEnvelope::event).containsExactly("a1", "b1");
        // One call's events are numbered persistence id by persistence id (Pekko's persistent actors send calls
        // of their own events only; PluginFormat, "orderings and the slice index").
        assertThat(currentEventsByTag(testKit.system(), "blue", NoOffset.getInstance()))
                .extracting(EventEnvelope::event).containsExactly("a3", "b1");
        assertThat(currentEventsByTag(testKit.system(), "red", red.get(0).offset()))
                .extracting(EventEnvelope::event).containsExactly("b1");
        assertThat(currentEventsByTag(testKit.system(), "green", NoOffset.getInstance())).isEmpty();
        // The replayed event carries the payload, not the Tagged wrapper.
        assertThat(client.replayReprs("a", 1, 1, 1).get(0).payload()).isEqualTo("a1");

        client.delete("b", 1);
        assertThat(currentEventsByTag(testKit.system(), "red", NoOffset.getInstance()))
                .extracting(EventEnvelope::event).containsExactly("a1");
    }

    @Test
    void eventsOfOneCallGoIntoRunsThatReplayAndDeleteFromTheirMiddle() {
        // 40 events of 4 KiB in one call: three runs of up to 64 KiB; then single-event calls after them.
        String big = "x".repeat(4096);
        List<AtomicWrite> writes = new ArrayList<>();
        for (long seqNr = 1; seqNr <= 40; seqNr++) {
            Object payload = seqNr % 3 == 0 ? new Tagged(big + seqNr, tags("third")) : big + seqNr;
            writes.add(new AtomicWrite(seq(List.of(repr("a", seqNr, payload)))));
        }
        client.writeAndAcknowledge(writes);
        client.writeAndAcknowledge(events("a", 41, 41));
        client.writeAndAcknowledge(events("a", 42, 42));
        Tree tree = journalTree();
        int runs = keysOf(tree, PluginFormat.EVENT).size();
        assertThat(runs).as("runs of 40 events of 4 KiB, then two of one event").isBetween(3 + 2, 4 + 2);

        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(1, 42));
        assertThat(client.replay("a", 17, 33, Long.MAX_VALUE)).containsExactlyElementsOf(range(17, 33));
        assertThat(client.replay("a", 15, 40, 3)).containsExactly(15L, 16L, 17L);
        assertThat(client.replay("a", 40, 41, Long.MAX_VALUE)).containsExactly(40L, 41L);
        assertThat(client.replayReprs("a", 20, 20, 1).get(0).payload()).isEqualTo(big + 20);

        assertThat(currentEventsByTag(testKit.system(), "third", NoOffset.getInstance())).extracting(EventEnvelope::sequenceNr)
                .containsExactlyElementsOf(LongStream.rangeClosed(1, 13).map(i -> i * 3).boxed().toList());

        client.delete("a", 20); // from the middle of a run: the run is rewritten with 21 on
        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(21, 42));
        assertThat(currentEventsByTag(testKit.system(), "third", NoOffset.getInstance())).extracting(EventEnvelope::sequenceNr)
                .containsExactly(21L, 24L, 27L, 30L, 33L, 36L, 39L);
        assertThat(keysOf(tree, PluginFormat.TAGGED)).hasSize(7);
        assertThat(client.highest("a")).isEqualTo(42);
        restartSystem();
        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(21, 42));
        assertThat(client.replay("a", 21, 21, Long.MAX_VALUE)).containsExactly(21L);
        client.delete("a", 41);
        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(42L);
        assertThat(keysOf(journalTree(), PluginFormat.EVENT)).hasSize(1);
        assertThat(keysOf(journalTree(), PluginFormat.TAGGED)).isEmpty();
    }

    @Test
    void aJournalTreeOfTheFirstLayoutIsRefusedRatherThanMisread() {
        Tree tree = journalTree();
        byte[] firstLayoutKey = new byte[PluginFormat.EVENT_KEY_LENGTH];
        firstLayoutKey[0] = PluginFormat.SINGLE_EVENT;
        TobogganJournal.refuseFirstLayout(tree, "here", "toboggan.journal"); // an empty tree is fine
        tree.insert(firstLayoutKey, new byte[] {1});
        tree.flush();
        assertThatThrownBy(() -> TobogganJournal.refuseFirstLayout(tree, "the journal tree", "toboggan.journal"))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("the journal tree holds events in the first layout")
                .hasMessageContaining("toboggan.journal.tree");
        restartSystem();

        ActorRef replyTo = Adapter.toClassic(probe.ref());
        journal.tell(new JournalProtocol.ReplayMessages(1, Long.MAX_VALUE, Long.MAX_VALUE, "a", replyTo), replyTo);
        probe.expectNoMessage(Duration.ofSeconds(1)); // the journal actor failed to start: nothing answers
        assertThat(journalTree().get(firstLayoutKey)).as("nothing stored was changed").containsExactly(1);
    }

    @Test
    void aPersistenceIdTooLongForAKeyIsRejectedWithAClearReason() {
        String tooLong = "p".repeat(PluginFormat.MAX_PERSISTENCE_ID_LENGTH + 1);
        client.send(List.of(atomic(tooLong, 1, 1), atomic("a", 1, 1)));
        assertThat(probe.receiveMessage(TIMEOUT)).isEqualTo(JournalProtocol.WriteMessagesSuccessful$.MODULE$);
        Object rejected = probe.receiveMessage(TIMEOUT);
        assertThat(((JournalProtocol.WriteMessageRejected) rejected).cause()).hasMessageContaining("persistence id");
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageSuccess.class);
        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L);
    }

    private Tree journalTree() {
        Db db = PekkoStores.get(testKit.system()).store("toboggan.pekko.store");
        return db.tree("pekko.journal");
    }

    private static List<byte[]> keysOf(Tree tree, byte prefix) {
        List<byte[]> keys = new ArrayList<>();
        Iterator<Map.Entry<byte[], byte[]>> entries = tree.scanPrefix(new byte[] {prefix});
        entries.forEachRemaining(e -> keys.add(Arrays.copyOf(e.getKey(), e.getKey().length)));
        return keys;
    }
}
