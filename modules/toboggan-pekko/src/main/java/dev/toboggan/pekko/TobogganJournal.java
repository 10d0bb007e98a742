package dev.toboggan.pekko;

import com.typesafe.config.Config;
import dev.toboggan.Batch;
import dev.toboggan.Db;
import dev.toboggan.Tree;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.journal.Tagged;
import org.apache.pekko.persistence.journal.japi.AsyncWriteJournal;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.apache.pekko.dispatch.Futures;
import scala.concurrent.Future;
import scala.jdk.javaapi.CollectionConverters;
import scala.jdk.javaapi.FutureConverters;

/**
 * Pekko Persistence journal on a Toboggan tree ({@code pekko.persistence.journal.plugin = "toboggan.journal"}).
 * The key layout is {@link PluginFormat}'s.
 *
 * <p><b>Writes.</b> Pekko calls {@link #doAsyncWriteMessages} from the journal actor, one call at a time,
 * in the order the persistent actors sent their writes. Each call serializes every {@link AtomicWrite}
 * first; one that cannot be serialized (or is too large) is rejected alone and nothing of it is stored. The
 * others go into ONE atomic {@link Batch} (events, the persistence ids' highest sequence numbers, tag
 * entries), the events of each persistence id as a few event runs (see {@link PluginFormat}: one tree insert
 * per run of up to 64 KiB rather than one per event, which is what {@code persistAsync}'s large batches cost),
 * applied on the journal actor's thread, so writes for a persistence id keep their order and an
 * {@code AtomicWrite} is all or none, also across a crash. The reply waits for {@link Db#flushAsync()}:
 * success is reported only once the batch is durable, and the store's flusher makes every batch written
 * meanwhile durable with the same fsync (group commit across persistence ids and across the snapshot and
 * durable stores sharing the store). No thread waits for a disk here: the journal actor goes on with the
 * next call while the flush runs.
 *
 * <p><b>Deletes</b> remove events (and their tag entries) in ascending order, in batches of about
 * {@code delete-batch-size} keys (a run's are never split; the run holding the last deleted event is
 * rewritten with the events after it), so a crash in the middle leaves a deleted prefix, never a hole. Deleting up to
 * the highest sequence number or past it also removes the persistence id's numeric id: all that is left is
 * a tombstone of the persistence id and its highest sequence number, which never goes back.
 *
 * <p><b>Replays</b> read the tree (weakly consistent iteration, never blocking writers) on the thread Pekko
 * runs them on.
 *
 * <p><b>For the read journal</b> ({@link TobogganReadJournal}): a write batch also indexes new persistence
 * ids by numeric id and sets {@link PluginFormat#HIGHEST_ID} (see {@link PluginFormat}); each batch is
 * numbered in {@link JournalWrites} before it is applied and reported there once its flush completes, which
 * is what wakes live queries and tells every query that what it read is durable.
 *
 * <p>Confinement: {@link #tagIds} is a cache of {@link PluginFormat#TAG} entries, written on the journal
 * actor's thread after the batch that stores a new tag is applied; readers on other threads only read it.
 */
public final class TobogganJournal extends AsyncWriteJournal {
    private final Db db;
    private final Tree tree;
    private final Serialization serialization;
    private final int deleteBatchSize;
    /** Tells the live queries of this tree about new durable writes. */
    private final JournalWrites writes;
    /** The UTF-8 of the last persistence id and writer uuid encoded (journal actor thread only). */
    private final LastUtf8 persistenceIds = new LastUtf8();
    private final LastUtf8 writerUuids = new LastUtf8();
    /** Tag → tag id, for tags whose {@link PluginFormat#TAG} entry is stored. */
    private final Map<String, Long> tagIds = new ConcurrentHashMap<>();

    public TobogganJournal(Config config, String configPath) {
        this.db = PekkoStores.get(context().system()).store(config.getString("store"));
        this.tree = db.tree(PluginSettings.treeName(config, configPath));
        this.serialization = SerializationExtension.get(context().system());
        this.deleteBatchSize = PluginSettings.positiveInt(config, configPath, "delete-batch-size");
        this.writes = PekkoStores.get(context().system()).journalWrites(db, PluginSettings.treeName(config, configPath));
        refuseFirstLayout(tree, "the journal tree '" + PluginSettings.treeName(config, configPath) + "' in "
                + db.directory(), configPath);
        markHighestId(tree, db);
    }

    /**
     * Gives a journal tree written before {@link PluginFormat#HIGHEST_ID} existed one above every id in it
     * (ids only grow), so that the read journal reads all it holds; a tree that has the key, or holds
     * nothing, is left as it is.
     */
    static void markHighestId(Tree tree, Db db) {
        if (tree.get(PluginFormat.highestIdKey()) == null
                && tree.range(new byte[] {PluginFormat.PERSISTENCE_ID}, null).hasNext()) {
            tree.insert(PluginFormat.highestIdKey(), PluginFormat.u64Value(db.generateId()));
        }
    }

    /**
     * Throws if {@code tree} holds events of the first layout ({@link PluginFormat#SINGLE_EVENT}): read as
     * runs they would be garbage, and skipped they would be lost to replay. Changes nothing.
     */
    static void refuseFirstLayout(Tree tree, String where, String configPath) {
        if (tree.range(new byte[] {PluginFormat.SINGLE_EVENT}, new byte[] {PluginFormat.EVENT}).hasNext()) {
            throw new IllegalStateException(where + " holds events in the first layout (one per entry, prefix 0x20),"
                    + " which this version does not read; replay them with the version that wrote them, or give"
                    + " this journal another tree or store (" + configPath + ".tree, " + configPath + ".store)");
        }
    }

    // ---------------------------------------------------------------- writes

    @Override
    public Future<Iterable<Optional<Exception>>> doAsyncWriteMessages(Iterable<AtomicWrite> messages) {
        List<Optional<Exception>> results = new ArrayList<>();
        Batch batch = new Batch();
        Map<String, PersistenceIdEntry> entries = new LinkedHashMap<>();
        Map<String, List<PluginFormat.StoredEvent>> eventsOf = new HashMap<>();
        Map<String, Long> newTags = new HashMap<>();
        long highestId = 0; // of the numeric ids and orderings this call gives out
        try {
            for (AtomicWrite write : messages) {
                List<EncodedEvent> events;
                try {
                    events = encode(write);
                } catch (Exception rejected) {
                    // Only this write is refused; nothing of it has been added to the batch.
                    results.add(Optional.of(rejected));
                    continue;
                }
                PersistenceIdEntry entry = entries.get(write.persistenceId());
                if (entry == null) {
                    entry = liveEntry(write.persistenceId(), batch);
                    highestId = Math.max(highestId, entry.numericId());
                }
                List<PluginFormat.StoredEvent> stored =
                        eventsOf.computeIfAbsent(write.persistenceId(), id -> new ArrayList<>());
                for (EncodedEvent event : events) {
                    long ordering = 0;
                    long[] tags = new long[event.tags.size()];
                    if (!event.tags.isEmpty()) {
                        ordering = db.generateId();
                        highestId = ordering;
                        for (int i = 0; i < tags.length; i++) {
                            tags[i] = tagId(event.tags.get(i), newTags, batch);
                            batch.insert(PluginFormat.taggedKey(tags[i], ordering),
                                    PluginFormat.taggedValue(entry.numericId(), event.sequenceNr));
                        }
                    }
                    stored.add(new PluginFormat.StoredEvent(event.sequenceNr, ordering, tags, event.serializerId,
                            event.repr));
                }
                entry = new PersistenceIdEntry(entry.numericId(),
                        Math.max(entry.highestSequenceNr(), write.highestSequenceNr()));
                entries.put(write.persistenceId(), entry);
                results.add(Optional.empty());
            }
            // Once per persistence id and call, however many of its writes the call holds.
            entries.forEach((persistenceId, entry) -> {
                insertRuns(batch, entry.numericId(), eventsOf.get(persistenceId));
                batch.insert(PluginFormat.persistenceIdKey(persistenceId), PluginFormat.persistenceIdValue(entry));
            });
            if (batch.isEmpty()) {
                return Futures.successful(results);
            }
            if (highestId > 0) {
                batch.insert(PluginFormat.highestIdKey(), PluginFormat.u64Value(highestId));
            }
        } catch (RuntimeException e) {
            return Futures.failed(e);
        }
        long batchNumber = writes.startBatch();
        try {
            // A store failure fails the whole call: Pekko then fails every write of it.
            tree.applyBatch(batch);
        } catch (RuntimeException e) {
            // Nothing of the batch was applied; once a flush covers the batches before it, so is its number.
            db.flushAsync().thenRun(() -> writes.durable(batchNumber));
            return Futures.failed(e);
        }
        tagIds.putAll(newTags);
        Iterable<Optional<Exception>> done = results;
        return FutureConverters.asScala(db.flushAsync().thenApply(stable -> {
            writes.durable(batchNumber);
            return done;
        }));
    }

    /** Adds {@code events} (one persistence id's, in order) to {@code batch} as runs of about {@link PluginFormat#RUN_TARGET_BYTES}. */
    private static void insertRuns(Batch batch, long numericId, List<PluginFormat.StoredEvent> events) {
        List<PluginFormat.StoredEvent> run = new ArrayList<>();
        int runBytes = PluginFormat.RUN_HEADER_LENGTH;
        for (PluginFormat.StoredEvent event : events) {
            if (!run.isEmpty() && runBytes + event.encodedLength() > PluginFormat.RUN_TARGET_BYTES) {
                insertRun(batch, numericId, run);
                run = new ArrayList<>();
                runBytes = PluginFormat.RUN_HEADER_LENGTH;
            }
            run.add(event);
            runBytes += event.encodedLength();
        }
        if (!run.isEmpty()) {
            insertRun(batch, numericId, run);
        }
    }

    private static void insertRun(Batch batch, long numericId, List<PluginFormat.StoredEvent> run) {
        batch.insert(PluginFormat.eventKey(numericId, run.get(run.size() - 1).sequenceNr()),
                PluginFormat.eventRunValue(run));
    }

    /** An event ready to store: its sequence number, tags and serialized {@link PersistentRepr}. */
    private record EncodedEvent(long sequenceNr, List<String> tags, int serializerId, byte[] repr) {}

    /**
     * Serializes every event of {@code write} (the payload unwrapped from {@link Tagged}, its tags kept
     * apart), in the compact layout where it can be ({@link PluginFormat#COMPACT_REPR}), or throws naming
     * what is wrong with it.
     */
    private List<EncodedEvent> encode(AtomicWrite write) {
        byte[] persistenceId = persistenceIds.utf8(write.persistenceId());
        if (persistenceId.length > PluginFormat.MAX_PERSISTENCE_ID_LENGTH) {
            PluginFormat.persistenceIdKey(write.persistenceId()); // throws, naming the limit
        }
        List<EncodedEvent> events = new ArrayList<>(write.size());
        for (PersistentRepr repr : CollectionConverters.asJava(write.payload())) {
            List<String> tags = List.of();
            Object payload = repr.payload();
            if (payload instanceof Tagged tagged) {
                tags = new ArrayList<>(CollectionConverters.asJava(tagged.tags()));
                tags.forEach(PluginFormat::tagKey);
                payload = tagged.payload();
            }
            int serializerId;
            byte[] bytes;
            if (repr.metadata().isEmpty() && repr.sender() == null && !repr.deleted()) {
                Serializer serializer = serialization.findSerializerFor(payload);
                byte[] payloadBytes = serialization.serialize(payload).get(); // with the system's address for ActorRefs
                bytes = PluginFormat.compactRepr(serializer.identifier(),
                        utf8(Serializers.manifestFor(serializer, payload)), payloadBytes, repr.timestamp(),
                        utf8(repr.manifest()), persistenceId, writerUuids.utf8(repr.writerUuid()));
                serializerId = PluginFormat.COMPACT_REPR;
            } else {
                // What the compact layout does not hold: Pekko's serializer of the whole repr keeps it.
                PersistentRepr stored = payload == repr.payload() ? repr : repr.withPayload(payload);
                Serializer serializer = serialization.findSerializerFor(stored);
                bytes = serializer.toBinary(stored);
                serializerId = serializer.identifier();
            }
            if (bytes.length > PluginFormat.maxReprLength(tags.size())) {
                throw new IllegalArgumentException("event " + repr.sequenceNr() + " of '" + repr.persistenceId()
                        + "' is " + bytes.length + " bytes serialized; Toboggan keeps events of at most "
                        + PluginFormat.maxReprLength(tags.size()) + " bytes with " + tags.size() + " tags");
            }
            events.add(new EncodedEvent(repr.sequenceNr(), tags, serializerId, bytes));
        }
        return events;
    }

    private static final byte[] NO_BYTES = {};

    private static byte[] utf8(String s) {
        return s.isEmpty() ? NO_BYTES : s.getBytes(StandardCharsets.UTF_8);
    }

    /** The UTF-8 of the strings consecutive events share (persistence id, writer uuid): the last one is kept. */
    private static final class LastUtf8 {
        private String last;
        private byte[] bytes;

        byte[] utf8(String s) {
            if (!s.equals(last)) {
                bytes = TobogganJournal.utf8(s);
                last = s;
            }
            return bytes;
        }
    }

    /**
     * The entry of {@code persistenceId} with a numeric id: its current one, or a new one, indexed
     * ({@link PluginFormat#PERSISTENCE_ID_BY_NUMERIC_ID}) in {@code batch}.
     */
    private PersistenceIdEntry liveEntry(String persistenceId, Batch batch) {
        PersistenceIdEntry entry = entry(persistenceId);
        if (!entry.isTombstone()) {
            return entry;
        }
        PersistenceIdEntry created = new PersistenceIdEntry(db.generateId(), entry.highestSequenceNr());
        batch.insert(PluginFormat.numericIdKey(created.numericId()), PluginFormat.numericIdValue(persistenceId));
        return created;
    }

    private long tagId(String tag, Map<String, Long> newTags, Batch batch) {
        Long id = tagIds.get(tag);
        if (id == null) {
            id = newTags.get(tag);
        }
        if (id == null) {
            byte[] stored = tree.get(PluginFormat.tagKey(tag));
            if (stored != null) {
                id = PluginFormat.decodeU64(stored);
                tagIds.put(tag, id);
            } else {
                id = db.generateId();
                newTags.put(tag, id);
                batch.insert(PluginFormat.tagKey(tag), PluginFormat.u64Value(id));
            }
        }
        return id;
    }

    // ---------------------------------------------------------------- deletes

    @Override
    public Future<Void> doAsyncDeleteMessagesTo(String persistenceId, long toSequenceNr) {
        try {
            PersistenceIdEntry entry = entry(persistenceId);
            if (entry.isTombstone()) {
                return Futures.successful(null);
            }
            long upTo = Math.min(toSequenceNr, entry.highestSequenceNr());
            boolean deletesAll = toSequenceNr >= entry.highestSequenceNr();
            Iterator<Map.Entry<byte[], byte[]>> runs =
                    tree.range(PluginFormat.eventKey(entry.numericId(), 0), PluginFormat.eventKeyEnd(entry.numericId()));
            Batch batch = new Batch();
            while (runs.hasNext()) {
                Map.Entry<byte[], byte[]> run = runs.next();
                List<PluginFormat.StoredEvent> events = PluginFormat.decodeEventRun(run.getValue());
                List<PluginFormat.StoredEvent> kept = new ArrayList<>();
                for (PluginFormat.StoredEvent event : events) {
                    if (event.sequenceNr() > upTo) {
                        kept.add(event);
                    } else {
                        for (long tagId : event.tagIds()) {
                            batch.remove(PluginFormat.taggedKey(tagId, event.ordering()));
                        }
                    }
                }
                if (kept.isEmpty()) {
                    batch.remove(run.getKey());
                } else if (kept.size() < events.size()) {
                    batch.insert(run.getKey(), PluginFormat.eventRunValue(kept)); // same last sequence number
                }
                if (batch.size() >= deleteBatchSize) {
                    tree.applyBatch(batch);
                    batch = new Batch();
                }
                if (!kept.isEmpty()) {
                    break; // the runs after this one hold only later events
                }
            }
            if (deletesAll) {
                batch.remove(PluginFormat.numericIdKey(entry.numericId()));
                batch.insert(PluginFormat.persistenceIdKey(persistenceId), PluginFormat.persistenceIdValue(
                        new PersistenceIdEntry(PersistenceIdEntry.NONE, entry.highestSequenceNr())));
            }
            if (!batch.isEmpty()) {
                tree.applyBatch(batch);
            }
            return FutureConverters.asScala(db.flushAsync().thenApply(stable -> (Void) null));
        } catch (RuntimeException e) {
            return Futures.failed(e);
        }
    }

    // ---------------------------------------------------------------- replays

    @Override
    public Future<Void> doAsyncReplayMessages(String persistenceId, long fromSequenceNr, long toSequenceNr, long max,
            Consumer<PersistentRepr> replayCallback) {
        try {
            PersistenceIdEntry entry = entry(persistenceId);
            if (entry.isTombstone() || max <= 0 || fromSequenceNr > toSequenceNr) {
                return Futures.successful(null);
            }
            Iterator<PluginFormat.StoredEvent> events = EventRuns.from(tree, entry.numericId(), fromSequenceNr);
            long replayed = 0;
            while (replayed < max && events.hasNext()) {
                PluginFormat.StoredEvent event = events.next();
                if (event.sequenceNr() > toSequenceNr) {
                    break;
                }
                replayCallback.accept(PluginFormat.decodeEvent(serialization, event));
                replayed++;
            }
            return Futures.successful(null);
        } catch (RuntimeException e) {
            return Futures.failed(e);
        }
    }

    @Override
    public Future<Long> doAsyncReadHighestSequenceNr(String persistenceId, long fromSequenceNr) {
        try {
            return Futures.successful(entry(persistenceId).highestSequenceNr());
        } catch (RuntimeException e) {
            return Futures.failed(e);
        }
    }

    private PersistenceIdEntry entry(String persistenceId) {
        byte[] value = tree.get(PluginFormat.persistenceIdKey(persistenceId));
        return value == null ? PersistenceIdEntry.ABSENT : PluginFormat.decodePersistenceIdValue(value);
    }
}
