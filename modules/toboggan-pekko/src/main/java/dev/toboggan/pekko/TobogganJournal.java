package dev.toboggan.pekko;

import com.typesafe.config.Config;
import dev.toboggan.Batch;
import dev.toboggan.Db;
import dev.toboggan.Tree;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.AbstractActor;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.event.Logging;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.pattern.CircuitBreaker;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.DeleteMessagesFailure;
import org.apache.pekko.persistence.DeleteMessagesSuccess;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.Persistence;
import org.apache.pekko.persistence.PersistentEnvelope;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.journal.EventAdapter;
import org.apache.pekko.persistence.journal.EventAdapters;
import org.apache.pekko.persistence.journal.Tagged;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.Serialization$;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Pekko Persistence journal on a Toboggan tree ({@code pekko.persistence.journal.plugin = "toboggan.journal"}).
 * The key layout is {@link PluginFormat}'s.
 *
 * <p>The journal is an actor that speaks Pekko's {@link JournalProtocol} itself instead of extending
 * {@code AsyncWriteJournal}: it does what that trait does for a plugin (event adapters, the circuit breaker,
 * the replay filter, the order of the replies) without a future chain per call and without the resequencer
 * actor, whose second message per event cost about as much as a whole journal's work in the
 * {@code persistAsync} benchmark (docs/benchmarks.md). What it does, request by request:
 *
 * <p><b>{@code WriteMessages}</b> (on the journal actor's thread, one call at a time, in the order the
 * persistent actors sent them). Each {@link AtomicWrite} goes through the plugin's event adapters
 * ({@code toJournal}; an adapter that keeps the payload and gives no manifest leaves the repr as it is, as
 * Pekko's identity adapter does) and is serialized; one that cannot be adapted or serialized, or is too large,
 * is rejected alone ({@code WriteMessageRejected} per event) and nothing of it is stored. The others go into
 * ONE atomic {@link Batch} (events as event runs, see {@link PluginFormat}, the persistence ids' highest
 * sequence numbers, tag entries, slice entries), applied on this thread, so writes for a persistence id keep
 * their order and an {@code AtomicWrite} is all or none, also across a crash. Success is reported only once
 * {@link Db#flushAsync()} says the batch is durable; the store's flusher makes every batch written meanwhile
 * durable with the same fsync (group commit across persistence ids and the stores sharing the store). The
 * apply and the flush run under Pekko's {@link CircuitBreaker} with the plugin's {@code circuit-breaker}
 * settings, as {@code AsyncWriteJournal} runs its plugins' writes: a store error, or a flush not done within
 * {@code call-timeout}, fails the whole call ({@code WriteMessagesFailed}, then {@code WriteMessageFailure}
 * per event); {@code max-failures} failures in a row open the breaker, and calls then fail at once, storing
 * nothing, until {@code reset-timeout} has passed. A timed-out call's batch was applied and its flush goes
 * on: its events may be durable and replayed later, which is what a failure means in Pekko's contract
 * ("uncertain whether stored"); the persistent actor stops, and its next incarnation replays what is there.
 * Non-persistent envelopes ({@code defer}) are answered with {@code LoopMessageSuccess} in their place.
 * {@link WriteReplies} sends each call's replies, in the order the calls came, from whichever thread decides
 * the oldest outstanding call (a task on this actor's dispatcher once the flush completes): one message per
 * event, no hop through this actor's mailbox.
 *
 * <p><b>{@code ReplayMessages}</b> run off this actor, on the plugin's {@code replay-dispatcher}, so they never
 * hold up writes: the highest sequence number is read first (under the circuit breaker), events are read up
 * to {@code min(toSequenceNr, highest)} and at most {@code max} of them (nothing is read when that range is
 * empty), each stored event goes through the event adapters' {@code fromJournal} (one stored event may become
 * several, each with the stored event's sequence number) and the {@link ReplayFilter}, and the persistent
 * actor gets its {@code ReplayedMessage}s and then {@code RecoverySuccess(highest)}, or
 * {@code ReplayMessagesFailure(cause)}. A replay sees every write applied before this actor received the
 * request (the tree is read, not the disk), so a restarting actor does not reuse sequence numbers of its
 * previous incarnation's outstanding writes.
 *
 * <p><b>{@code DeleteMessagesTo}</b> removes events (and their tag and slice entries) in ascending order, on
 * this thread, in batches of about {@code delete-batch-size} keys (a run's are never split; the run holding the
 * last deleted event is rewritten with the events after it), so a crash in the middle leaves a deleted prefix,
 * never a hole; {@code DeleteMessagesSuccess(to)} once durable, or {@code DeleteMessagesFailure(cause, to)}.
 * Deleting up to the highest sequence number or past it also removes the persistence id's numeric id: all
 * that is left is a tombstone of the persistence id and its highest sequence number, which never goes back.
 *
 * <p>With {@code pekko.persistence.internal.publish-plugin-commands = on} (Pekko's own test hook), finished
 * replay and delete requests are published on the event stream, as {@code AsyncWriteJournal} does.
 *
 * <p><b>For the read journal</b> ({@link TobogganReadJournal}): a write batch also indexes new persistence
 * ids by numeric id and sets {@link PluginFormat#HIGHEST_ID} (see {@link PluginFormat}); each batch is
 * numbered in {@link JournalWrites} before it is applied and reported there once its flush completes, which
 * is what wakes live queries and tells every query that what it read is durable.
 *
 * <p>Confinement: everything but {@link #tagIds}, {@link #replies} and the replays' reads is the journal actor's.
 * {@link #tagIds} is a cache of {@link PluginFormat#TAG} entries, written on the journal actor's thread after
 * the batch that stores a new tag is applied; readers on other threads only read it.
 */
public final class TobogganJournal extends AbstractActor {
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
    private final String configPath;
    private final CircuitBreaker breaker;
    private final ReplayFilter.Settings replayFilter;
    private final Executor replayExecutor;
    /** Where write replies are sent from: this actor's dispatcher (see {@link #write}). */
    private final Executor replyExecutor;
    private final boolean publish;
    private final LoggingAdapter log;
    private final WriteReplies replies;
    /** Extended: the serialization's transport-information scope ({@link #write}) takes one. */
    private final ExtendedActorSystem system;
    /** Gives a persistence id's slice. */
    private final Persistence persistence;
    /** Whether event runs get {@link PluginFormat#BY_SLICE} entries ({@code slice-index}). */
    private final boolean sliceIndex;
    /** The plugin's event adapters, looked up on first use (the plugin's registration finishes after this constructor). */
    private volatile EventAdapters adapters;

    public TobogganJournal(Config config, String configPath) {
        this.system = (ExtendedActorSystem) context().system();
        this.persistence = Persistence.get(system);
        this.db = PekkoStores.get(system).store(config.getString("store"));
        this.tree = db.tree(PluginSettings.treeName(config, configPath));
        this.serialization = SerializationExtension.get(system);
        this.deleteBatchSize = PluginSettings.positiveInt(config, configPath, "delete-batch-size");
        this.writes = PekkoStores.get(system).journalWrites(db, PluginSettings.treeName(config, configPath));
        this.configPath = configPath;
        this.breaker = CircuitBreaker.create(system.scheduler(),
                PluginSettings.positiveInt(config, configPath, "circuit-breaker.max-failures"),
                config.getDuration("circuit-breaker.call-timeout"), config.getDuration("circuit-breaker.reset-timeout"));
        this.replayFilter = ReplayFilter.Settings.from(config, configPath);
        this.replayExecutor = system.dispatchers().lookup(config.getString("replay-dispatcher"));
        this.replyExecutor = context().dispatcher();
        Config persistence = system.settings().config().getConfig("pekko.persistence");
        // Pekko's own test hook, read as Pekko reads it: absent from reference.conf, off unless set.
        this.publish = persistence.hasPath("internal.publish-plugin-commands")
                && persistence.getBoolean("internal.publish-plugin-commands");
        this.log = Logging.getLogger(system, this);
        this.replies = new WriteReplies(self());
        refuseFirstLayout(tree, "the journal tree '" + PluginSettings.treeName(config, configPath) + "' in "
                + db.directory(), configPath);
        markHighestId(tree, db);
        this.sliceIndex = config.getBoolean("slice-index");
        markSliceIndexStart(tree, db, sliceIndex);
    }

    @Override
    public Receive createReceive() {
        return receiveBuilder()
                .match(JournalProtocol.WriteMessages.class, this::write)
                .match(JournalProtocol.ReplayMessages.class, this::replay)
                .match(JournalProtocol.DeleteMessagesTo.class, this::delete)
                .build();
    }

    private EventAdapters adapters() {
        EventAdapters found = adapters;
        if (found == null) {
            found = Persistence.get(system).adaptersFor(configPath);
            adapters = found;
        }
        return found;
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
     * With the index {@code on}, gives a journal tree that has no {@link PluginFormat#SLICE_INDEX_FROM} yet its
     * first indexed ordering: 0 if it holds no events (everything it will hold is indexed), else one above
     * every ordering given so far (its events were written without slice entries). With the index off,
     * removes the key: the events written from now on get no slice entries.
     */
    static void markSliceIndexStart(Tree tree, Db db, boolean on) {
        if (!on) {
            tree.remove(PluginFormat.sliceIndexFromKey());
        } else if (tree.get(PluginFormat.sliceIndexFromKey()) == null) {
            boolean holdsEvents = tree.range(new byte[] {PluginFormat.EVENT}, new byte[] {PluginFormat.EVENT + 1})
                    .hasNext();
            tree.insert(PluginFormat.sliceIndexFromKey(), PluginFormat.u64Value(holdsEvents ? db.generateId() : 0));
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

    private void write(JournalProtocol.WriteMessages request) {
        WriteReplies.Call call = new WriteReplies.Call(request);
        replies.add(call); // before any outcome can arrive: the replies keep the order of the calls
        List<Exception> rejections = new ArrayList<>();
        Map<String, Long> newTags = new HashMap<>();
        Prepared prepared;
        try {
            // One transport-information scope for the whole call (ActorRefs in payloads serialize with the
            // system's address), not one per event as Serialization.serialize sets and restores it.
            prepared = Serialization$.MODULE$.withTransportInformation(system,
                    () -> prepare(request, rejections, newTags));
        } catch (RuntimeException e) {
            call.failed(e);
            replies.drain();
            return;
        }
        Batch batch = prepared.batch();
        if (batch.isEmpty()) { // nothing to store: only rejections and non-persistent envelopes
            call.stored(rejections);
            replies.drain();
            return;
        }
        // The replies are sent from a thread of this actor's dispatcher, not from the flusher's thread that
        // completes the flush: a call's thousands of replies would hold up the store's next flush for every
        // other writer. One task per call costs nothing measurable (docs/benchmarks.md, sessions 6 and 7).
        long highestOrdering = prepared.highestOrdering();
        breaker.callWithCircuitBreakerCS(() -> applyAndFlush(batch, newTags, highestOrdering)).whenCompleteAsync((stable, failure) -> {
            if (failure == null) {
                call.stored(rejections);
            } else {
                call.failed(cause(failure));
            }
            replies.drain();
        }, replyExecutor);
    }

    /**
     * The batch storing every {@link AtomicWrite} of {@code request} that can be adapted and serialized; for
     * each {@code AtomicWrite}, in order, adds to {@code rejections} null if it is in the batch or the reason
     * it is not; puts the tags it gives new ids to in {@code newTags}. Reads the tree but changes nothing.
     */
    private Prepared prepare(JournalProtocol.WriteMessages request, List<Exception> rejections,
            Map<String, Long> newTags) {
        Batch batch = new Batch();
        // Per persistence id of the call, in the order of their first write; consecutive writes of one id
        // (the usual call) find theirs in `last` without a lookup.
        Map<String, PendingWrites> pending = new LinkedHashMap<>();
        PendingWrites last = null;
        long highestId = 0; // of the numeric ids and tagged events' orderings this call gives out
        long highestOrdering = 0;
        for (PersistentEnvelope envelope : CollectionConverters.asJava(request.messages())) {
            if (!(envelope instanceof AtomicWrite write)) {
                continue; // NonPersistentRepr: answered in its place, never stored
            }
            List<EncodedEvent> events;
            try {
                events = encode(write);
            } catch (Exception rejected) {
                // Only this write is refused; nothing of it has been added to the batch.
                rejections.add(rejected);
                continue;
            }
            PendingWrites writes = last != null && last.persistenceId.equals(write.persistenceId()) ? last
                    : pending.get(write.persistenceId());
            if (writes == null) {
                PersistenceIdEntry entry = entry(write.persistenceId());
                if (entry.isTombstone()) { // a new numeric id; an older one must not lower HIGHEST_ID
                    entry = newEntry(write.persistenceId(), entry, batch);
                    highestId = Math.max(highestId, entry.numericId());
                }
                writes = new PendingWrites(write.persistenceId(), entry);
                pending.put(write.persistenceId(), writes);
            }
            last = writes;
            for (EncodedEvent event : events) {
                long[] tags = NO_TAGS;
                if (!event.tags.isEmpty()) {
                    tags = new long[event.tags.size()];
                    for (int i = 0; i < tags.length; i++) {
                        tags[i] = tagId(event.tags.get(i), newTags, batch);
                    }
                }
                writes.events.add(new PendingEvent(event, tags));
            }
            writes.highestSequenceNr = Math.max(writes.highestSequenceNr, write.highestSequenceNr());
            rejections.add(null);
        }
        // Once per persistence id and call, however many of its writes the call holds. Its events are given
        // their orderings here, one persistence id after the other, so that a run's orderings are consecutive
        // (PluginFormat: "orderings and the slice index").
        for (PendingWrites writes : pending.values()) {
            long numericId = writes.entry.numericId();
            List<PluginFormat.StoredEvent> stored = new ArrayList<>(writes.events.size());
            for (PendingEvent pendingEvent : writes.events) {
                EncodedEvent event = pendingEvent.event();
                long ordering = db.generateId();
                highestOrdering = ordering;
                if (pendingEvent.tagIds().length > 0) {
                    highestId = ordering;
                }
                for (long tagId : pendingEvent.tagIds()) {
                    batch.insert(PluginFormat.taggedKey(tagId, ordering),
                            PluginFormat.taggedValue(numericId, event.sequenceNr));
                }
                stored.add(new PluginFormat.StoredEvent(event.sequenceNr, ordering, pendingEvent.tagIds(),
                        event.serializerId, event.repr));
            }
            insertRuns(batch, writes.persistenceId,
                    sliceIndex ? persistence.sliceForPersistenceId(writes.persistenceId) : NO_SLICE, numericId, stored);
            batch.insert(PluginFormat.persistenceIdKey(writes.persistenceId), PluginFormat.persistenceIdValue(
                    new PersistenceIdEntry(numericId, writes.highestSequenceNr)));
        }
        if (!batch.isEmpty() && highestId > 0) {
            batch.insert(PluginFormat.highestIdKey(), PluginFormat.u64Value(highestId));
        }
        return new Prepared(batch, highestOrdering);
    }

    /** A write call's batch and the highest ordering it gives out (0 if none). */
    private record Prepared(Batch batch, long highestOrdering) {}

    /**
     * Applies {@code batch} (on the journal actor's thread: the circuit breaker calls this at once, or not at
     * all when open) and completes once it is durable; fails at once if the store refuses it, nothing of it
     * applied. {@code newTags}, the tags the batch stores, are cached once it is applied, and its highest
     * ordering is reported to {@link JournalWrites#applied(long)}.
     */
    private CompletionStage<Long> applyAndFlush(Batch batch, Map<String, Long> newTags, long highestOrdering) {
        long batchNumber = writes.startBatch();
        try {
            tree.applyBatch(batch);
            writes.applied(highestOrdering);
        } catch (RuntimeException e) {
            // Nothing of the batch was applied; once a flush covers the batches before it, so is its number.
            flushed(() -> writes.durable(batchNumber));
            return CompletableFuture.failedFuture(e);
        }
        tagIds.putAll(newTags);
        return flushed(() -> writes.durable(batchNumber));
    }

    /**
     * Flushes the store; once everything applied so far is durable, runs {@code durable} and completes. A store
     * that has failed refuses the flush at once: the stage then fails with its error.
     */
    private CompletionStage<Long> flushed(Runnable durable) {
        try {
            return db.flushAsync().thenApply(stable -> {
                durable.run();
                return stable;
            });
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** The exception a failed stage reports, unwrapped from the wrappers completion stages add. */
    private static Throwable cause(Throwable failure) {
        Throwable cause = failure;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    /** The slice {@link #insertRuns} is given when the journal writes no slice entries. */
    private static final int NO_SLICE = -1;

    /**
     * Adds {@code events} (one persistence id's, in order) to {@code batch} as runs of about
     * {@link PluginFormat#RUN_TARGET_BYTES}, each with its slice entry unless {@code slice} is {@link #NO_SLICE}.
     */
    private static void insertRuns(Batch batch, String persistenceId, int slice, long numericId,
            List<PluginFormat.StoredEvent> events) {
        String entityType = PluginFormat.entityTypeOf(persistenceId);
        List<PluginFormat.StoredEvent> run = new ArrayList<>();
        int runBytes = PluginFormat.RUN_HEADER_LENGTH;
        for (PluginFormat.StoredEvent event : events) {
            if (!run.isEmpty() && runBytes + event.encodedLength() > PluginFormat.RUN_TARGET_BYTES) {
                insertRun(batch, entityType, slice, numericId, run);
                run = new ArrayList<>();
                runBytes = PluginFormat.RUN_HEADER_LENGTH;
            }
            run.add(event);
            runBytes += event.encodedLength();
        }
        if (!run.isEmpty()) {
            insertRun(batch, entityType, slice, numericId, run);
        }
    }

    private static void insertRun(Batch batch, String entityType, int slice, long numericId,
            List<PluginFormat.StoredEvent> run) {
        PluginFormat.StoredEvent last = run.get(run.size() - 1);
        batch.insert(PluginFormat.eventKey(numericId, last.sequenceNr()), PluginFormat.eventRunValue(run));
        if (slice != NO_SLICE) {
            batch.insert(PluginFormat.sliceKey(entityType, last.ordering()),
                    PluginFormat.sliceValue(slice, numericId, last.sequenceNr()));
        }
    }

    private static final long[] NO_TAGS = {};

    /** What one call stores for one persistence id: its entry before the call, its events, its new highest. */
    private static final class PendingWrites {
        final String persistenceId;
        final PersistenceIdEntry entry;
        final List<PendingEvent> events = new ArrayList<>();
        long highestSequenceNr;

        PendingWrites(String persistenceId, PersistenceIdEntry entry) {
            this.persistenceId = persistenceId;
            this.entry = entry;
            this.highestSequenceNr = entry.highestSequenceNr();
        }
    }

    /** An event ready to store: its sequence number, tags and serialized {@link PersistentRepr}. */
    private record EncodedEvent(long sequenceNr, List<String> tags, int serializerId, byte[] repr) {}

    /** An event ready to store with the ids of its tags, waiting for its ordering. */
    private record PendingEvent(EncodedEvent event, long[] tagIds) {}

    /**
     * Adapts ({@code toJournal}) and serializes every event of {@code write} (the payload unwrapped from
     * {@link Tagged}, its tags kept apart), in the compact layout where it can be
     * ({@link PluginFormat#COMPACT_REPR}), or throws naming what is wrong with it. The repr's sender is never
     * stored (it would be stale on replay).
     */
    private List<EncodedEvent> encode(AtomicWrite write) {
        byte[] persistenceId = persistenceIds.utf8(write.persistenceId());
        if (persistenceId.length > PluginFormat.MAX_PERSISTENCE_ID_LENGTH) {
            PluginFormat.persistenceIdKey(write.persistenceId()); // throws, naming the limit
        }
        List<EncodedEvent> events = new ArrayList<>(write.size());
        for (PersistentRepr written : CollectionConverters.asJava(write.payload())) {
            PersistentRepr repr = toJournal(written);
            List<String> tags = List.of();
            Object payload = repr.payload();
            if (payload instanceof Tagged tagged) {
                tags = new ArrayList<>(CollectionConverters.asJava(tagged.tags()));
                tags.forEach(PluginFormat::tagKey);
                payload = tagged.payload();
            }
            int serializerId;
            byte[] bytes;
            if (repr.metadata().isEmpty() && !repr.deleted()) {
                Serializer serializer = serialization.findSerializerFor(payload);
                byte[] payloadBytes = serializer.toBinary(payload); // in write's transport-information scope
                bytes = PluginFormat.compactRepr(serializer.identifier(),
                        utf8(Serializers.manifestFor(serializer, payload)), payloadBytes, repr.timestamp(),
                        utf8(repr.manifest()), persistenceId, writerUuids.utf8(repr.writerUuid()));
                serializerId = PluginFormat.COMPACT_REPR;
            } else {
                // What the compact layout does not hold: Pekko's serializer of the whole repr keeps it.
                PersistentRepr stored = repr.update(repr.sequenceNr(), repr.persistenceId(), repr.deleted(),
                        ActorRef.noSender(), repr.writerUuid()).withPayload(payload);
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

    /**
     * {@code repr} as the plugin's event adapter for its payload stores it. An adapter that keeps the payload
     * and names no manifest (the identity adapter, or a read-only one) leaves the repr as it is, its manifest
     * included, as Pekko's {@code AsyncWriteJournal} does.
     */
    private PersistentRepr toJournal(PersistentRepr repr) {
        Object payload = repr.payload();
        EventAdapter adapter = adapters().get(payload.getClass());
        Object adapted = adapter.toJournal(payload);
        String manifest = adapter.manifest(payload);
        if (adapted == payload && manifest.isEmpty()) {
            return repr;
        }
        return repr.withPayload(adapted).withManifest(manifest);
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
     * A new entry of {@code persistenceId}, whose stored entry is the tombstone (or absence) {@code entry}: a new
     * numeric id, indexed ({@link PluginFormat#PERSISTENCE_ID_BY_NUMERIC_ID}) in {@code batch}.
     */
    private PersistenceIdEntry newEntry(String persistenceId, PersistenceIdEntry entry, Batch batch) {
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

    private void delete(JournalProtocol.DeleteMessagesTo request) {
        ActorRef actor = request.persistentActor();
        long to = request.toSequenceNr();
        breaker.callWithCircuitBreakerCS(() -> deleteTo(request.persistenceId(), to)).whenComplete((stable, failure) -> {
            actor.tell(failure == null ? new DeleteMessagesSuccess(to) : new DeleteMessagesFailure(cause(failure), to),
                    replies.journal());
            if (publish) {
                system.eventStream().publish(request);
            }
        });
    }

    /**
     * Deletes the events of {@code persistenceId} up to {@code toSequenceNr} (on the journal actor's thread)
     * and completes once that is durable.
     */
    private CompletionStage<Long> deleteTo(String persistenceId, long toSequenceNr) {
        try {
            PersistenceIdEntry entry = entry(persistenceId);
            if (entry.isTombstone()) {
                return CompletableFuture.completedFuture(0L);
            }
            long upTo = Math.min(toSequenceNr, entry.highestSequenceNr());
            String entityType = PluginFormat.entityTypeOf(persistenceId);
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
                    long lastOrdering = events.get(events.size() - 1).ordering();
                    if (lastOrdering != 0) { // else written before the slice index: it has no entry (nor, if
                        // written with the index off, does this one: removing a missing key changes nothing)
                        batch.remove(PluginFormat.sliceKey(entityType, lastOrdering));
                    }
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
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        return flushed(() -> { });
    }

    // ---------------------------------------------------------------- replays

    private void replay(JournalProtocol.ReplayMessages request) {
        ActorRef actor = request.persistentActor();
        breaker.callWithCircuitBreakerCS(() -> CompletableFuture.supplyAsync(
                        () -> entry(request.persistenceId()), replayExecutor))
                .thenApplyAsync(entry -> {
                    long toSequenceNr = Math.min(request.toSequenceNr(), entry.highestSequenceNr());
                    if (toSequenceNr > 0 && request.fromSequenceNr() <= toSequenceNr) {
                        replayEvents(entry, request.fromSequenceNr(), toSequenceNr, request.max(), actor);
                    }
                    return entry.highestSequenceNr();
                }, replayExecutor)
                .whenComplete((highest, failure) -> {
                    actor.tell(failure == null ? new JournalProtocol.RecoverySuccess(highest)
                            : new JournalProtocol.ReplayMessagesFailure(cause(failure)), replies.journal());
                    if (publish) {
                        system.eventStream().publish(request);
                    }
                });
    }

    /**
     * Sends {@code actor} the events of {@code entry} from {@code fromSequenceNr} to {@code toSequenceNr}, at
     * most {@code max} stored ones, each adapted ({@code fromJournal}) and passed through the replay filter.
     *
     * @throws IllegalStateException if the replay filter (mode {@code fail}) finds events of two writers
     */
    private void replayEvents(PersistenceIdEntry entry, long fromSequenceNr, long toSequenceNr, long max,
            ActorRef actor) {
        if (entry.isTombstone() || max <= 0) {
            return;
        }
        ReplayFilter filter = new ReplayFilter(replayFilter, actor, log);
        EventAdapters adapters = adapters();
        Iterator<PluginFormat.StoredEvent> events = EventRuns.from(tree, entry.numericId(), fromSequenceNr);
        long replayed = 0;
        while (replayed < max && events.hasNext()) {
            PluginFormat.StoredEvent event = events.next();
            if (event.sequenceNr() > toSequenceNr) {
                break;
            }
            replayed++;
            PersistentRepr stored = PluginFormat.decodeEvent(serialization, event);
            if (stored.deleted()) {
                continue; // the deleted flag of old Akka journals: never replayed
            }
            Object payload = stored.payload();
            for (Object adapted : CollectionConverters.asJava(
                    adapters.get(payload.getClass()).fromJournal(payload, stored.manifest()).events())) {
                filter.accept(adapted == payload ? stored : stored.withPayload(adapted));
            }
        }
        filter.finish();
    }

    private PersistenceIdEntry entry(String persistenceId) {
        byte[] value = tree.get(PluginFormat.persistenceIdKey(persistenceId));
        return value == null ? PersistenceIdEntry.ABSENT : PluginFormat.decodePersistenceIdValue(value);
    }
}
