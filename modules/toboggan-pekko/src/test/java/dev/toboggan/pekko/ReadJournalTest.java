package dev.toboggan.pekko;

import static dev.toboggan.pekko.JournalClient.atomic;
import static dev.toboggan.pekko.JournalClient.await;
import static dev.toboggan.pekko.JournalClient.events;
import static dev.toboggan.pekko.JournalClient.range;
import static dev.toboggan.pekko.JournalClient.repr;
import static dev.toboggan.pekko.JournalClient.seq;
import static dev.toboggan.pekko.JournalClient.tags;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.Tree;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.journal.Tagged;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.NoOffset;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The read journal ({@code toboggan.query}): every query, live and current, across restarts of the actor
 * system, with deletes, tag ordering and offsets that resume. Queries read 3 entries at a time (so every
 * query crosses chunk boundaries) and their refresh interval is an hour: a live query that sees a new event
 * within the tests' 10 s was woken by the journal, not by polling.
 */
class ReadJournalTest {
    @TempDir
    Path directory;

    private ActorTestKit testKit;
    private JournalClient client;
    private TobogganReadJournal queries;

    @BeforeEach
    void start() {
        startSystem();
    }

    @AfterEach
    void stop() {
        testKit.shutdownTestKit();
    }

    private void startSystem() {
        testKit = ActorTestKit.create("query", PekkoTestConfig.queries(directory, ""));
        client = JournalClient.of(testKit);
        queries = JournalClient.readJournal(testKit.system());
    }

    private void restartSystem() {
        testKit.shutdownTestKit();
        startSystem();
    }

    // ---------------------------------------------------------------- by persistence id

    @Test
    void currentEventsByPersistenceIdHonourBoundsDeletesAndRestarts() {
        client.writeAndAcknowledge(List.of(atomic("a", 1, 4)));
        client.writeAndAcknowledge(events("a", 5, 10));
        client.writeAndAcknowledge(events("b", 1, 3));

        List<EventEnvelope> all = current("a", 0, Long.MAX_VALUE);
        assertThat(all).extracting(EventEnvelope::sequenceNr).containsExactlyElementsOf(range(1, 10));
        assertThat(all.get(4).event()).isEqualTo("a-5");
        assertThat(all.get(4).persistenceId()).isEqualTo("a");
        assertThat(all.get(4).offset()).isEqualTo(Sequence.apply(5));
        assertThat(current("a", 3, 5)).extracting(EventEnvelope::sequenceNr).containsExactly(3L, 4L, 5L);
        assertThat(current("a", 11, Long.MAX_VALUE)).isEmpty();
        assertThat(current("b", 1, Long.MAX_VALUE)).extracting(EventEnvelope::event)
                .containsExactly("b-1", "b-2", "b-3");
        assertThat(current("nobody", 1, Long.MAX_VALUE)).isEmpty();

        client.delete("a", 6);
        assertThat(current("a", 1, Long.MAX_VALUE)).extracting(EventEnvelope::sequenceNr)
                .containsExactlyElementsOf(range(7, 10));
        restartSystem();
        assertThat(current("a", 1, Long.MAX_VALUE)).extracting(EventEnvelope::sequenceNr)
                .containsExactlyElementsOf(range(7, 10));
        client.delete("a", 10);
        assertThat(current("a", 1, Long.MAX_VALUE)).isEmpty();
        client.writeAndAcknowledge(events("a", 11, 12)); // a new numeric id after the tombstone
        assertThat(current("a", 1, Long.MAX_VALUE)).extracting(EventEnvelope::sequenceNr).containsExactly(11L, 12L);
    }

    @Test
    void aCurrentQueryEndsAtWhatWasStoredWhenItStarted() {
        client.writeAndAcknowledge(events("a", 1, 5));
        SinkQueueWithCancel<EventEnvelope> events = queue(queries.currentEventsByPersistenceId("a", 1, Long.MAX_VALUE));
        assertThat(next(events).sequenceNr()).isEqualTo(1);
        client.writeAndAcknowledge(events("a", 6, 8));
        List<Long> rest = new ArrayList<>();
        for (Optional<EventEnvelope> e = await(events.pull()); e.isPresent(); e = await(events.pull())) {
            rest.add(e.get().sequenceNr());
        }
        assertThat(rest).containsExactly(2L, 3L, 4L, 5L);
    }

    @Test
    void liveEventsByPersistenceIdSeeLaterWritesAndEndAtToSequenceNr() {
        SinkQueueWithCancel<EventEnvelope> events = queue(queries.eventsByPersistenceId("a", 3, 9));
        client.writeAndAcknowledge(List.of(atomic("a", 1, 4)));
        assertThat(next(events).sequenceNr()).isEqualTo(3);
        assertThat(next(events).sequenceNr()).isEqualTo(4);
        client.writeAndAcknowledge(events("a", 5, 7));
        client.writeAndAcknowledge(events("b", 1, 1));
        client.writeAndAcknowledge(events("a", 8, 12));
        List<Long> rest = new ArrayList<>();
        for (Optional<EventEnvelope> e = await(events.pull()); e.isPresent(); e = await(events.pull())) {
            rest.add(e.get().sequenceNr());
        }
        assertThat(rest).as("the stream completes at 9").containsExactly(5L, 6L, 7L, 8L, 9L);
    }

    @Test
    void aLiveQueryByPersistenceIdSkipsDeletedEvents() {
        client.writeAndAcknowledge(List.of(atomic("a", 1, 4)));
        client.delete("a", 2);
        SinkQueueWithCancel<EventEnvelope> events = queue(queries.eventsByPersistenceId("a", 1, Long.MAX_VALUE));
        assertThat(next(events).sequenceNr()).isEqualTo(3);
        assertThat(next(events).sequenceNr()).isEqualTo(4);
        client.delete("a", 4); // everything: a tombstone; the next write gets a new numeric id
        client.writeAndAcknowledge(events("a", 5, 5));
        assertThat(next(events).sequenceNr()).isEqualTo(5);
        events.cancel();
    }

    @Test
    void aLiveQueryByPersistenceIdResumesAfterARestart() {
        client.writeAndAcknowledge(events("a", 1, 5));
        restartSystem();
        SinkQueueWithCancel<EventEnvelope> events = queue(queries.eventsByPersistenceId("a", 4, Long.MAX_VALUE));
        assertThat(next(events).sequenceNr()).isEqualTo(4);
        assertThat(next(events).sequenceNr()).isEqualTo(5);
        client.writeAndAcknowledge(events("a", 6, 6));
        EventEnvelope sixth = next(events);
        assertThat(sixth.sequenceNr()).isEqualTo(6);
        assertThat(sixth.event()).isEqualTo("a-6");
        events.cancel();
    }

    // ---------------------------------------------------------------- by tag

    @Test
    void currentEventsByTagComeInWriteOrderAcrossPersistenceIdsAndResumeFromTheirOffsets() {
        List<String> expected = writeTagged(4); // a-1, b-1, c-1, a-2, ... in one call per round
        List<EventEnvelope> all = currentByTag("t", NoOffset.getInstance());
        assertThat(all).extracting(EventEnvelope::event).containsExactlyElementsOf(expected);
        List<Long> offsets = all.stream().map(e -> ((Sequence) e.offset()).value()).toList();
        assertThat(offsets).isSorted().doesNotHaveDuplicates();
        assertThat(currentByTag("other", NoOffset.getInstance())).extracting(EventEnvelope::event)
                .containsExactlyElementsOf(expected.stream().filter(e -> e.startsWith("b")).toList());
        assertThat(currentByTag("nothing", NoOffset.getInstance())).isEmpty();

        // Resuming from an event's offset delivers what came after it; the offsets survive a restart.
        assertThat(currentByTag("t", all.get(4).offset())).containsExactlyElementsOf(all.subList(5, all.size()));
        assertThat(currentByTag("t", Sequence.apply(0))).containsExactlyElementsOf(all);
        restartSystem();
        assertThat(currentByTag("t", NoOffset.getInstance())).containsExactlyElementsOf(all);
        assertThat(currentByTag("t", all.get(7).offset())).containsExactlyElementsOf(all.subList(8, all.size()));

        // Deleted events are gone from the tag; the others keep their offsets.
        client.delete("a", 2);
        List<EventEnvelope> afterDelete = new ArrayList<>(all);
        afterDelete.removeIf(e -> e.persistenceId().equals("a") && e.sequenceNr() <= 2);
        assertThat(currentByTag("t", NoOffset.getInstance())).containsExactlyElementsOf(afterDelete);
    }

    @Test
    void aTreeWrittenBeforeTheHighestIdKeyIsReadOnceTheJournalHasStarted() {
        List<String> written = writeTagged(2);
        restartSystem();
        Tree tree = PekkoStores.get(testKit.system()).store("toboggan.pekko.store").tree("pekko.journal");
        tree.remove(PluginFormat.highestIdKey()); // as the journal wrote its trees before the key existed
        tree.flush();
        restartSystem();
        client.replay("a", 1, 1, 1); // the journal has started
        assertThat(currentByTag("t", NoOffset.getInstance())).extracting(EventEnvelope::event)
                .containsExactlyElementsOf(written);
    }

    @Test
    void anUntaggedWriteOfAnOlderPersistenceIdHidesNoTaggedEvent() {
        client.writeAndAcknowledge(events("first", 1, 1)); // so that "older"'s numeric id is not 0
        client.writeAndAcknowledge(events("older", 1, 1)); // a numeric id below the tagged events' orderings
        List<String> written = writeTagged(2); // orderings above it
        client.writeAndAcknowledge(events("older", 2, 2)); // untagged: must not lower the scans' bound
        assertThat(currentByTag("t", NoOffset.getInstance())).extracting(EventEnvelope::event)
                .containsExactlyElementsOf(written);
        restartSystem();
        client.writeAndAcknowledge(events("older", 3, 3));
        assertThat(currentByTag("t", NoOffset.getInstance())).extracting(EventEnvelope::event)
                .containsExactlyElementsOf(written);
    }

    @Test
    void tagOffsetsOtherThanSequenceAreRefused() {
        Offset uuid = Offset.timeBasedUUID(UUID.fromString("58e0a7d7-eebc-11d8-9669-0800200c9a66"));
        assertThatThrownBy(() -> queries.eventsByTag("t", uuid)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Sequence");
    }

    @Test
    void liveEventsByTagSeeNewEventsOnceAndResumeAfterARestart() {
        SinkQueueWithCancel<EventEnvelope> live = queue(queries.eventsByTag("t", NoOffset.getInstance()));
        List<String> written = writeTagged(2);
        List<EventEnvelope> seen = new ArrayList<>();
        for (int i = 0; i < written.size(); i++) {
            seen.add(next(live));
        }
        assertThat(seen).extracting(EventEnvelope::event).containsExactlyElementsOf(written);
        Offset resumeFrom = seen.get(seen.size() - 1).offset();
        live.cancel();

        restartSystem();
        SinkQueueWithCancel<EventEnvelope> resumed = queue(queries.eventsByTag("t", resumeFrom));
        client.writeAndAcknowledge(List.of(new AtomicWrite(seq(List.of(repr("d", 1, new Tagged("d-1", tags("t"))))))));
        EventEnvelope next = next(resumed);
        assertThat(next.event()).as("only what was written after the offset").isEqualTo("d-1");
        assertThat(((Sequence) next.offset()).value()).isGreaterThan(((Sequence) resumeFrom).value());
        resumed.cancel();
    }

    @Test
    void aLiveTagQueryMissesNothingWhileManyCallsWrite() {
        SinkQueueWithCancel<EventEnvelope> live = queue(queries.eventsByTag("t", NoOffset.getInstance()));
        // Calls in flight at once, as persistAsync makes them: the query reads while batches are applied.
        Map<String, Long> nextSeqNr = new HashMap<>();
        List<String> written = new ArrayList<>();
        int calls = 20;
        for (int call = 0; call < calls; call++) {
            List<AtomicWrite> writes = new ArrayList<>();
            for (String id : List.of("a", "b", "c")) {
                for (int i = 0; i < 4; i++) {
                    long seqNr = nextSeqNr.merge(id, 1L, Long::sum);
                    String event = id + "-" + seqNr;
                    Object payload = seqNr % 4 == 0 ? event : new Tagged(event, tags("t"));
                    if (seqNr % 4 != 0) {
                        written.add(event);
                    }
                    writes.add(new AtomicWrite(seq(List.of(repr(id, seqNr, payload)))));
                }
            }
            client.send(writes);
        }
        List<String> seen = new ArrayList<>();
        long lastOffset = -1;
        while (seen.size() < written.size()) {
            EventEnvelope e = next(live);
            assertThat(((Sequence) e.offset()).value()).isGreaterThan(lastOffset);
            lastOffset = ((Sequence) e.offset()).value();
            seen.add((String) e.event());
        }
        assertThat(seen).containsExactlyElementsOf(written);
        live.cancel();
    }

    // ---------------------------------------------------------------- persistence ids

    @Test
    void persistenceIdsCurrentAndLiveEachOnce() {
        client.writeAndAcknowledge(events("a", 1, 2));
        client.writeAndAcknowledge(events("b", 1, 1));
        client.writeAndAcknowledge(events("c", 1, 1));
        client.delete("b", 1); // a tombstone: the id stays (its sequence numbers continue)
        client.writeAndAcknowledge(events("d", 1, 1));
        client.writeAndAcknowledge(events("e", 1, 1));
        assertThat(await(queries.currentPersistenceIds().runWith(Sink.seq(), testKit.system())))
                .containsExactly("a", "b", "c", "d", "e");
        restartSystem();

        SinkQueueWithCancel<String> live = queue(queries.persistenceIds());
        List<String> first = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            first.add(next(live));
        }
        assertThat(first).containsExactly("a", "b", "c", "d", "e");
        client.writeAndAcknowledge(events("b", 2, 2)); // b again, with a new numeric id: not delivered again
        client.writeAndAcknowledge(events("a", 3, 3)); // not new
        client.writeAndAcknowledge(events("f", 1, 1));
        assertThat(next(live)).isEqualTo("f");
        client.writeAndAcknowledge(events("0-first-in-key-order", 1, 1));
        assertThat(next(live)).isEqualTo("0-first-in-key-order");
        live.cancel();
        assertThat(await(queries.currentPersistenceIds().runWith(Sink.seq(), testKit.system())))
                .containsExactly("0-first-in-key-order", "a", "b", "c", "d", "e", "f");
    }

    @Test
    void theScalaApiIsTheSameQueries() {
        client.writeAndAcknowledge(events("a", 1, 3));
        TobogganReadJournalProvider.Scaladsl scala = PersistenceQuery.get(Adapter.toClassic(testKit.system()))
                .readJournalFor(TobogganReadJournal.IDENTIFIER, ConfigFactory.empty());
        assertThat(await(scala.currentEventsByPersistenceId("a", 1, 2).asJava().runWith(Sink.seq(), testKit.system())))
                .extracting(EventEnvelope::sequenceNr).containsExactly(1L, 2L);
    }

    // ---------------------------------------------------------------- helpers

    /**
     * {@code rounds} calls, each with one event for a, b and c: a's and c's tagged "t", b's "t" and
     * "other". Returns the events in write order.
     */
    private List<String> writeTagged(int rounds) {
        List<String> written = new ArrayList<>();
        for (long round = 1; round <= rounds; round++) {
            List<AtomicWrite> writes = new ArrayList<>();
            for (String id : List.of("a", "b", "c")) {
                String event = id + "-" + round;
                scala.collection.immutable.Set<String> eventTags = id.equals("b") ? tags("t", "other") : tags("t");
                writes.add(new AtomicWrite(seq(List.of(repr(id, round, new Tagged(event, eventTags))))));
                written.add(event);
            }
            client.writeAndAcknowledge(writes);
        }
        return written;
    }

    private List<EventEnvelope> current(String persistenceId, long from, long to) {
        return await(queries.currentEventsByPersistenceId(persistenceId, from, to).runWith(Sink.seq(), testKit.system()));
    }

    private List<EventEnvelope> currentByTag(String tag, Offset offset) {
        return JournalClient.currentEventsByTag(testKit.system(), tag, offset);
    }

    private <T> SinkQueueWithCancel<T> queue(Source<T, NotUsed> source) {
        return source.runWith(Sink.queue(), testKit.system());
    }

    private static <T> T next(SinkQueueWithCancel<T> queue) {
        Optional<T> next = await(queue.pull());
        assertThat(next).as("the stream went on").isPresent();
        return next.get();
    }
}
