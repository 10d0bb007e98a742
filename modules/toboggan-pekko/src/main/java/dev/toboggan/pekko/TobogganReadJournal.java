package dev.toboggan.pekko;

import com.typesafe.config.Config;
import dev.toboggan.Db;
import dev.toboggan.Tree;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.persistence.Persistence;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.NoOffset;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByPersistenceIdQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByTagQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentPersistenceIdsQuery;
import org.apache.pekko.persistence.query.javadsl.EventsByPersistenceIdQuery;
import org.apache.pekko.persistence.query.javadsl.EventsByTagQuery;
import org.apache.pekko.persistence.query.javadsl.PersistenceIdsQuery;
import org.apache.pekko.persistence.query.javadsl.ReadJournal;
import org.apache.pekko.persistence.query.typed.javadsl.CurrentEventsBySliceQuery;
import org.apache.pekko.persistence.query.typed.javadsl.EventTimestampQuery;
import org.apache.pekko.persistence.query.typed.javadsl.EventsBySliceQuery;
import org.apache.pekko.persistence.query.typed.javadsl.LoadEventQuery;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Pekko Persistence Query on the Toboggan journal's tree (Java API; {@link TobogganReadJournalProvider} also
 * gives the Scala one):
 *
 * <pre>{@code
 * TobogganReadJournal queries = PersistenceQuery.get(system)
 *         .getReadJournalFor(TobogganReadJournal.class, TobogganReadJournal.IDENTIFIER);
 * }</pre>
 *
 * <p><b>What a query delivers.</b> Only events that are durable: a query reads the tree and waits until the
 * journal's flush of the batches it read from has completed ({@link JournalWrites}; at once when they are
 * durable already, and without a flush of its own) before it emits them, so a projection never sees an
 * event that a crash could take back. Deleted events are not
 * delivered (one deleted while a query runs may still be, as with every weakly consistent read).
 *
 * <p><b>Offsets of {@code eventsByTag}.</b> {@link Sequence}{@code (n)}: the event's ordering, an id the
 * store's id generator gave it when it was written. Orderings grow in the order the journal wrote the
 * events (across persistence ids), are never reused and stay what they are across restarts and crashes, with
 * gaps. A query from {@code Sequence(n)} delivers the tag's events with orderings above {@code n}, so the
 * offset of the last event handled is the one to resume from; {@link NoOffset} starts at the first. Other
 * offset types are refused with an {@link IllegalArgumentException}. {@code eventsByPersistenceId}'s
 * envelopes carry {@code Sequence(sequenceNr)}.
 *
 * <p><b>No gaps.</b> A tree iterator may see some of a batch's keys and not others, so every query scans
 * only up to a bound that a single-key read of the same batches gave (see {@link PluginFormat}, "for the
 * read journal"): the persistence id entry's highest sequence number, or {@link PluginFormat#HIGHEST_ID}
 * for tags and new persistence ids. Nothing below the bound can turn up later, so a live query never skips
 * an event it has not seen.
 *
 * <p><b>Live queries</b> wait, once they have delivered all there is, for the journal to report new durable
 * writes ({@link JournalWrites}: once per write call, not per event), or for {@code refresh-interval} at the
 * longest; they never poll in a loop. The current queries deliver what was stored when they started (the
 * bound of their first read) and complete.
 *
 * <p>Reads run on the stream's own thread, {@code max-buffer-size} entries at a time; tree reads are
 * in-memory unless a page must be read from disk.
 */
public final class TobogganReadJournal implements ReadJournal, EventsByPersistenceIdQuery,
        CurrentEventsByPersistenceIdQuery, EventsByTagQuery, CurrentEventsByTagQuery, EventsBySliceQuery,
        CurrentEventsBySliceQuery, EventTimestampQuery, LoadEventQuery, PersistenceIdsQuery,
        CurrentPersistenceIdsQuery {
    /** The read journal's default configuration path. */
    public static final String IDENTIFIER = "toboggan.query";

    private final Db db;
    private final Tree tree;
    private final Serialization serialization;
    /** Gives persistence ids' slices and the ranges of slices. */
    private final Persistence persistence;
    /** The journal's {@code slice-index} setting's path if it is off, else null. */
    private final String sliceIndex;
    private final JournalWrites writes;
    private final Duration refreshInterval;
    private final int maxBufferSize;
    /** Where {@link #timestampOf} and {@link #loadEnvelope} read: the journal's replays' dispatcher. */
    private final Executor replayExecutor;
    /**
     * The journal's batch numbers as a polled source's marks: a read is durable once the batches up to the last
     * one started before its end are; a caught-up live query reads again at the next batch made durable.
     */
    private final PolledSource.Progress progress = new PolledSource.Progress() {
        @Override
        public long beforeRead() {
            return writes.durable();
        }

        @Override
        public long afterRead() {
            return writes.started(); // every batch the read saw is numbered at most this
        }

        @Override
        public CompletionStage<?> durable(long afterRead) {
            return TobogganReadJournal.this.durable(afterRead);
        }

        @Override
        public CompletionStage<?> more(long beforeRead) {
            return writes.awaitDurable(beforeRead + 1, refreshInterval);
        }
    };

    TobogganReadJournal(ExtendedActorSystem system, Config config, String configPath) {
        String journalPath = config.getString("write-plugin");
        Config journal;
        try {
            journal = system.settings().config().getConfig(journalPath);
        } catch (com.typesafe.config.ConfigException e) {
            throw new IllegalArgumentException(configPath + ".write-plugin = \"" + journalPath
                    + "\" names no journal plugin block: set it to the path of the Toboggan journal's", e);
        }
        String treeName = PluginSettings.treeName(journal, journalPath);
        PekkoStores stores = PekkoStores.get(system);
        this.db = stores.store(journal.getString("store"));
        this.tree = db.tree(treeName);
        this.writes = stores.journalWrites(db, treeName);
        this.serialization = SerializationExtension.get(system);
        this.persistence = Persistence.get(system);
        this.sliceIndex = journal.getBoolean("slice-index") ? null : journalPath + ".slice-index";
        this.refreshInterval = PluginSettings.positiveDuration(config, configPath, "refresh-interval");
        this.maxBufferSize = PluginSettings.positiveInt(config, configPath, "max-buffer-size");
        // Pekko gives the journal its block over journal-plugin-fallback, where replay-dispatcher's default is.
        this.replayExecutor = system.dispatchers().lookup(journal.withFallback(system.settings().config()
                .getConfig("pekko.persistence.journal-plugin-fallback")).getString("replay-dispatcher"));
    }

    // ---------------------------------------------------------------- by persistence id

    @Override
    public Source<EventEnvelope, NotUsed> eventsByPersistenceId(String persistenceId, long fromSequenceNr,
            long toSequenceNr) {
        return byPersistenceId(persistenceId, fromSequenceNr, toSequenceNr, true);
    }

    @Override
    public Source<EventEnvelope, NotUsed> currentEventsByPersistenceId(String persistenceId, long fromSequenceNr,
            long toSequenceNr) {
        return byPersistenceId(persistenceId, fromSequenceNr, toSequenceNr, false);
    }

    /** Where a query by persistence id is: the next sequence number, the last wanted, and whether that is fixed. */
    private record IdCursor(long next, long to, boolean bounded) {}

    private Source<EventEnvelope, NotUsed> byPersistenceId(String persistenceId, long fromSequenceNr,
            long toSequenceNr, boolean live) {
        byte[] key = PluginFormat.persistenceIdKey(persistenceId); // a too long id fails here, not in the stream
        IdCursor start = new IdCursor(Math.max(fromSequenceNr, 1), toSequenceNr, live);
        return polled(start, cursor -> {
            byte[] value = tree.get(key);
            PersistenceIdEntry entry = value == null ? PersistenceIdEntry.ABSENT
                    : PluginFormat.decodePersistenceIdValue(value);
            // A current query ends at the highest sequence number stored when it starts.
            long to = cursor.bounded() ? cursor.to() : Math.min(cursor.to(), entry.highestSequenceNr());
            long limit = Math.min(to, entry.highestSequenceNr());
            List<EventEnvelope> events = new ArrayList<>();
            long next = cursor.next();
            if (!entry.isTombstone()) {
                Iterator<PluginFormat.StoredEvent> stored = EventRuns.from(tree, entry.numericId(), next);
                while (events.size() < maxBufferSize && stored.hasNext()) {
                    PluginFormat.StoredEvent event = stored.next();
                    if (event.sequenceNr() > limit) {
                        break;
                    }
                    events.add(envelope(Sequence.apply(event.sequenceNr()), PluginFormat.decodeEvent(serialization, event)));
                    next = event.sequenceNr() + 1;
                }
            }
            boolean caughtUp = events.size() < maxBufferSize;
            if (caughtUp) {
                // Nothing up to the limit is missing from the tree but what was deleted or never written.
                next = Math.max(next, after(limit));
            }
            IdCursor moved = new IdCursor(next, to, true);
            return new PolledSource.Chunk<>(moved, events, caughtUp, next > to || (caughtUp && !live));
        }, live);
    }

    // ---------------------------------------------------------------- by tag

    @Override
    public Source<EventEnvelope, NotUsed> eventsByTag(String tag, Offset offset) {
        return byTag(tag, offset, true);
    }

    @Override
    public Source<EventEnvelope, NotUsed> currentEventsByTag(String tag, Offset offset) {
        return byTag(tag, offset, false);
    }

    /**
     * Where a query by tag is: the last ordering delivered or passed, the bound of a current query (or -1),
     * and the tag's id once it is known (or -1).
     */
    private record TagCursor(long after, long bound, long tagId) {}

    private Source<EventEnvelope, NotUsed> byTag(String tag, Offset offset, boolean live) {
        byte[] tagKey = PluginFormat.tagKey(tag); // a too long tag fails here, not in the stream
        long after = PolledSource.after(offset, -1, "the Toboggan read journal's tag offsets are Sequence (an "
                + "event's ordering) or NoOffset");
        return polled(new TagCursor(after, -1, -1), cursor -> {
            long highest = highestId();
            long bound = live ? highest : cursor.bound() >= 0 ? cursor.bound() : highest;
            long tagId = cursor.tagId();
            if (tagId < 0) {
                byte[] stored = tree.get(tagKey);
                tagId = stored == null ? -1 : PluginFormat.decodeU64(stored);
            }
            List<EventEnvelope> events = new ArrayList<>();
            long last = cursor.after();
            int scanned = 0;
            if (tagId >= 0 && last < bound) {
                EventRuns.Finder finder = new EventRuns.Finder(tree);
                Iterator<Map.Entry<byte[], byte[]>> entries = tree.range(PluginFormat.taggedKey(tagId, last + 1),
                        bound == Long.MAX_VALUE ? PluginFormat.taggedKeyEnd(tagId) : PluginFormat.taggedKey(tagId, bound + 1));
                while (scanned < maxBufferSize && entries.hasNext()) {
                    Map.Entry<byte[], byte[]> entry = entries.next();
                    scanned++;
                    last = PluginFormat.taggedOrdering(entry.getKey());
                    PluginFormat.StoredEvent event = finder.find(PluginFormat.taggedNumericId(entry.getValue()),
                            PluginFormat.taggedSequenceNr(entry.getValue()));
                    if (event != null) { // else deleted since the entry was read
                        events.add(envelope(Sequence.apply(last), PluginFormat.decodeEvent(serialization, event)));
                    }
                }
            }
            boolean caughtUp = scanned < maxBufferSize;
            if (caughtUp) {
                // Entries up to the bound are all visible; later ones will have higher orderings.
                last = Math.max(last, bound);
            }
            return new PolledSource.Chunk<>(new TagCursor(last, bound, tagId), events, caughtUp, caughtUp && !live);
        }, live);
    }

    // ---------------------------------------------------------------- by slice

    /**
     * The events of the persistence ids of {@code entityType} whose slices are {@code minSlice} to
     * {@code maxSlice} ({@link #sliceRanges} splits the slices among a projection's instances), in the order
     * the journal wrote them, each with its {@link Sequence} ordering as its offset (as {@link #eventsByTag}'s,
     * and resumed from the same way), then, live, each later one once it is durable. The entity type of a
     * persistence id is what comes before its first {@code |} (Pekko's {@code PersistenceId}), or the empty
     * string.
     *
     * <p>The journal indexes events by slice from the first time it starts with this version on: a query on a
     * journal holding events written before (by a version without the index) fails, naming the offset from
     * which the index is complete, unless its offset is at or after it.
     *
     * @throws IllegalArgumentException if the slices are not {@code 0 <= minSlice <= maxSlice < 1024} (Pekko's
     *     number of slices), the offset is neither {@link Sequence} nor {@link NoOffset}, or the entity type is
     *     longer than a persistence id can be
     * @throws IllegalStateException if the journal's {@code slice-index} is off
     */
    @Override
    public <Event> Source<org.apache.pekko.persistence.query.typed.EventEnvelope<Event>, NotUsed> eventsBySlices(
            String entityType, int minSlice, int maxSlice, Offset offset) {
        return bySlices(entityType, minSlice, maxSlice, offset, true);
    }

    /** What {@link #eventsBySlices} delivers up to what was stored when the query started; then it completes. */
    @Override
    public <Event> Source<org.apache.pekko.persistence.query.typed.EventEnvelope<Event>, NotUsed>
            currentEventsBySlices(String entityType, int minSlice, int maxSlice, Offset offset) {
        return bySlices(entityType, minSlice, maxSlice, offset, false);
    }

    @Override
    public int sliceForPersistenceId(String persistenceId) {
        return persistence.sliceForPersistenceId(persistenceId);
    }

    @Override
    public List<Pair<Integer, Integer>> sliceRanges(int numberOfRanges) {
        return persistence.getSliceRanges(numberOfRanges);
    }

    Persistence persistence() {
        return persistence;
    }

    /**
     * Where a query by slices is: the last ordering delivered or passed, the bound of a current query (or -1), and
     * whether it has read once (the first read checks that the index covers the query: {@link #checkIndexed}).
     */
    private record SliceCursor(long after, long bound, boolean started) {}

    private <Event> Source<org.apache.pekko.persistence.query.typed.EventEnvelope<Event>, NotUsed> bySlices(
            String entityType, int minSlice, int maxSlice, Offset offset, boolean live) {
        byte[] end = PluginFormat.sliceKeyEnd(entityType); // a too long entity type fails here, not in the stream
        if (sliceIndex != null) {
            throw new IllegalStateException(sliceIndex + " is off: the journal indexes no events by slice. Turn it on "
                    + "to query by slices (the index covers what is written from then on)");
        }
        if (minSlice < 0 || minSlice > maxSlice || maxSlice >= persistence.numberOfSlices()) {
            throw new IllegalArgumentException("slices " + minSlice + " to " + maxSlice + " are not a range of "
                    + "Pekko's slices 0 to " + (persistence.numberOfSlices() - 1) + ": sliceRanges(n) gives n such ranges");
        }
        long after = PolledSource.after(offset, -1, "the Toboggan read journal's slice offsets are Sequence (an "
                + "event's ordering) or NoOffset");
        return polled(new SliceCursor(after, -1, false), cursor -> {
            if (!cursor.started()) {
                checkIndexed(cursor.after()); // once: the journal writes its start before it writes events
            }
            long highest = writes.applied(); // not HIGHEST_ID: batches of untagged events do not write it
            long bound = live ? highest : cursor.bound() >= 0 ? cursor.bound() : highest;
            List<org.apache.pekko.persistence.query.typed.EventEnvelope<Event>> events = new ArrayList<>();
            long last = cursor.after();
            int scanned = 0;
            if (last < bound) {
                Iterator<Map.Entry<byte[], byte[]>> runs = tree.range(PluginFormat.sliceKey(entityType, last + 1),
                        bound == Long.MAX_VALUE ? end : PluginFormat.sliceKey(entityType, bound + 1));
                while (scanned < maxBufferSize && runs.hasNext()) {
                    Map.Entry<byte[], byte[]> entry = runs.next();
                    scanned++;
                    PluginFormat.SliceEntry run = PluginFormat.decodeSliceValue(entry.getValue());
                    if (run.slice() >= minSlice && run.slice() <= maxSlice) {
                        byte[] stored = tree.get(PluginFormat.eventKey(run.numericId(), run.lastSequenceNr()));
                        for (PluginFormat.StoredEvent event : stored == null ? List.<PluginFormat.StoredEvent>of()
                                : PluginFormat.decodeEventRun(stored)) { // null: deleted since the entry was read
                            if (event.ordering() > last) { // else delivered before: a query resumed inside the run
                                PersistentRepr repr = PluginFormat.decodeEvent(serialization, event);
                                @SuppressWarnings("unchecked")
                                Event payload = (Event) repr.payload();
                                events.add(org.apache.pekko.persistence.query.typed.EventEnvelope.create(
                                        Sequence.apply(event.ordering()), repr.persistenceId(), repr.sequenceNr(),
                                        payload, repr.timestamp(), entityType, run.slice()));
                            }
                        }
                    }
                    last = PluginFormat.sliceKeyOrdering(entry.getKey());
                }
            }
            boolean caughtUp = scanned < maxBufferSize;
            if (caughtUp) {
                // Entries up to the bound are all visible; later ones will have higher orderings.
                last = Math.max(last, bound);
            }
            return new PolledSource.Chunk<>(new SliceCursor(last, bound, true), events, caughtUp, caughtUp && !live);
        }, live);
    }

    /**
     * Throws if events after ordering {@code after} may be missing from the slice index: the tree holds events
     * written before the journal indexed them ({@link PluginFormat#SLICE_INDEX_FROM}).
     */
    private void checkIndexed(long after) {
        byte[] value = tree.get(PluginFormat.sliceIndexFromKey());
        if (value == null) {
            if (tree.range(new byte[] {PluginFormat.EVENT}, new byte[] {PluginFormat.EVENT + 1}).hasNext()) {
                throw new IllegalStateException("the journal tree in " + db.directory() + " holds events written "
                        + "before Toboggan indexed events by slice, and its journal has not started since: start the "
                        + "journal (a persistent actor's recovery starts it) to begin the index");
            }
            return;
        }
        long from = PluginFormat.decodeU64(value);
        if (from > 0 && after < from) {
            throw new IllegalStateException("the journal tree in " + db.directory() + " holds events written before "
                    + "Toboggan indexed events by slice; those with orderings below " + from + " are not in the index. "
                    + "Query by slices from Sequence(" + from + ") for the events written since, or by tag");
        }
    }

    // ---------------------------------------------------------------- one event

    /**
     * The time event {@code sequenceNr} of {@code persistenceId} was written (its {@code PersistentRepr}'s
     * timestamp), or empty if there is no such event (never written, or deleted). Read on the journal's
     * {@code replay-dispatcher}.
     */
    @Override
    public CompletionStage<Optional<Instant>> timestampOf(String persistenceId, long sequenceNr) {
        byte[] key = PluginFormat.persistenceIdKey(persistenceId); // a too long id fails here
        return CompletableFuture.supplyAsync(() -> storedEvent(key, sequenceNr)
                .map(event -> Instant.ofEpochMilli(PluginFormat.decodeEvent(serialization, event).timestamp())),
                replayExecutor);
    }

    /**
     * Event {@code sequenceNr} of {@code persistenceId} as {@link #eventsBySlices} delivers it (its ordering as
     * its offset), whether or not it is durable yet; fails with a {@link NoSuchElementException} if there is no
     * such event. Read on the journal's {@code replay-dispatcher}.
     */
    @Override
    public <Event> CompletionStage<org.apache.pekko.persistence.query.typed.EventEnvelope<Event>> loadEnvelope(
            String persistenceId, long sequenceNr) {
        byte[] key = PluginFormat.persistenceIdKey(persistenceId); // a too long id fails here
        return CompletableFuture.supplyAsync(() -> {
            PluginFormat.StoredEvent event = storedEvent(key, sequenceNr).orElseThrow(() -> new NoSuchElementException(
                    "event " + sequenceNr + " of '" + persistenceId + "' is not in the journal (never written, or deleted)"));
            PersistentRepr repr = PluginFormat.decodeEvent(serialization, event);
            @SuppressWarnings("unchecked")
            Event payload = (Event) repr.payload();
            return org.apache.pekko.persistence.query.typed.EventEnvelope.create(Sequence.apply(event.ordering()),
                    persistenceId, sequenceNr, payload, repr.timestamp(), PluginFormat.entityTypeOf(persistenceId),
                    persistence.sliceForPersistenceId(persistenceId));
        }, replayExecutor);
    }

    /** The stored event {@code sequenceNr} of the persistence id whose entry's key is {@code persistenceIdKey}. */
    private Optional<PluginFormat.StoredEvent> storedEvent(byte[] persistenceIdKey, long sequenceNr) {
        byte[] value = tree.get(persistenceIdKey);
        if (value == null) {
            return Optional.empty();
        }
        PersistenceIdEntry entry = PluginFormat.decodePersistenceIdValue(value);
        if (entry.isTombstone() || sequenceNr < 1 || sequenceNr > entry.highestSequenceNr()) {
            return Optional.empty();
        }
        return Optional.ofNullable(new EventRuns.Finder(tree).find(entry.numericId(), sequenceNr));
    }

    // ---------------------------------------------------------------- persistence ids

    /**
     * Every persistence id the journal holds, including those whose events were all deleted (the journal
     * keeps their highest sequence number), in UTF-8 byte order, each once; then, live, each persistence id
     * that gets its first event (or its first after all were deleted) once it is durable, unless it was
     * delivered before. A persistence id created and emptied again before the query gets to it may be left
     * out. The ids delivered are kept in memory for the life of the stream, to deliver each once.
     */
    @Override
    public Source<String, NotUsed> persistenceIds() {
        return Source.lazySource(() -> {
            Set<String> delivered = new HashSet<>();
            long createdAfter = highestId(); // every id created up to this is in the scan below
            return allPersistenceIds().map(id -> {
                delivered.add(id);
                return id;
            }).concat(polled(createdAfter, after -> {
                long bound = highestId();
                List<String> ids = new ArrayList<>();
                long last = after;
                int scanned = 0;
                if (after < bound) {
                    Iterator<Map.Entry<byte[], byte[]>> created = tree.range(PluginFormat.numericIdKey(after + 1),
                            bound == Long.MAX_VALUE ? new byte[] {PluginFormat.PERSISTENCE_ID_BY_NUMERIC_ID + 1}
                                    : PluginFormat.numericIdKey(bound + 1));
                    while (scanned < maxBufferSize && created.hasNext()) {
                        Map.Entry<byte[], byte[]> entry = created.next();
                        scanned++;
                        last = PluginFormat.numericIdOf(entry.getKey());
                        String id = PluginFormat.decodeNumericIdValue(entry.getValue());
                        if (delivered.add(id)) {
                            ids.add(id);
                        }
                    }
                }
                boolean caughtUp = scanned < maxBufferSize;
                return new PolledSource.Chunk<>(caughtUp ? Math.max(last, bound) : last, ids, caughtUp, false);
            }, true));
        }).mapMaterializedValue(ignored -> NotUsed.getInstance());
    }

    /** Every persistence id the journal holds now, including those whose events were all deleted: see {@link #persistenceIds()}. */
    @Override
    public Source<String, NotUsed> currentPersistenceIds() {
        return allPersistenceIds();
    }

    private Source<String, NotUsed> allPersistenceIds() {
        byte[] first = {PluginFormat.PERSISTENCE_ID};
        byte[] end = {PluginFormat.PERSISTENCE_ID + 1};
        return polled(first, from -> {
            Iterator<Map.Entry<byte[], byte[]>> entries = tree.range(from, end);
            List<String> ids = new ArrayList<>();
            byte[] next = from;
            while (ids.size() < maxBufferSize && entries.hasNext()) {
                byte[] key = entries.next().getKey();
                ids.add(PluginFormat.persistenceIdOf(key));
                next = PluginFormat.successor(key);
            }
            boolean caughtUp = ids.size() < maxBufferSize;
            return new PolledSource.Chunk<>(next, ids, caughtUp, caughtUp);
        }, false);
    }

    // ---------------------------------------------------------------- reading

    /**
     * A source that reads with {@code reader} on demand, from {@code start} ({@link PolledSource}): each chunk is
     * delivered once it is durable; a live source that has caught up waits for the journal's next durable write
     * (or the refresh interval) before it reads again.
     */
    private <S, T> Source<T, NotUsed> polled(S start, PolledSource.Reader<S, T> reader, boolean live) {
        return PolledSource.of(start, reader, live, progress);
    }

    /**
     * Completes once the journal's batches up to {@code batch} are durable: normally with the journal's own
     * flush of them; if that has not come within the refresh interval, with a flush of the store (which
     * fails if the store failed).
     */
    private CompletionStage<?> durable(long batch) {
        if (writes.durable() >= batch) {
            return CompletableFuture.completedFuture(null);
        }
        return writes.awaitDurable(batch, refreshInterval)
                .thenCompose(ignored -> writes.durable() >= batch ? CompletableFuture.completedFuture(null) : db.flushAsync());
    }

    /** {@link PluginFormat#HIGHEST_ID}, or 0 if the journal gave out no id yet. */
    private long highestId() {
        byte[] value = tree.get(PluginFormat.highestIdKey());
        return value == null ? 0 : PluginFormat.decodeU64(value);
    }

    private static long after(long sequenceNr) {
        return sequenceNr == Long.MAX_VALUE ? sequenceNr : sequenceNr + 1;
    }

    private static EventEnvelope envelope(Offset offset, PersistentRepr repr) {
        return new EventEnvelope(offset, repr.persistenceId(), repr.sequenceNr(), repr.payload(), repr.timestamp(),
                repr.metadata());
    }
}
