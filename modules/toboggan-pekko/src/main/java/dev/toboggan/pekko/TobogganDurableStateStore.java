package dev.toboggan.pekko;

import com.typesafe.config.Config;
import dev.toboggan.Db;
import dev.toboggan.TransactionalTree;
import dev.toboggan.Tree;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.LongFunction;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.persistence.query.DeletedDurableState;
import org.apache.pekko.persistence.query.DurableStateChange;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.persistence.query.UpdatedDurableState;
import org.apache.pekko.persistence.query.javadsl.DurableStateStorePagedPersistenceIdsQuery;
import org.apache.pekko.persistence.query.javadsl.DurableStateStoreQuery;
import org.apache.pekko.persistence.state.exception.DeleteRevisionException;
import org.apache.pekko.persistence.state.javadsl.DurableStateUpdateStore;
import org.apache.pekko.persistence.state.javadsl.GetObjectResult;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Pekko Persistence durable state store on a Toboggan tree ({@code pekko.persistence.state.plugin =
 * "toboggan.state"}; the Java API of {@link TobogganDurableStateStoreProvider}): one entry per persistence id,
 * holding the object's revision, its tag and the object as its Pekko serializer wrote it, and for a tagged
 * object an entry of its latest change by tag and offset, which {@link #changes} and {@link #currentChanges}
 * scan ({@link PluginFormat}).
 *
 * <p><b>Revisions</b> are the optimistic lock Pekko's {@code DurableStateBehavior} relies on: an upsert or a
 * delete of revision {@code r} succeeds only if the stored revision is {@code r - 1} (none stored counts as 0).
 * Each change of a tagged object (tagged before or after it) is one serializable transaction
 * ({@link Db#transaction}) that reads the entry, checks its revision and writes it with its tag entries; a change
 * of an untagged object is one compare-and-swap of its entry against the entry whose revision it checked (a
 * transaction that read the entry meanwhile fails its validation, so the two exclude each other). Of two writers
 * of one persistence id (a stale incarnation, say) exactly one wins and the other's future fails, storing
 * nothing. A delete with a revision keeps a deleted marker at that
 * revision: {@link #getObject} then returns no object and that revision, and revisions go on from it, so no
 * writer that saw the object before the delete can store over it. A delete of revision 0, or
 * {@link #deleteObject(String)}, removes the entry and its tag entry.
 *
 * <p><b>Offsets.</b> A tag's changes are numbered 1, 2, … by a counter entry of the tag that each tagged change
 * reads and increments in its transaction: tagged changes of one tag commit in offset order, so a query that
 * reads the counter and then scans up to it sees every change of the tag up to that offset (none can commit
 * below it later). An object's tag entry is replaced at each change, so a scan meets each object once, at its
 * latest change (as Pekko's JDBC and R2DBC stores report). One transaction of a tag runs at a time in this store
 * (a lock by the tag's hash, held around it): writers of a tag queue for its counter instead of conflicting on
 * it; writers of untagged objects contend on nothing but their own entries.
 *
 * <p>A change is reported once it is durable ({@link Db#flushAsync()}, group commit with every other writer of
 * the store); it is in the tree, and read by {@link #getObject}, from the moment the call returns, and queries
 * deliver what they read only once it is durable. An object that exists but cannot be deserialized fails the
 * read (and a query reaching it), naming it, rather than reading as absent. Any thread may call.
 */
public final class TobogganDurableStateStore implements DurableStateUpdateStore<Object>,
        DurableStateStoreQuery<Object>, DurableStateStorePagedPersistenceIdsQuery<Object> {
    private final Db db;
    private final String treeName;
    private final Tree tree;
    private final Serialization serialization;
    private final Duration refreshInterval;
    private final int maxBufferSize;
    /** Held by a tagged change around its transaction, by the tag's hash: see {@link #write}. */
    private final ReentrantLock[] tagLocks = new ReentrantLock[64];

    TobogganDurableStateStore(ExtendedActorSystem system, Config config, String configPath) {
        this.db = PekkoStores.get(system).store(config.getString("store"));
        this.treeName = PluginSettings.treeName(config, configPath);
        this.tree = db.tree(treeName);
        this.serialization = SerializationExtension.get(system);
        this.refreshInterval = PluginSettings.positiveDuration(config, configPath, "refresh-interval");
        this.maxBufferSize = PluginSettings.positiveInt(config, configPath, "max-buffer-size");
        for (int i = 0; i < tagLocks.length; i++) {
            tagLocks[i] = new ReentrantLock();
        }
    }

    @Override
    public CompletionStage<GetObjectResult<Object>> getObject(String persistenceId) {
        try {
            byte[] stored = tree.get(PluginFormat.stateKey(persistenceId));
            if (stored == null) {
                return CompletableFuture.completedFuture(new GetObjectResult<>(Optional.empty(), 0));
            }
            PluginFormat.StoredState state = PluginFormat.decodeStateValue(stored);
            Optional<Object> value = state.payload() == null ? Optional.empty()
                    : Optional.of(deserialize(persistenceId, state));
            return CompletableFuture.completedFuture(new GetObjectResult<>(value, state.revision()));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    @Override
    public CompletionStage<Done> upsertObject(String persistenceId, long revision, Object value, String tag) {
        try {
            if (revision < 1) {
                throw new IllegalArgumentException("revision " + revision + " of durable state '" + persistenceId
                        + "': revisions start at 1");
            }
            if (value == null) {
                throw new IllegalArgumentException("durable state '" + persistenceId + "' revision " + revision
                        + " is null: delete the object instead");
            }
            PluginFormat.Serialized payload = serialize(value);
            long size = PluginFormat.stateValueLength(tag == null ? "" : tag, payload);
            if (size > Tree.MAX_VALUE_LENGTH) {
                throw new IllegalArgumentException("durable state '" + persistenceId + "' revision " + revision + " is "
                        + size + " bytes serialized with its tag; Toboggan keeps values of at most "
                        + Tree.MAX_VALUE_LENGTH + " bytes");
            }
            write(persistenceId, revision, current -> tag == null ? "" : tag, payload,
                    stored -> new IllegalStateException(conflict("store", persistenceId, revision, stored)));
            return durable();
        } catch (Exception e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Removes the object and its revision: the next upsert of it is revision 1. */
    @Override
    @Deprecated
    public CompletionStage<Done> deleteObject(String persistenceId) {
        return deleteObject(persistenceId, 0);
    }

    /**
     * Marks the object deleted at {@code revision}, which must follow the stored one by 1 (else the future fails
     * with a {@link DeleteRevisionException} and nothing changes); revision 0 removes the entry, whatever it holds.
     */
    @Override
    public CompletionStage<Done> deleteObject(String persistenceId, long revision) {
        try {
            if (revision < 0) {
                throw new IllegalArgumentException("revision " + revision + " of durable state '" + persistenceId
                        + "': a delete's revision is 0 (remove the entry) or the revision the delete makes");
            }
            if (revision == 0) {
                remove(persistenceId);
            } else {
                // the marker keeps the object's tag: the tag's queries report the delete
                write(persistenceId, revision, current -> current == null ? "" : current.tag(), null,
                        stored -> new DeleteRevisionException(conflict("delete", persistenceId, revision, stored)));
            }
            return durable();
        } catch (Exception e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Stores revision {@code revision} of {@code persistenceId} ({@code payload}, or a deleted marker if
     * {@code null}) with the tag {@code tag} chooses from the entry stored now, if the stored revision is
     * {@code revision - 1} (none stored counts as 0): an object untagged before and after by a compare-and-swap of
     * its entry against the entry read, any other in one transaction that checks the revision, moves the
     * object's tag entry to the tag's next offset and counts that offset.
     *
     * @throws RuntimeException made by {@code conflict} of the revision stored if it is another: nothing was changed
     */
    private void write(String persistenceId, long revision, Function<PluginFormat.StoredState, String> tag,
            PluginFormat.Serialized payload, LongFunction<RuntimeException> conflict) {
        byte[] key = PluginFormat.stateKey(persistenceId);
        while (true) {
            byte[] read = tree.get(key);
            PluginFormat.StoredState current = stored(read);
            long stored = current == null ? 0 : current.revision();
            if (stored != revision - 1) {
                throw conflict.apply(stored);
            }
            String newTag = tag.apply(current);
            if (!newTag.isEmpty()) {
                // One transaction of a tag at a time in this store: they all read and increment its counter, and
                // run concurrently they would conflict and run again (16 writers of one tag: 9 % of the runs
                // dropped and 0.5 % of the transactions run alone, holding every writer of the store).
                ReentrantLock lock = tagLocks[Math.floorMod(newTag.hashCode(), tagLocks.length)];
                lock.lock();
                try {
                    writeInTransaction(key, persistenceId, revision, tag, payload, conflict);
                } finally {
                    lock.unlock();
                }
                return;
            }
            if (current != null && !current.tag().isEmpty()) {
                writeInTransaction(key, persistenceId, revision, tag, payload, conflict); // its tag entry goes
                return;
            }
            // Untagged before and after: one compare-and-swap of the entry, no transaction. A transaction of
            // another writer that read the entry meanwhile fails its validation and runs again, so the two ways
            // exclude each other as two transactions would.
            byte[] next = PluginFormat.stateValue(new PluginFormat.StoredState(revision, 0, System.currentTimeMillis(),
                    "", payload));
            if (tree.compareAndSwap(key, read, next).succeeded()) {
                return;
            }
        }
    }

    /** {@link #write}'s transaction. */
    private void writeInTransaction(byte[] key, String persistenceId, long revision,
            Function<PluginFormat.StoredState, String> tag, PluginFormat.Serialized payload,
            LongFunction<RuntimeException> conflict) {
        byte[] id = persistenceId.getBytes(StandardCharsets.UTF_8);
        db.transaction(tx -> {
            TransactionalTree states = tx.tree(treeName);
            PluginFormat.StoredState current = stored(states.get(key));
            long stored = current == null ? 0 : current.revision();
            if (stored != revision - 1) {
                throw conflict.apply(stored);
            }
            String newTag = tag.apply(current);
            if (current != null && !current.tag().isEmpty()) {
                states.remove(PluginFormat.stateByTagKey(current.tag(), current.offset()));
            }
            long offset = 0;
            if (!newTag.isEmpty()) {
                byte[] counter = PluginFormat.stateTagOffsetKey(newTag);
                byte[] last = states.get(counter);
                offset = (last == null ? 0 : PluginFormat.decodeU64(last)) + 1;
                states.insert(counter, PluginFormat.u64Value(offset));
                states.insert(PluginFormat.stateByTagKey(newTag, offset), id);
            }
            states.insert(key, PluginFormat.stateValue(new PluginFormat.StoredState(revision, offset,
                    System.currentTimeMillis(), newTag, payload)));
            return null;
        });
    }

    /** Removes the entry of {@code persistenceId} and its tag entry. */
    private void remove(String persistenceId) {
        byte[] key = PluginFormat.stateKey(persistenceId);
        db.transaction(tx -> {
            TransactionalTree states = tx.tree(treeName);
            PluginFormat.StoredState current = stored(states.remove(key));
            if (current != null && !current.tag().isEmpty()) {
                states.remove(PluginFormat.stateByTagKey(current.tag(), current.offset()));
            }
            return null;
        });
    }

    private static PluginFormat.StoredState stored(byte[] value) {
        return value == null ? null : PluginFormat.decodeStateValue(value);
    }

    private static String conflict(String what, String persistenceId, long revision, long stored) {
        return "cannot " + what + " revision " + revision + " of durable state '" + persistenceId + "': revision "
                + stored + " is stored, and a revision must follow the stored one by 1 (another writer of this "
                + "persistence id, or one that did not read the latest revision?); nothing was changed";
    }

    // ---------------------------------------------------------------- queries

    /**
     * The latest change of every object with {@code tag} after {@code offset} ({@code Sequence} of a change's
     * offset, or {@code NoOffset}), in offset order, each object once, up to the tag's last offset when the stream
     * starts; a deleted object is a {@link DeletedDurableState}. Each change is delivered once it is durable.
     *
     * @throws IllegalArgumentException if the offset is of another kind, or the tag too long
     */
    @Override
    public Source<DurableStateChange<Object>, NotUsed> currentChanges(String tag, Offset offset) {
        return changes(tag, offset, false);
    }

    /**
     * {@link #currentChanges}, then the changes made later, as they come: the query reads again every
     * {@code refresh-interval} once it has caught up. An object changed several times between two reads is
     * delivered once, at its latest change.
     */
    @Override
    public Source<DurableStateChange<Object>, NotUsed> changes(String tag, Offset offset) {
        return changes(tag, offset, true);
    }

    /**
     * The persistence ids of the stored objects after {@code afterId} (all, if empty), at most {@code limit}, in
     * UTF-8 byte order; an object deleted with a revision is listed while its marker is kept. The scan reads the
     * tree as it is when each id is reached (weakly consistent, as a tree iterator is) and holds no writer.
     *
     * @throws IllegalArgumentException if {@code limit} is under 1
     */
    @Override
    public Source<String, NotUsed> currentPersistenceIds(Optional<String> afterId, long limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit " + limit + ": it must be 1 or more");
        }
        byte[] from = afterId.map(id -> PluginFormat.successor(PluginFormat.stateKey(id)))
                .orElse(new byte[] {PluginFormat.STATE});
        byte[] to = {PluginFormat.STATE + 1};
        return Source.fromIterator(() -> tree.range(from, to)).map(entry -> PluginFormat.statePersistenceIdOfKey(
                entry.getKey())).take(limit);
    }

    /** Where a query is: the last offset delivered or passed, and the bound of a current query (-1: not read). */
    private record Cursor(long after, long bound) {}

    /**
     * A query's marks ({@link PolledSource}): what it read is made durable by a flush of the store, and a caught-up
     * live query reads again after {@code refresh-interval}.
     */
    private final PolledSource.Progress progress = new PolledSource.Progress() {
        @Override
        public long beforeRead() {
            return 0;
        }

        @Override
        public long afterRead() {
            return 0;
        }

        @Override
        public CompletionStage<?> durable(long afterRead) {
            return db.flushAsync();
        }

        @Override
        public CompletionStage<?> more(long beforeRead) {
            return CompletableFuture.runAsync(() -> { }, CompletableFuture.delayedExecutor(refreshInterval.toMillis(),
                    TimeUnit.MILLISECONDS));
        }
    };

    private Source<DurableStateChange<Object>, NotUsed> changes(String tag, Offset offset, boolean live) {
        byte[] counter = PluginFormat.stateTagOffsetKey(tag); // a too long tag fails here, not in the stream
        long after = PolledSource.after(offset, 0, "the Toboggan durable state store's offsets are Sequence (a "
                + "change's offset in its tag) or NoOffset");
        return PolledSource.of(new Cursor(after, -1), cursor -> read(tag, counter, cursor, live), live, progress);
    }

    /**
     * Reads up to {@code max-buffer-size} tag entries after the cursor, up to the bound (the tag's counter, read
     * first: every change up to it has committed), and keeps the changes still current.
     */
    private PolledSource.Chunk<Cursor, DurableStateChange<Object>> read(String tag, byte[] counter, Cursor cursor,
            boolean live) {
        long bound = cursor.bound();
        if (live || bound < 0) {
            byte[] last = tree.get(counter);
            bound = last == null ? 0 : PluginFormat.decodeU64(last);
        }
        List<DurableStateChange<Object>> changes = new ArrayList<>();
        long position = cursor.after();
        int scanned = 0;
        if (position < bound) {
            Iterator<Map.Entry<byte[], byte[]>> entries = tree.range(PluginFormat.stateByTagKey(tag, position + 1),
                    PluginFormat.stateByTagKey(tag, bound + 1));
            while (scanned < maxBufferSize && entries.hasNext()) {
                Map.Entry<byte[], byte[]> entry = entries.next();
                scanned++;
                position = PluginFormat.stateByTagOffset(entry.getKey());
                String persistenceId = PluginFormat.statePersistenceId(entry.getValue());
                PluginFormat.StoredState state = stored(tree.get(PluginFormat.stateKey(persistenceId)));
                if (state != null && state.offset() == position && state.tag().equals(tag)) { // else changed since
                    changes.add(change(persistenceId, state));
                }
            }
        }
        boolean caughtUp = scanned < maxBufferSize;
        if (caughtUp) {
            position = Math.max(position, bound);
        }
        return new PolledSource.Chunk<>(new Cursor(position, bound), changes, caughtUp, caughtUp && !live);
    }

    private DurableStateChange<Object> change(String persistenceId, PluginFormat.StoredState state) {
        Offset offset = Sequence.apply(state.offset());
        if (state.payload() == null) {
            return new DeletedDurableState<>(persistenceId, state.revision(), offset, state.timestamp());
        }
        return new UpdatedDurableState<>(persistenceId, state.revision(), deserialize(persistenceId, state), offset,
                state.timestamp());
    }

    private CompletionStage<Done> durable() {
        return db.flushAsync().thenApply(stable -> Done.getInstance());
    }

    private PluginFormat.Serialized serialize(Object object) throws Exception {
        return PluginFormat.Serialized.of(serialization, object);
    }

    private Object deserialize(String persistenceId, PluginFormat.StoredState state) {
        PluginFormat.Serialized payload = state.payload();
        try {
            return serialization.deserialize(payload.bytes(), payload.serializerId(), payload.manifest()).get();
        } catch (Exception e) { // Try.get rethrows what the serializer threw, checked exceptions included
            throw new StateUnreadableException("durable state '" + persistenceId + "' revision " + state.revision()
                    + " exists but cannot be read: " + e + ". Fix the serializer bindings (serializer id "
                    + payload.serializerId() + ", manifest '" + payload.manifest() + "')", e);
        }
    }

    /** A stored object could not be deserialized: the read fails rather than report no object. */
    public static final class StateUnreadableException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        StateUnreadableException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
