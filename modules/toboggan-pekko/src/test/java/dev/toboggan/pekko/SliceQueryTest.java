package dev.toboggan.pekko;

import static dev.toboggan.pekko.JournalClient.atomic;
import static dev.toboggan.pekko.JournalClient.await;
import static dev.toboggan.pekko.JournalClient.repr;
import static dev.toboggan.pekko.JournalClient.seq;
import static dev.toboggan.pekko.JournalClient.tags;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.Tree;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.journal.Tagged;
import org.apache.pekko.persistence.query.NoOffset;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.persistence.query.typed.EventEnvelope;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.jdk.javaapi.FutureConverters;

/**
 * The read journal's queries by slice ({@code eventsBySlices}, {@code currentEventsBySlices}): an entity type's
 * events in write order, split among slice ranges, across calls that mix persistence ids, runs, deletes,
 * restarts and a journal written before the slice index; and one event by persistence id and sequence number
 * ({@code loadEnvelope}, {@code timestampOf}). Queries read 3 index entries at a time and their
 * refresh interval is an hour, as in {@link ReadJournalTest}.
 */
class SliceQueryTest {
    @TempDir
    Path directory;

    private ActorTestKit testKit;
    private JournalClient client;
    private TobogganReadJournal queries;

    @BeforeEach
    void start() {
        startSystem(true, "");
    }

    @AfterEach
    void stop() {
        testKit.shutdownTestKit();
    }

    /**
     * A system with the read journal, and with the journal started unless {@code withJournal} is false, with
     * {@code config} over the tests' settings.
     */
    private void startSystem(boolean withJournal, String config) {
        testKit = ActorTestKit.create("slices", PekkoTestConfig.queries(directory, config));
        client = withJournal ? JournalClient.of(testKit) : null;
        queries = JournalClient.readJournal(testKit.system());
    }

    private void restartSystem() {
        restartSystem("");
    }

    private void restartSystem(String config) {
        testKit.shutdownTestKit();
        startSystem(true, config);
    }

    @Test
    void anEntityTypesEventsComeInWriteOrderEachOnceSplitAmongSliceRanges() {
        List<String> written = writeMixedCalls(6);
        List<EventEnvelope<Object>> all = currentBySlices("Cart", 0, 1023, NoOffset.getInstance());
        assertThat(all).extracting(e -> (String) e.event()).containsExactlyElementsOf(cartEvents(written));
        assertIncreasingOffsets(all);
        for (EventEnvelope<Object> e : all) {
            assertThat(e.entityType()).isEqualTo("Cart");
            assertThat(e.slice()).isEqualTo(queries.sliceForPersistenceId(e.persistenceId()));
            assertThat((String) e.event()).startsWith(e.persistenceId() + "-" + e.sequenceNr());
        }

        // Four ranges, as four projection instances would read: together exactly the whole, each its slices only.
        List<Pair<Integer, Integer>> ranges = queries.sliceRanges(4);
        assertThat(ranges).hasSize(4);
        List<EventEnvelope<Object>> union = new ArrayList<>();
        for (Pair<Integer, Integer> range : ranges) {
            List<EventEnvelope<Object>> part = currentBySlices("Cart", range.first(), range.second(), NoOffset.getInstance());
            assertIncreasingOffsets(part);
            assertThat(part).allSatisfy(e -> assertThat(e.slice()).isBetween(range.first(), range.second()));
            assertThat(part).isEqualTo(all.stream().filter(e -> e.slice() >= range.first() && e.slice() <= range.second()).toList());
            union.addAll(part);
        }
        assertThat(union).containsExactlyInAnyOrderElementsOf(all);

        // Other entity types; a persistence id without a '|' is of the empty entity type.
        assertThat(currentBySlices("Order", 0, 1023, NoOffset.getInstance())).extracting(e -> (String) e.event())
                .containsExactlyElementsOf(written.stream().filter(e -> e.startsWith("Order|")).toList());
        assertThat(currentBySlices("", 0, 1023, NoOffset.getInstance())).extracting(e -> (String) e.event())
                .containsExactlyElementsOf(written.stream().filter(e -> e.startsWith("plain")).toList());
        assertThat(currentBySlices("Nobody", 0, 1023, NoOffset.getInstance())).isEmpty();

        // Resuming from any event's offset delivers exactly what came after it, also inside a run and after a restart.
        for (int i : new int[] {0, 3, 10, all.size() / 2, all.size() - 1}) {
            assertThat(currentBySlices("Cart", 0, 1023, all.get(i).offset())).isEqualTo(all.subList(i + 1, all.size()));
        }
        restartSystem();
        assertThat(currentBySlices("Cart", 0, 1023, NoOffset.getInstance())).isEqualTo(all);
        assertThat(currentBySlices("Cart", 0, 1023, all.get(7).offset())).isEqualTo(all.subList(8, all.size()));
    }

    @Test
    void deletedEventsAreGoneFromTheSlicesAndSoAreTheirRunsEntries() {
        List<String> written = writeMixedCalls(4);
        List<EventEnvelope<Object>> all = currentBySlices("Cart", 0, 1023, NoOffset.getInstance());
        client.delete("Cart|1", 5); // inside a run: its later events stay, with their offsets
        client.delete("Cart|2", Long.MAX_VALUE); // everything: a tombstone
        List<EventEnvelope<Object>> kept = all.stream().filter(e -> !(e.persistenceId().equals("Cart|1") && e.sequenceNr() <= 5)
                && !e.persistenceId().equals("Cart|2")).toList();
        assertThat(kept).hasSizeLessThan(all.size()).isNotEmpty();
        assertThat(currentBySlices("Cart", 0, 1023, NoOffset.getInstance())).isEqualTo(kept);
        assertThat(all).extracting(e -> (String) e.event()).isEqualTo(cartEvents(written));

        // No slice entry is left of a removed run: every one still names a run that is there.
        Tree tree = journalTree();
        Iterator<Map.Entry<byte[], byte[]>> entries = tree.range(new byte[] {PluginFormat.BY_SLICE},
                new byte[] {PluginFormat.BY_SLICE + 1});
        int count = 0;
        while (entries.hasNext()) {
            PluginFormat.SliceEntry run = PluginFormat.decodeSliceValue(entries.next().getValue());
            assertThat(tree.get(PluginFormat.eventKey(run.numericId(), run.lastSequenceNr())))
                    .as("the run of slice entry %s", run).isNotNull();
            count++;
        }
        assertThat(count).isPositive();
    }

    @Test
    void liveQueriesOfTwoRangesMissNothingWhileManyCallsWrite() {
        List<Pair<Integer, Integer>> ranges = queries.sliceRanges(2);
        List<SinkQueueWithCancel<EventEnvelope<Object>>> live = new ArrayList<>();
        for (Pair<Integer, Integer> range : ranges) {
            live.add(queries.<Object>eventsBySlices("Cart", range.first(), range.second(), NoOffset.getInstance())
                    .runWith(Sink.queue(), testKit.system()));
        }
        // Calls in flight at once, as persistAsync makes them: the queries read while batches are applied.
        Map<String, Long> nextSeqNr = new HashMap<>();
        List<String> written = new ArrayList<>();
        for (int call = 0; call < 30; call++) {
            List<AtomicWrite> writes = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                String id = "Cart|" + ((call * 8 + i) * 7 % 11);
                long seqNr = nextSeqNr.merge(id, 1L, Long::sum);
                String event = id + "-" + seqNr;
                written.add(event);
                writes.add(new AtomicWrite(seq(List.of(repr(id, seqNr, event)))));
            }
            client.send(writes);
        }
        Set<String> seen = new HashSet<>();
        for (int r = 0; r < ranges.size(); r++) {
            Pair<Integer, Integer> range = ranges.get(r);
            List<String> expected = written.stream()
                    .filter(e -> inRange(queries.sliceForPersistenceId(e.substring(0, e.indexOf('-'))), range)).toList();
            List<String> delivered = new ArrayList<>();
            long lastOffset = -1;
            while (delivered.size() < expected.size()) {
                EventEnvelope<Object> e = next(live.get(r));
                assertThat(((Sequence) e.offset()).value()).isGreaterThan(lastOffset);
                lastOffset = ((Sequence) e.offset()).value();
                delivered.add((String) e.event());
            }
            // Each persistence id's events in sequence number order; every one delivered once.
            assertThat(delivered).containsExactlyInAnyOrderElementsOf(expected);
            for (String id : nextSeqNr.keySet()) {
                assertThat(delivered.stream().filter(e -> e.startsWith(id + "-")).toList())
                        .isEqualTo(expected.stream().filter(e -> e.startsWith(id + "-")).toList());
            }
            seen.addAll(delivered);
            live.get(r).cancel();
        }
        assertThat(seen).containsExactlyInAnyOrderElementsOf(written);
    }

    @Test
    void aJournalWrittenBeforeTheSliceIndexIsQueriedFromWhereTheIndexBegins() {
        client.writeAndAcknowledge(List.of(atomic("Cart|old", 1, 3)));
        Tree tree = journalTree();
        // As the journal wrote its trees before the index existed: no slice entries, no start.
        List<byte[]> sliceKeys = new ArrayList<>();
        tree.range(new byte[] {PluginFormat.BY_SLICE}, new byte[] {PluginFormat.BY_SLICE + 1})
                .forEachRemaining(e -> sliceKeys.add(e.getKey()));
        assertThat(sliceKeys).hasSize(1);
        sliceKeys.forEach(tree::remove);
        tree.remove(PluginFormat.sliceIndexFromKey());
        tree.flush();
        testKit.shutdownTestKit();
        startSystem(false, ""); // a process that only queries

        assertThatThrownBy(() -> currentBySlices("Cart", 0, 1023, NoOffset.getInstance()))
                .hasRootCauseInstanceOf(IllegalStateException.class).rootCause().hasMessageContaining("has not started");
        restartSystem();
        client.replay("Cart|old", 1, 3, 10); // the journal has started, and begun the index
        assertIndexedFromNowOn(atomic("Cart|new", 1, 2), "Cart|new-1", "Cart|new-2");
        // The events by persistence id and by tag are all still there.
        assertThat(client.replay("Cart|old", 1, 3, 10)).containsExactly(1L, 2L, 3L);
    }

    @Test
    void withTheIndexOffNothingIsIndexedAndOnAgainItCoversWhatIsWrittenFromThen() {
        client.writeAndAcknowledge(List.of(atomic("Cart|1", 1, 2)));
        restartSystem("toboggan.journal.slice-index = off");
        client.writeAndAcknowledge(List.of(atomic("Cart|1", 3, 4), atomic("Cart|2", 1, 1)));
        assertThatThrownBy(() -> queries.currentEventsBySlices("Cart", 0, 1023, NoOffset.getInstance()))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("toboggan.journal.slice-index is off");
        Tree tree = journalTree();
        assertThat(tree.get(PluginFormat.sliceIndexFromKey())).isNull();
        assertThat(tree.range(new byte[] {PluginFormat.BY_SLICE}, new byte[] {PluginFormat.BY_SLICE + 1}))
                .toIterable().as("only the run written before the index was turned off").hasSize(1);

        restartSystem();
        client.replay("Cart|1", 1, 4, 10); // the journal has started
        assertIndexedFromNowOn(atomic("Cart|2", 2, 3), "Cart|2-2", "Cart|2-3");
        client.delete("Cart|1", 4); // its runs, indexed or not, go with their entries
        assertThat(journalTree().range(new byte[] {PluginFormat.BY_SLICE}, new byte[] {PluginFormat.BY_SLICE + 1}))
                .toIterable().hasSize(1);
    }

    @Test
    void badSliceRangesAndOffsetsAreRefusedWhenTheQueryIsMade() {
        assertThatThrownBy(() -> queries.eventsBySlices("Cart", 5, 4, NoOffset.getInstance()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sliceRanges");
        assertThatThrownBy(() -> queries.currentEventsBySlices("Cart", -1, 4, NoOffset.getInstance()))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> queries.eventsBySlices("Cart", 0, 1024, NoOffset.getInstance()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0 to 1023");
        Offset uuid = Offset.timeBasedUUID(UUID.fromString("58e0a7d7-eebc-11d8-9669-0800200c9a66"));
        assertThatThrownBy(() -> queries.eventsBySlices("Cart", 0, 1023, uuid))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Sequence");
        assertThatThrownBy(() -> queries.eventsBySlices("x".repeat(70_000), 0, 1023, NoOffset.getInstance()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("entity type");
    }

    @Test
    void oneEventIsLoadedOrTimedByItsPersistenceIdAndSequenceNumber() {
        List<PersistentRepr> reprs = new ArrayList<>();
        for (long seqNr = 1; seqNr <= 3; seqNr++) {
            reprs.add(repr("Cart|1", seqNr, "Cart|1-" + seqNr).withTimestamp(1_000_000 + seqNr));
        }
        client.writeAndAcknowledge(List.of(new AtomicWrite(seq(reprs))));
        assertThat(await(queries.timestampOf("Cart|1", 2))).contains(Instant.ofEpochMilli(1_000_002));
        assertThat(await(queries.timestampOf("Cart|1", 4))).isEmpty();
        assertThat(await(queries.timestampOf("Cart|1", 0))).isEmpty();
        assertThat(await(queries.timestampOf("Cart|nobody", 1))).isEmpty();

        EventEnvelope<Object> loaded = await(queries.loadEnvelope("Cart|1", 2));
        EventEnvelope<Object> queried = currentBySlices("Cart", 0, 1023, NoOffset.getInstance()).get(1);
        assertThat(loaded).isEqualTo(queried);
        assertThat(loaded.event()).isEqualTo("Cart|1-2");
        assertThat(loaded.entityType()).isEqualTo("Cart");
        assertThat(loaded.slice()).isEqualTo(queries.sliceForPersistenceId("Cart|1"));
        assertThatThrownBy(() -> await(queries.loadEnvelope("Cart|1", 4))).hasRootCauseInstanceOf(NoSuchElementException.class)
                .rootCause().hasMessageContaining("event 4 of 'Cart|1'");

        client.delete("Cart|1", 2);
        assertThat(await(queries.timestampOf("Cart|1", 2))).isEmpty();
        assertThatThrownBy(() -> await(queries.loadEnvelope("Cart|1", 1))).hasRootCauseInstanceOf(NoSuchElementException.class);
        assertThat(await(queries.loadEnvelope("Cart|1", 3)).event()).isEqualTo("Cart|1-3");
    }

    @Test
    void theScalaApiIsTheSameQueries() {
        client.writeAndAcknowledge(List.of(atomic("Cart|1", 1, 3)));
        TobogganReadJournalProvider.Scaladsl scala = PersistenceQuery.get(Adapter.toClassic(testKit.system()))
                .readJournalFor(TobogganReadJournal.IDENTIFIER, ConfigFactory.empty());
        int slice = scala.sliceForPersistenceId("Cart|1");
        assertThat(slice).isEqualTo(queries.sliceForPersistenceId("Cart|1"));
        assertThat(scala.sliceRanges(4).size()).isEqualTo(4);
        List<EventEnvelope<Object>> events = await(scala.<Object>currentEventsBySlices("Cart", slice, slice,
                NoOffset.getInstance()).asJava().runWith(Sink.seq(), testKit.system()));
        assertThat(events).extracting(EventEnvelope::sequenceNr).containsExactly(1L, 2L, 3L);
        assertThat(await(FutureConverters.asJava(scala.<Object>loadEnvelope("Cart|1", 2)))).isEqualTo(events.get(1));
        assertThat(await(FutureConverters.asJava(scala.timestampOf("Cart|1", 2))).isDefined()).isTrue();
        assertThat(await(FutureConverters.asJava(scala.timestampOf("Cart|1", 5))).isEmpty()).isTrue();
    }

    // ---------------------------------------------------------------- helpers

    /**
     * {@code rounds} calls that mix persistence ids of three entity types, each call writing some ids twice with
     * others between, one of them tagged, and one call with events large enough for several runs. Returns the
     * events in the order the journal numbers them: each call's persistence id by persistence id, in the order of
     * each id's first write in the call (so that the runs' orderings never interleave).
     */
    private List<String> writeMixedCalls(int rounds) {
        Map<String, Long> nextSeqNr = new HashMap<>();
        List<String> numbered = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            List<AtomicWrite> writes = new ArrayList<>();
            Map<String, List<String>> byId = new LinkedHashMap<>();
            for (String id : List.of("Cart|1", "Order|1", "Cart|2", "Cart|1", "plain", "Cart|3", "Cart|2")) {
                List<PersistentRepr> reprs = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    long seqNr = nextSeqNr.merge(id, 1L, Long::sum);
                    String event = id + "-" + seqNr;
                    reprs.add(repr(id, seqNr, id.equals("Cart|3") ? new Tagged(event, tags("t")) : event));
                    byId.computeIfAbsent(id, k -> new ArrayList<>()).add(event);
                }
                writes.add(new AtomicWrite(seq(reprs)));
            }
            if (round == 1) {
                List<PersistentRepr> large = new ArrayList<>();
                for (int i = 0; i < 5; i++) { // 5 × 30 000 bytes: three runs of 64 KiB at most
                    long seqNr = nextSeqNr.merge("Cart|4", 1L, Long::sum);
                    String event = "Cart|4-" + seqNr + "-" + "x".repeat(30_000);
                    large.add(repr("Cart|4", seqNr, event));
                    byId.computeIfAbsent("Cart|4", k -> new ArrayList<>()).add(event);
                }
                writes.add(new AtomicWrite(seq(large)));
            }
            client.writeAndAcknowledge(writes);
            byId.values().forEach(numbered::addAll);
        }
        return numbered;
    }

    private static List<String> cartEvents(List<String> written) {
        return written.stream().filter(e -> e.startsWith("Cart|")).toList();
    }

    /**
     * The journal has begun its index at an ordering above the events written so far: writes {@code write} and
     * checks that a query by slices from before the index is refused, naming where it begins, and that a query
     * from there delivers {@code written} (the events of {@code write}, of the Cart entity type).
     */
    private void assertIndexedFromNowOn(AtomicWrite write, String... written) {
        long from = PluginFormat.decodeU64(journalTree().get(PluginFormat.sliceIndexFromKey()));
        assertThat(from).isPositive();
        client.writeAndAcknowledge(List.of(write));
        assertThatThrownBy(() -> currentBySlices("Cart", 0, 1023, NoOffset.getInstance()))
                .hasRootCauseInstanceOf(IllegalStateException.class).rootCause()
                .hasMessageContaining("Sequence(" + from + ")");
        assertThat(currentBySlices("Cart", 0, 1023, Sequence.apply(from))).extracting(e -> (String) e.event())
                .containsExactly(written);
    }

    private static boolean inRange(int slice, Pair<Integer, Integer> range) {
        return slice >= range.first() && slice <= range.second();
    }

    private static void assertIncreasingOffsets(List<EventEnvelope<Object>> events) {
        List<Long> offsets = events.stream().map(e -> ((Sequence) e.offset()).value()).toList();
        assertThat(offsets).isSorted().doesNotHaveDuplicates();
    }

    private Tree journalTree() {
        return PekkoStores.get(testKit.system()).store("toboggan.pekko.store").tree("pekko.journal");
    }

    private List<EventEnvelope<Object>> currentBySlices(String entityType, int minSlice, int maxSlice, Offset offset) {
        return await(queries.<Object>currentEventsBySlices(entityType, minSlice, maxSlice, offset)
                .runWith(Sink.seq(), testKit.system()));
    }

    private static <T> T next(SinkQueueWithCancel<T> queue) {
        Optional<T> next = await(queue.pull());
        assertThat(next).as("the stream went on").isPresent();
        return next.get();
    }
}
