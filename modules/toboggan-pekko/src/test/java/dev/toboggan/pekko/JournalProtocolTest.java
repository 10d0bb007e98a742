package dev.toboggan.pekko;

import static dev.toboggan.pekko.JournalClient.*;
import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.Db;
import dev.toboggan.SimulatedDiskStores;
import dev.toboggan.core.StoreFailedException;
import dev.toboggan.core.io.SimulatedStorage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.event.Logging;
import org.apache.pekko.pattern.CircuitBreakerOpenException;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.NonPersistentRepr;
import org.apache.pekko.persistence.Persistence;
import org.apache.pekko.persistence.PersistentEnvelope;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.PersistentRepr$;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.NoOffset;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the journal does itself since it speaks Pekko's journal protocol instead of extending
 * {@code AsyncWriteJournal}: the order of the replies, rejections, failures and timeouts of whole calls, the
 * circuit breaker, event adapters and the replay filter.
 */
class JournalProtocolTest {
    @TempDir
    Path directory;

    private ActorTestKit testKit;
    private ActorRef journal;
    private TestProbe<Object> probe;
    private JournalClient client;

    @AfterEach
    void stop() {
        if (testKit != null) {
            testKit.shutdownTestKit();
        }
    }

    /** Starts a system with {@code settings} over the tests' configuration, the journal on the directory's store. */
    private void start(String settings) {
        startSystem(settings);
        startJournal();
    }

    /** Starts a system whose journal writes to a store over {@code disk} opened with {@code storeSettings}. */
    private Db startOnSimulatedDisk(String settings, SimulatedStorage disk, String storeSettings) {
        startSystem(settings);
        Db store = SimulatedDiskStores.open(testKit.system(), disk, storeSettings);
        PekkoStores.get(testKit.system()).adopt("toboggan.pekko.store", store);
        startJournal();
        return store;
    }

    private void startSystem(String settings) {
        testKit = ActorTestKit.create("protocol", ConfigFactory.parseString(settings)
                .withFallback(PekkoTestConfig.persistence(directory)));
    }

    private void startJournal() {
        journal = Persistence.get(Adapter.toClassic(testKit.system())).journalFor("toboggan.journal",
                ConfigFactory.empty());
        probe = testKit.createTestProbe();
        client = new JournalClient(journal, probe);
    }

    private static PersistentRepr written(String persistenceId, long seqNr, Object payload, String writer) {
        return PersistentRepr$.MODULE$.apply(payload, seqNr, persistenceId, "", false, ActorRef.noSender(), writer);
    }

    // ---------------------------------------------------------------- the order of the replies

    @Test
    void everyWriterGetsTheRepliesOfItsCallsInOrderWhileManyWritersHaveCallsInFlight() throws Exception {
        start("");
        int writers = 6;
        int callsPerWriter = 40;
        List<TestProbe<Object>> probes = new ArrayList<>();
        List<List<JournalProtocol.WriteMessages>> calls = new ArrayList<>();
        Random random = new Random(42);
        for (int w = 0; w < writers; w++) {
            TestProbe<Object> writer = testKit.createTestProbe();
            probes.add(writer);
            List<JournalProtocol.WriteMessages> own = new ArrayList<>();
            long seqNr = 1;
            for (int c = 0; c < callsPerWriter; c++) {
                List<PersistentEnvelope> envelopes = new ArrayList<>();
                int atomicWrites = 1 + random.nextInt(3);
                for (int a = 0; a < atomicWrites; a++) {
                    int events = 1 + random.nextInt(2);
                    envelopes.add(atomic("w" + w, seqNr, seqNr + events - 1));
                    seqNr += events;
                    if (random.nextInt(4) == 0) {
                        envelopes.add(new NonPersistentRepr("loop-" + w + "-" + c + "-" + a, ActorRef.noSender()));
                    }
                }
                own.add(new JournalProtocol.WriteMessages(seq(envelopes), Adapter.toClassic(writer.ref()), 1));
            }
            calls.add(own);
        }
        // Each writer's calls sent in order, not awaited, from three threads at once.
        ExecutorService senders = Executors.newFixedThreadPool(3);
        for (int w = 0; w < writers; w++) {
            List<JournalProtocol.WriteMessages> own = calls.get(w);
            senders.submit(() -> own.forEach(call -> journal.tell(call, call.persistentActor())));
        }
        senders.shutdown();
        assertThat(senders.awaitTermination(10, TimeUnit.SECONDS)).isTrue();

        for (int w = 0; w < writers; w++) {
            for (JournalProtocol.WriteMessages call : calls.get(w)) {
                assertThat(probes.get(w).receiveMessage(TIMEOUT))
                        .isEqualTo(JournalProtocol.WriteMessagesSuccessful$.MODULE$);
                for (PersistentEnvelope envelope : scala.jdk.javaapi.CollectionConverters.asJava(call.messages())) {
                    if (envelope instanceof AtomicWrite write) {
                        for (PersistentRepr repr : scala.jdk.javaapi.CollectionConverters.asJava(write.payload())) {
                            Object reply = probes.get(w).receiveMessage(TIMEOUT);
                            assertThat(reply).isInstanceOf(JournalProtocol.WriteMessageSuccess.class);
                            assertThat(((JournalProtocol.WriteMessageSuccess) reply).persistent()).isSameAs(repr);
                        }
                    } else {
                        Object reply = probes.get(w).receiveMessage(TIMEOUT);
                        assertThat(reply).isEqualTo(new JournalProtocol.LoopMessageSuccess(
                                ((NonPersistentRepr) envelope).payload(), 1));
                    }
                }
            }
            probes.get(w).expectNoMessage(Duration.ofMillis(50));
        }
    }

    @Test
    void repliesWaitForTheOldestCallWhateverOrderAndThreadTheOutcomesArriveIn() throws Exception {
        start("");
        TestProbe<Object> writer = testKit.createTestProbe();
        ActorRef writerRef = Adapter.toClassic(writer.ref());
        WriteReplies replies = new WriteReplies(journal);
        List<WriteReplies.Call> calls = new ArrayList<>();
        for (long seqNr = 1; seqNr <= 50; seqNr++) {
            WriteReplies.Call call = new WriteReplies.Call(
                    new JournalProtocol.WriteMessages(seq(List.of(atomic("a", seqNr, seqNr))), writerRef, 1));
            replies.add(call);
            calls.add(call);
        }
        List<WriteReplies.Call> laterFirst = new ArrayList<>(calls.subList(1, calls.size()));
        Collections.shuffle(laterFirst, new Random(7));
        ExecutorService deciders = Executors.newFixedThreadPool(4);
        for (WriteReplies.Call call : laterFirst) {
            deciders.submit(() -> {
                call.stored(Collections.singletonList(null));
                replies.drain();
            });
        }
        deciders.shutdown();
        assertThat(deciders.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        writer.expectNoMessage(Duration.ofMillis(200)); // the oldest call is undecided: nothing may go out

        calls.get(0).failed(new IllegalStateException("the oldest failed"));
        replies.drain();
        assertThat(writer.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessagesFailed.class);
        assertThat(writer.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageFailure.class);
        for (long seqNr = 2; seqNr <= 50; seqNr++) {
            assertThat(writer.receiveMessage(TIMEOUT)).isEqualTo(JournalProtocol.WriteMessagesSuccessful$.MODULE$);
            Object success = writer.receiveMessage(TIMEOUT);
            assertThat(((JournalProtocol.WriteMessageSuccess) success).persistent().sequenceNr()).isEqualTo(seqNr);
        }
    }

    // ---------------------------------------------------------------- failures, timeouts, the circuit breaker

    @Test
    void aFailedFlushFailsTheWholeCallEveryEventOfItAndAnswersItsLoopsInTheirPlace() {
        SimulatedStorage disk = new SimulatedStorage();
        startOnSimulatedDisk("", disk, "toboggan.flush-every = 0\ntoboggan.max-flush-retries = 1");
        client.writeAndAcknowledge(events("a", 1, 1));

        disk.failAfter(1, Set.of(SimulatedStorage.Op.FORCE), SimulatedStorage.FailMode.FOREVER);
        ActorRef replyTo = Adapter.toClassic(probe.ref());
        journal.tell(new JournalProtocol.WriteMessages(seq(List.of(atomic("a", 2, 3),
                new NonPersistentRepr("deferred", ActorRef.noSender()), atomic("b", 1, 1))), replyTo, 1), replyTo);

        Object failed = probe.receiveMessage(TIMEOUT);
        assertThat(failed).isInstanceOf(JournalProtocol.WriteMessagesFailed.class);
        assertThat(((JournalProtocol.WriteMessagesFailed) failed).writeCount()).isEqualTo(2);
        assertThat(((JournalProtocol.WriteMessagesFailed) failed).cause()).isInstanceOf(StoreFailedException.class);
        for (long seqNr : new long[] {2, 3}) {
            Object failure = probe.receiveMessage(TIMEOUT);
            assertThat(failure).isInstanceOf(JournalProtocol.WriteMessageFailure.class);
            assertThat(((JournalProtocol.WriteMessageFailure) failure).message().sequenceNr()).isEqualTo(seqNr);
        }
        assertThat(probe.receiveMessage(TIMEOUT)).isEqualTo(new JournalProtocol.LoopMessageSuccess("deferred", 1));
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageFailure.class);

        // The store has failed: a later call fails at once (the store refuses it), nothing of it stored.
        client.send(events("c", 1, 1));
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessagesFailed.class);
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageFailure.class);
    }

    @Test
    void aCallNotDurableWithinTheCallTimeoutFailsAndAnOpenBreakerStoresNothingUntilItResets() {
        SimulatedStorage disk = new SimulatedStorage();
        Db store = startOnSimulatedDisk("""
                toboggan.journal.circuit-breaker { call-timeout = 5s, max-failures = 1, reset-timeout = 10s }
                """, disk, "toboggan.flush-every = 0");
        client.writeAndAcknowledge(events("a", 1, 1));

        // Timeouts with room for a starved 2-core machine: the ordinary calls must stay under call-timeout, and
        // the breaker must be seen open and refuse a call before reset-timeout has passed. The stalled force
        // lasts until the faults are cleared below.
        disk.slowDown(Duration.ZERO, Duration.ofMinutes(10));
        client.send(events("a", 2, 2));
        Object failed = probe.receiveMessage(TIMEOUT);
        assertThat(failed).isInstanceOf(JournalProtocol.WriteMessagesFailed.class);
        assertThat(((JournalProtocol.WriteMessagesFailed) failed).cause()).isInstanceOf(TimeoutException.class);
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageFailure.class);

        // One failure opens this breaker. The breaker opens on the thread that timed the call out, which may
        // come after the reply: wait until a replay (also under the breaker, and storing nothing) is refused.
        Awaitility.await().atMost(8, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(50))
                .until(() -> replayFailure("nobody") instanceof CircuitBreakerOpenException);
        // The next call fails at once and is not stored.
        client.send(events("b", 1, 1));
        Object refused = probe.receiveMessage(TIMEOUT);
        assertThat(refused).isInstanceOf(JournalProtocol.WriteMessagesFailed.class);
        assertThat(((JournalProtocol.WriteMessagesFailed) refused).cause())
                .isInstanceOf(CircuitBreakerOpenException.class);
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageFailure.class);

        disk.clearFaults();
        // Once reset-timeout has passed, a call goes through again (replays too go through the breaker).
        Awaitility.await().atMost(30, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(500))
                .until(() -> replayFailure("b") == null);
        assertThat(client.replay("b", 1, Long.MAX_VALUE, Long.MAX_VALUE)).isEmpty();
        // The timed-out call's outcome was uncertain: its flush went on, and its event is durable once it ends.
        store.flush();
        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 2L);
        client.writeAndAcknowledge(events("a", 3, 3));
    }

    @Test
    void withPekkosTestHookOnFinishedReplaysAndDeletesArePublished() {
        start("pekko.persistence.internal.publish-plugin-commands = on");
        TestProbe<Object> published = testKit.createTestProbe();
        Adapter.toClassic(testKit.system()).eventStream().subscribe(Adapter.toClassic(published.ref()),
                JournalProtocol.Request.class);
        client.writeAndAcknowledge(events("a", 1, 2));

        client.delete("a", 1);
        Object delete = published.receiveMessage(TIMEOUT);
        assertThat(delete).isInstanceOf(JournalProtocol.DeleteMessagesTo.class);
        assertThat(((JournalProtocol.DeleteMessagesTo) delete).toSequenceNr()).isEqualTo(1);
        assertThat(client.replay("a", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(2L);
        Object replay = published.receiveMessage(TIMEOUT);
        assertThat(replay).isInstanceOf(JournalProtocol.ReplayMessages.class);
        assertThat(((JournalProtocol.ReplayMessages) replay).persistenceId()).isEqualTo("a");
        published.expectNoMessage(Duration.ofMillis(100)); // writes are not published, as in Pekko
    }

    /** Why a replay of {@code persistenceId} failed, or null if it succeeded. */
    private Throwable replayFailure(String persistenceId) {
        ActorRef replyTo = Adapter.toClassic(probe.ref());
        journal.tell(new JournalProtocol.ReplayMessages(1, Long.MAX_VALUE, Long.MAX_VALUE, persistenceId, replyTo),
                replyTo);
        Object reply = probe.receiveMessage(TIMEOUT);
        return reply instanceof JournalProtocol.ReplayMessagesFailure failure ? failure.cause() : null;
    }

    // ---------------------------------------------------------------- event adapters

    private static final String ADAPTERS = """
            toboggan.journal {
              event-adapters.splitting = "dev.toboggan.pekko.TestEventAdapters$Splitting"
              event-adapter-bindings {
                "dev.toboggan.pekko.TestEventAdapters$Deposit" = splitting
                "java.lang.String" = splitting
              }
            }
            """;

    @Test
    void eventAdaptersRunOnWriteAndOnReplayWhereOneStoredEventMayBecomeSeveral() {
        start(ADAPTERS);
        client.send(List.of(
                new AtomicWrite(seq(List.of(written("d", 1, new TestEventAdapters.Deposit("a"), "w")))),
                new AtomicWrite(seq(List.of(written("d", 2, new TestEventAdapters.Deposit("boom"), "w")))),
                new AtomicWrite(seq(List.of(written("d", 3, new TestEventAdapters.Deposit("b+c"), "w"),
                        written("d", 4, "plain", "w"))))));
        assertThat(probe.receiveMessage(TIMEOUT)).isEqualTo(JournalProtocol.WriteMessagesSuccessful$.MODULE$);
        Object first = probe.receiveMessage(TIMEOUT);
        assertThat(first).isInstanceOf(JournalProtocol.WriteMessageSuccess.class);
        // The reply carries the repr as the actor wrote it, not as adapted.
        assertThat(((JournalProtocol.WriteMessageSuccess) first).persistent().payload())
                .isEqualTo(new TestEventAdapters.Deposit("a"));
        Object rejected = probe.receiveMessage(TIMEOUT);
        assertThat(rejected).isInstanceOf(JournalProtocol.WriteMessageRejected.class);
        assertThat(((JournalProtocol.WriteMessageRejected) rejected).cause()).hasMessageContaining("refuses");
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageSuccess.class);
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(JournalProtocol.WriteMessageSuccess.class);

        List<PersistentRepr> replayed = client.replayReprs("d", 1, Long.MAX_VALUE, Long.MAX_VALUE);
        assertThat(replayed).extracting(PersistentRepr::payload).containsExactly(
                new TestEventAdapters.Deposit("a"), new TestEventAdapters.Deposit("b"),
                new TestEventAdapters.Deposit("c"), "plain");
        assertThat(replayed).extracting(PersistentRepr::sequenceNr).containsExactly(1L, 3L, 3L, 4L);
        assertThat(replayed).extracting(PersistentRepr::manifest)
                .containsExactly("deposit-v2", "deposit-v2", "deposit-v2", "");
        // max counts stored events: the one stored event 3 still replays as both of its deposits.
        assertThat(client.replay("d", 3, Long.MAX_VALUE, 1)).containsExactly(3L, 3L);
        // What the adapter wrapped in Tagged is stored by tag, as the adapter's output (the stored text).
        List<EventEnvelope> money = currentEventsByTag(testKit.system(), "money", NoOffset.getInstance());
        assertThat(money).extracting(EventEnvelope::sequenceNr).containsExactly(1L, 3L);
    }

    // ---------------------------------------------------------------- the replay filter

    /** Writer "old" wrote 1 and 2, "new" took over at 3, and "old" went on writing 4 (two writers at once). */
    private void writeTwoWritersAtOnce() {
        client.writeAndAcknowledge(List.of(
                new AtomicWrite(seq(List.of(written("p", 1, "old-1", "old"), written("p", 2, "old-2", "old")))),
                new AtomicWrite(seq(List.of(written("p", 3, "new-3", "new")))),
                new AtomicWrite(seq(List.of(written("p", 4, "old-4", "old")))),
                new AtomicWrite(seq(List.of(written("p", 5, "new-5", "new"))))));
    }

    @Test
    void byDefaultTheReplayFilterDropsTheEventsOfAWriterThatWasSuperseded() {
        start("");
        writeTwoWritersAtOnce();
        assertThat(client.replay("p", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 2L, 3L, 5L);
    }

    @Test
    void replayFilterModesWarnAndOffKeepEveryEvent() {
        start("toboggan.journal.replay-filter.mode = warn");
        writeTwoWritersAtOnce();
        assertThat(client.replay("p", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 2L, 3L, 4L, 5L);
        testKit.shutdownTestKit();
        start("toboggan.journal.replay-filter.mode = off");
        assertThat(client.replay("p", 1, Long.MAX_VALUE, Long.MAX_VALUE)).containsExactly(1L, 2L, 3L, 4L, 5L);
    }

    @Test
    void replayFilterModeFailEndsTheReplayWithAFailure() {
        start("toboggan.journal.replay-filter.mode = fail");
        writeTwoWritersAtOnce();
        ActorRef replyTo = Adapter.toClassic(probe.ref());
        journal.tell(new JournalProtocol.ReplayMessages(1, Long.MAX_VALUE, Long.MAX_VALUE, "p", replyTo), replyTo);
        Object reply;
        do {
            reply = probe.receiveMessage(TIMEOUT);
            assertThat(reply).isNotInstanceOf(JournalProtocol.RecoverySuccess.class);
        } while (reply instanceof JournalProtocol.ReplayedMessage);
        assertThat(reply).isInstanceOf(JournalProtocol.ReplayMessagesFailure.class);
        assertThat(((JournalProtocol.ReplayMessagesFailure) reply).cause()).hasMessageContaining("superseded");
    }

    @Test
    void aNewWriterStartingBelowEventsStillInTheWindowDiscardsThem() {
        start("");
        TestProbe<Object> actor = testKit.createTestProbe();
        ReplayFilter filter = new ReplayFilter(new ReplayFilter.Settings(ReplayFilter.Mode.REPAIR_BY_DISCARD_OLD, 3, 2,
                false), Adapter.toClassic(actor.ref()), Logging.getLogger(Adapter.toClassic(testKit.system()), this));
        for (PersistentRepr event : List.of(written("p", 1, "x", "old"), written("p", 2, "x", "old"),
                written("p", 3, "x", "old"), written("p", 2, "x", "new"), written("p", 3, "x", "new"))) {
            filter.accept(event);
        }
        filter.finish();
        List<String> delivered = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            PersistentRepr event = ((JournalProtocol.ReplayedMessage) actor.receiveMessage(TIMEOUT)).persistent();
            delivered.add(event.writerUuid() + "-" + event.sequenceNr());
        }
        // "old-1" left the window (size 3) before "new" came; "old-2", "old-3" were still in it and are dropped.
        assertThat(delivered).containsExactly("old-1", "new-2", "new-3");
        actor.expectNoMessage(Duration.ofMillis(50));
    }
}
