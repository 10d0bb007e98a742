package dev.toboggan.pekko;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.jdk.javaapi.CollectionConverters;

/** The journal plugin's contract, case by case, through the journal actor's own protocol. */
class JournalContractTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    Path directory;

    private ActorTestKit testKit;
    private ActorRef journal;
    private TestProbe<Object> probe;

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
    }

    private void restartSystem() {
        testKit.shutdownTestKit();
        startSystem();
    }

    // ---------------------------------------------------------------- the cases

    @Test
    void replaysWithInclusiveBoundsAndMax() {
        writeAndAcknowledge(events("a", 1, 5));

        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(replay("a", 2, 4, Long.MAX_VALUE)).containsExactly(2L, 3L, 4L);
        assertThat(replay("a", 3, 3, Long.MAX_VALUE)).containsExactly(3L);
        assertThat(replay("a", 1, 5, 2)).containsExactly(1L, 2L);
        assertThat(replay("a", 1, 5, 0)).isEmpty();
        assertThat(replay("a", 6, Long.MAX_VALUE, Long.MAX_VALUE)).isEmpty();
        assertThat(replay("b", 1, Long.MAX_VALUE, Long.MAX_VALUE)).isEmpty();
    }

    @Test
    void replaysPayloadAndMetadataAsWritten() {
        PersistentRepr written = repr("a", 1, "hello").withManifest("m1");
        writeAndAcknowledge(List.of(new AtomicWrite(seq(List.of(written)))));

        PersistentRepr replayed = replayReprs("a", 1, Long.MAX_VALUE, Long.MAX_VALUE).get(0);
        assertThat(replayed.payload()).isEqualTo("hello");
        assertThat(replayed.persistenceId()).isEqualTo("a");
        assertThat(replayed.sequenceNr()).isEqualTo(1);
        assertThat(replayed.manifest()).isEqualTo("m1");
        assertThat(replayed.writerUuid()).isEqualTo("writer-1");
    }

    @Test
    void anAtomicWriteOfSeveralEventsIsStoredWhole() {
        writeAndAcknowledge(List.of(atomic("a", 1, 3), atomic("a", 4, 4)));

        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 2L, 3L, 4L);
        assertThat(highest("a")).isEqualTo(4);
    }

    @Test
    void aRejectionInTheMiddleOfABatchRefusesOnlyThatWriteAndIsNeverReplayed() {
        List<AtomicWrite> writes = List.of(
                atomic("a", 1, 1),
                new AtomicWrite(seq(List.of(repr("a", 2, "ok"), repr("a", 3, new TestSerializers.Unserializable("x"))))),
                atomic("a", 4, 4));
        send(writes);

        assertThat(probe.receiveMessage(TIMEOUT)).isEqualTo(JournalProtocol.WriteMessagesSuccessful$.MODULE$);
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageSuccess.class);
        // Both events of the rejected AtomicWrite are reported rejected, the serializable one too.
        for (int i = 0; i < 2; i++) {
            Object rejected = probe.receiveMessage(TIMEOUT);
            assertThat(rejected).isInstanceOf(JournalProtocol.WriteMessageRejected.class);
            assertThat(((JournalProtocol.WriteMessageRejected) rejected).cause()).hasMessageContaining("refusing");
        }
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageSuccess.class);

        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 4L);
        restartSystem();
        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 4L);
    }

    @Test
    void writesForOnePersistenceIdKeepTheirOrder() {
        // Like persistAsync: many WriteMessages in flight for one persistence id, none awaited.
        for (long seqNr = 1; seqNr <= 200; seqNr++) {
            send(List.of(atomic("a", seqNr, seqNr)));
        }
        List<Long> acknowledged = new ArrayList<>();
        while (acknowledged.size() < 200) {
            Object reply = probe.receiveMessage(TIMEOUT);
            if (reply instanceof JournalProtocol.WriteMessageSuccess success) {
                acknowledged.add(success.persistent().sequenceNr());
            }
        }
        assertThat(acknowledged).isSorted();
        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(1, 200));
    }

    @Test
    void replayOfADeletedPrefixReturnsOnlyTheRest() {
        writeAndAcknowledge(events("a", 1, 10));
        delete("a", 4);

        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(5, 10));
        assertThat(replay("a", 1, 6, Long.MAX_VALUE)).containsExactly(5L, 6L);
        assertThat(highest("a")).isEqualTo(10);
        restartSystem();
        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(5, 10));
    }

    @Test
    void highestSequenceNrNeverDecreasesAlsoAfterDeletingEverything() {
        writeAndAcknowledge(events("a", 1, 5));
        delete("a", 5);
        assertThat(highest("a")).isEqualTo(5);
        delete("a", Long.MAX_VALUE);
        assertThat(highest("a")).isEqualTo(5);
        restartSystem();
        assertThat(highest("a")).isEqualTo(5);
        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).isEmpty();

        writeAndAcknowledge(events("a", 6, 7));
        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(6L, 7L);
        assertThat(highest("a")).isEqualTo(7);
        delete("a", 3); // below what is left: deletes nothing, changes nothing
        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(6L, 7L);
    }

    @Test
    void deletingAllEventsReclaimsTheirSpaceAndTheIdMappingLeavingOnlyATombstone() {
        Tree tree = journalTree();
        List<AtomicWrite> writes = new ArrayList<>();
        for (long seqNr = 1; seqNr <= 50; seqNr++) {
            writes.add(new AtomicWrite(seq(List.of(repr("gone", seqNr, new Tagged("e" + seqNr, tags("t1", "t2")))))));
        }
        writeAndAcknowledge(writes);
        writeAndAcknowledge(events("kept", 1, 3));
        assertThat(keysOf(tree, PluginFormat.EVENT)).as("one run per persistence id and call").hasSize(2);
        assertThat(keysOf(tree, PluginFormat.TAGGED)).hasSize(100);

        delete("gone", 50);

        assertThat(keysOf(tree, PluginFormat.EVENT)).hasSize(1);
        assertThat(keysOf(tree, PluginFormat.TAGGED)).isEmpty();
        byte[] entry = tree.get(PluginFormat.persistenceIdKey("gone"));
        assertThat(entry).as("a tombstone: only the highest sequence number").hasSize(PluginFormat.TOMBSTONE_LENGTH);
        assertThat(PluginFormat.decodePersistenceIdValue(entry).highestSequenceNr()).isEqualTo(50);
        assertThat(highest("gone")).isEqualTo(50);
        assertThat(replay("kept", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 2L, 3L);
    }

    @Test
    void survivesARestartOfTheActorSystemBetweenWriteAndReplay() {
        writeAndAcknowledge(events("a", 1, 100));
        writeAndAcknowledge(events("b", 1, 3));
        restartSystem();

        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(1, 100));
        assertThat(replay("b", 2, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(2L, 3L);
        assertThat(highest("a")).isEqualTo(100);
    }

    @Test
    void taggedEventsStayQueryableInWriteOrderAcrossRestarts() {
        writeAndAcknowledge(List.of(
                new AtomicWrite(seq(List.of(repr("a", 1, new Tagged("a1", tags("red")))))),
                new AtomicWrite(seq(List.of(repr("b", 1, new Tagged("b1", tags("red", "blue")))))),
                new AtomicWrite(seq(List.of(repr("a", 2, "untagged")))),
                new AtomicWrite(seq(List.of(repr("a", 3, new Tagged("a3", tags("blue"))))))));
        restartSystem();

        TaggedEvents tagged = TaggedEvents.of(Adapter.toClassic(testKit.system()), "toboggan.journal");
        List<TaggedEvents.TaggedEvent> red = tagged.currentEventsByTag("red", 0, 100);
        assertThat(red).extracting(e -> e.event().payload()).containsExactly("a1", "b1");
        assertThat(tagged.currentEventsByTag("blue", 0, 100)).extracting(e -> e.event().payload()).containsExactly("b1", "a3");
        assertThat(tagged.currentEventsByTag("red", red.get(0).offset(), 100))
                .extracting(e -> e.event().payload()).containsExactly("b1");
        assertThat(tagged.currentEventsByTag("blue", 0, 1)).hasSize(1);
        assertThat(tagged.currentEventsByTag("green", 0, 100)).isEmpty();
        // The replayed event carries the payload, not the Tagged wrapper.
        assertThat(replayReprs("a", 1, 1, 1).get(0).payload()).isEqualTo("a1");

        delete("b", 1);
        assertThat(tagged.currentEventsByTag("red", 0, 100)).extracting(e -> e.event().payload()).containsExactly("a1");
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
        writeAndAcknowledge(writes);
        writeAndAcknowledge(events("a", 41, 41));
        writeAndAcknowledge(events("a", 42, 42));
        Tree tree = journalTree();
        int runs = keysOf(tree, PluginFormat.EVENT).size();
        assertThat(runs).as("runs of 40 events of 4 KiB, then two of one event").isBetween(3 + 2, 4 + 2);

        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(1, 42));
        assertThat(replay("a", 17, 33, Long.MAX_VALUE)).containsExactlyElementsOf(range(17, 33));
        assertThat(replay("a", 15, 40, 3)).containsExactly(15L, 16L, 17L);
        assertThat(replay("a", 40, 41, Long.MAX_VALUE)).containsExactly(40L, 41L);
        assertThat(replayReprs("a", 20, 20, 1).get(0).payload()).isEqualTo(big + 20);

        TaggedEvents tagged = TaggedEvents.of(Adapter.toClassic(testKit.system()), "toboggan.journal");
        assertThat(tagged.currentEventsByTag("third", 0, 100)).extracting(e -> e.event().sequenceNr())
                .containsExactlyElementsOf(LongStream.rangeClosed(1, 13).map(i -> i * 3).boxed().toList());

        delete("a", 20); // from the middle of a run: the run is rewritten with 21 on
        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(21, 42));
        assertThat(tagged.currentEventsByTag("third", 0, 100)).extracting(e -> e.event().sequenceNr())
                .containsExactly(21L, 24L, 27L, 30L, 33L, 36L, 39L);
        assertThat(keysOf(tree, PluginFormat.TAGGED)).hasSize(7);
        assertThat(highest("a")).isEqualTo(42);
        restartSystem();
        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactlyElementsOf(range(21, 42));
        assertThat(replay("a", 21, 21, Long.MAX_VALUE)).containsExactly(21L);
        delete("a", 41);
        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(42L);
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
        send(List.of(atomic(tooLong, 1, 1), atomic("a", 1, 1)));
        assertThat(probe.receiveMessage(TIMEOUT)).isEqualTo(JournalProtocol.WriteMessagesSuccessful$.MODULE$);
        Object rejected = probe.receiveMessage(TIMEOUT);
        assertThat(((JournalProtocol.WriteMessageRejected) rejected).cause()).hasMessageContaining("persistence id");
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageSuccess.class);
        assertThat(replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L);
    }

    // ---------------------------------------------------------------- the protocol

    private static PersistentRepr repr(String persistenceId, long seqNr, Object payload) {
        return PersistentRepr$.MODULE$.apply(payload, seqNr, persistenceId, "", false, ActorRef.noSender(), "writer-1");
    }

    private static AtomicWrite atomic(String persistenceId, long from, long to) {
        List<PersistentRepr> reprs = new ArrayList<>();
        for (long seqNr = from; seqNr <= to; seqNr++) {
            reprs.add(repr(persistenceId, seqNr, persistenceId + "-" + seqNr));
        }
        return new AtomicWrite(seq(reprs));
    }

    /** One AtomicWrite per event. */
    private static List<AtomicWrite> events(String persistenceId, long from, long to) {
        List<AtomicWrite> writes = new ArrayList<>();
        for (long seqNr = from; seqNr <= to; seqNr++) {
            writes.add(atomic(persistenceId, seqNr, seqNr));
        }
        return writes;
    }

    private static <T> scala.collection.immutable.Seq<T> seq(List<T> items) {
        return CollectionConverters.asScala(items).toList();
    }

    private static scala.collection.immutable.Set<String> tags(String... tags) {
        return CollectionConverters.asScala(Set.of(tags)).toSet();
    }

    private static List<Long> range(long from, long to) {
        return LongStream.rangeClosed(from, to).boxed().toList();
    }

    private void send(List<AtomicWrite> writes) {
        ActorRef replyTo = Adapter.toClassic(probe.ref());
        journal.tell(new JournalProtocol.WriteMessages(seq(new ArrayList<>(writes)), replyTo, 1), replyTo);
    }

    private void writeAndAcknowledge(List<AtomicWrite> writes) {
        send(writes);
        assertThat(probe.receiveMessage(TIMEOUT)).isEqualTo(JournalProtocol.WriteMessagesSuccessful$.MODULE$);
        int events = writes.stream().mapToInt(AtomicWrite::size).sum();
        for (int i = 0; i < events; i++) {
            assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageSuccess.class);
        }
    }

    private List<PersistentRepr> replayReprs(String persistenceId, long from, long to, long max) {
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

    private List<Long> replay(String persistenceId, long from, long to, long max) {
        return replayReprs(persistenceId, from, to, max).stream().map(PersistentRepr::sequenceNr).toList();
    }

    /** The highest sequence number a recovery reports. */
    private long highest(String persistenceId) {
        ActorRef replyTo = Adapter.toClassic(probe.ref());
        journal.tell(new JournalProtocol.ReplayMessages(Long.MAX_VALUE, Long.MAX_VALUE, 0, persistenceId, replyTo), replyTo);
        Object reply = probe.receiveMessage(TIMEOUT);
        assertThat(reply).isInstanceOf(JournalProtocol.RecoverySuccess.class);
        return ((JournalProtocol.RecoverySuccess) reply).highestSequenceNr();
    }

    private void delete(String persistenceId, long to) {
        ActorRef replyTo = Adapter.toClassic(probe.ref());
        journal.tell(new JournalProtocol.DeleteMessagesTo(persistenceId, to, replyTo), replyTo);
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(org.apache.pekko.persistence.DeleteMessagesSuccess.class);
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
