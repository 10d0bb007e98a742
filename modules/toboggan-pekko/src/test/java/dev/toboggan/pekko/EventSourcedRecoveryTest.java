package dev.toboggan.pekko;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.persistence.query.NoOffset;
import org.apache.pekko.persistence.query.typed.EventEnvelope;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An EventSourcedBehavior persisting through the plugins gets every acknowledged event back. */
class EventSourcedRecoveryTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(15);

    @TempDir
    Path directory;

    @Test
    void survivesAnActorSystemRestart() {
        ActorTestKit first = ActorTestKit.create("first", PekkoTestConfig.persistence(directory));
        try {
            ActorRef<Ledger.Command> ledger = first.spawn(Ledger.create("ledger"));
            TestProbe<Integer> acks = first.createTestProbe();
            for (int i = 1; i <= 120; i++) {
                ledger.tell(new Ledger.Append("e" + i, acks.ref()));
            }
            for (int i = 1; i <= 120; i++) {
                assertThat(acks.receiveMessage(TIMEOUT)).isEqualTo(i);
            }
        } finally {
            first.shutdownTestKit();
        }

        ActorTestKit second = ActorTestKit.create("second", PekkoTestConfig.persistence(directory));
        try {
            assertThat(entries(second)).containsExactlyElementsOf(expected(120));
        } finally {
            second.shutdownTestKit();
        }
    }

    /**
     * A backup of the shared store ({@link PekkoStores}) taken while the ledger persists restores, in an actor
     * system pointed at the copy, every event acknowledged before it and a gap-free run after them.
     */
    @Test
    void aBackupTakenWhileTheLedgerPersistsRestoresEveryEventAcknowledgedBeforeIt(@TempDir Path backups) {
        Path backup = backups.resolve("ledger-store");
        ActorTestKit first = ActorTestKit.create("first", PekkoTestConfig.persistence(directory));
        try {
            ActorRef<Ledger.Command> ledger = first.spawn(Ledger.create("ledger"));
            TestProbe<Integer> acks = first.createTestProbe();
            for (int i = 1; i <= 200; i++) {
                ledger.tell(new Ledger.Append("e" + i, acks.ref()));
            }
            for (int i = 1; i <= 60; i++) {
                assertThat(acks.receiveMessage(TIMEOUT)).isEqualTo(i);
            }
            PekkoStores.get(first.system()).store("toboggan.pekko.store").backup(backup);
            acks.receiveSeveralMessages(140, TIMEOUT);
        } finally {
            first.shutdownTestKit();
        }

        ActorTestKit restored = ActorTestKit.create("restored", PekkoTestConfig.persistence(backup));
        try {
            List<String> recovered = entries(restored);
            assertThat(recovered).hasSizeGreaterThanOrEqualTo(60).hasSizeLessThanOrEqualTo(200);
            assertThat(recovered).containsExactlyElementsOf(expected(recovered.size()));
        } finally {
            restored.shutdownTestKit();
        }
    }

    @Test
    void manyPersistentActorsWritingAtOnceGetEveryEventBackInOrder() {
        int actors = 20;
        int appends = 15;
        ActorTestKit first = ActorTestKit.create("first", PekkoTestConfig.persistence(directory));
        try {
            TestProbe<Integer> acks = first.createTestProbe();
            List<ActorRef<Ledger.Command>> ledgers = new ArrayList<>();
            for (int a = 0; a < actors; a++) {
                ledgers.add(first.spawn(Ledger.create("ledger-" + a)));
            }
            // Interleaved, so the journal receives writes of many persistence ids between two flushes.
            for (int i = 1; i <= appends; i++) {
                for (ActorRef<Ledger.Command> ledger : ledgers) {
                    ledger.tell(new Ledger.Append("e" + i, acks.ref()));
                }
            }
            acks.receiveSeveralMessages(actors * appends, TIMEOUT);
        } finally {
            first.shutdownTestKit();
        }

        ActorTestKit second = ActorTestKit.create("second", PekkoTestConfig.persistence(directory));
        try {
            for (int a = 0; a < actors; a++) {
                assertThat(entries(second, "ledger-" + a)).containsExactlyElementsOf(expected(appends));
            }
            // The read journal by slice: four ranges deliver every event once, each ledger's in order.
            TobogganReadJournal queries = JournalClient.readJournal(second.system());
            Map<String, List<Long>> bySlices = new HashMap<>();
            for (Pair<Integer, Integer> range : queries.sliceRanges(4)) {
                for (EventEnvelope<Object> e : currentBySlices(second, range.first(), range.second())) {
                    bySlices.computeIfAbsent(e.persistenceId(), id -> new ArrayList<>()).add(e.sequenceNr());
                }
            }
            assertThat(bySlices).hasSize(actors);
            bySlices.values().forEach(seqNrs -> assertThat(seqNrs).containsExactlyElementsOf(
                    LongStream.rangeClosed(1, appends).boxed().toList()));
        } finally {
            second.shutdownTestKit();
        }
    }

    @Test
    void survivesAKillOfItsJvmWithEveryAcknowledgedEventReplayed() throws Exception {
        long seed = System.nanoTime();
        int killAfter = 100 + new SplittableRandom(seed).nextInt(400);
        System.out.println("EventSourcedRecoveryTest kill seed " + seed + ": kill after " + killAfter + " acks");

        Set<String> acknowledged = new HashSet<>(
                ChildJvm.acknowledgementsUntilKilled(ChildJvm.start(LedgerChild.class, directory), killAfter));
        assertThat(acknowledged).as("the child acknowledged appends before it was killed").hasSizeGreaterThanOrEqualTo(killAfter);

        ActorTestKit after = ActorTestKit.create("after", PekkoTestConfig.persistence(directory));
        try {
            List<String> recovered = entries(after);
            assertThat(recovered).containsAll(acknowledged);
            // Nothing appears that was never written, and appends are a prefix (e1..eN, no hole).
            assertThat(recovered).containsExactlyElementsOf(expected(recovered.size()));
            // The slice index holds exactly what replays: written in the same batches.
            assertThat(currentBySlices(after, 0, 1023)).extracting(EventEnvelope::sequenceNr)
                    .containsExactlyElementsOf(LongStream.rangeClosed(1, recovered.size()).boxed().toList());
        } finally {
            after.shutdownTestKit();
        }
    }

    /** The events of the empty entity type (the ledgers' persistence ids have no '|') in slices min to max. */
    private static List<EventEnvelope<Object>> currentBySlices(ActorTestKit testKit, int minSlice, int maxSlice) {
        return JournalClient.await(JournalClient.readJournal(testKit.system())
                .<Object>currentEventsBySlices("", minSlice, maxSlice, NoOffset.getInstance())
                .runWith(Sink.seq(), testKit.system()));
    }

    private static List<String> entries(ActorTestKit testKit) {
        return entries(testKit, "ledger");
    }

    private static List<String> entries(ActorTestKit testKit, String persistenceId) {
        ActorRef<Ledger.Command> ledger = testKit.spawn(Ledger.create(persistenceId));
        TestProbe<String> state = testKit.createTestProbe();
        ledger.tell(new Ledger.Read(state.ref()));
        String entries = state.receiveMessage(TIMEOUT);
        return entries.isEmpty() ? List.of() : List.of(entries.split(","));
    }

    private static List<String> expected(int count) {
        List<String> entries = new ArrayList<>();
        for (int i = 1; i <= count; i++) {
            entries.add("e" + i);
        }
        return entries;
    }
}
