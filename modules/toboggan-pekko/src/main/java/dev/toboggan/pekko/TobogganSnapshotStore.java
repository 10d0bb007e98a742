package dev.toboggan.pekko;

import com.typesafe.config.Config;
import dev.toboggan.Batch;
import dev.toboggan.Db;
import dev.toboggan.Tree;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.persistence.SelectedSnapshot;
import org.apache.pekko.persistence.SnapshotMetadata;
import org.apache.pekko.persistence.SnapshotSelectionCriteria;
import org.apache.pekko.persistence.snapshot.japi.SnapshotStore;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import scala.Option;
import org.apache.pekko.dispatch.Futures;
import scala.concurrent.Future;
import scala.jdk.javaapi.FutureConverters;

/**
 * Pekko Persistence snapshot store on a Toboggan tree
 * ({@code pekko.persistence.snapshot-store.plugin = "toboggan.snapshot-store"}): one entry per snapshot,
 * keyed by persistence id, sequence number and timestamp ({@link PluginFormat}), so the newest snapshot
 * that matches a criteria is the first one a reverse range scan finds.
 *
 * <p>A save or delete is reported once it is durable ({@link Db#flushAsync()}, group commit with every
 * other writer of the store). A load returns the newest snapshot matching the criteria; if that one exists
 * but cannot be deserialized the load fails, naming it, instead of silently going back to an older one
 * or to none (which would replay from an unexpected point).
 *
 * <p>Pekko calls every method from the snapshot store actor, one at a time; the work is done on that
 * thread (tree reads and in-memory writes), and only the wait for durability is asynchronous.
 */
public final class TobogganSnapshotStore extends SnapshotStore {
    private final Db db;
    private final Tree tree;
    private final Serialization serialization;

    public TobogganSnapshotStore(Config config, String configPath) {
        this.db = PekkoStores.get(context().system()).store(config.getString("store"));
        this.tree = db.tree(PluginSettings.treeName(config, configPath));
        this.serialization = SerializationExtension.get(context().system());
    }

    @Override
    public Future<Optional<SelectedSnapshot>> doLoadAsync(String persistenceId, SnapshotSelectionCriteria criteria) {
        try {
            Iterator<Map.Entry<byte[], byte[]>> candidates = matching(persistenceId, criteria, true);
            while (candidates.hasNext()) {
                Map.Entry<byte[], byte[]> snapshot = candidates.next();
                SnapshotMetadata metadata = metadata(persistenceId, snapshot.getKey(), null);
                if (criteria.matches(metadata)) {
                    return Futures.successful(Optional.of(decode(persistenceId, snapshot)));
                }
            }
            return Futures.successful(Optional.empty());
        } catch (Exception e) {
            return Futures.failed(e);
        }
    }

    @Override
    public Future<Void> doSaveAsync(SnapshotMetadata metadata, Object snapshot) {
        try {
            PluginFormat.Serialized payload = serialize(snapshot);
            PluginFormat.Serialized extra = metadata.metadata().isDefined() ? serialize(metadata.metadata().get()) : null;
            byte[] value = PluginFormat.snapshotValue(payload, extra);
            if (value.length > Tree.MAX_VALUE_LENGTH) {
                throw new IllegalArgumentException("snapshot " + metadata.sequenceNr() + " of '"
                        + metadata.persistenceId() + "' is " + value.length
                        + " bytes serialized; Toboggan keeps snapshots of at most " + Tree.MAX_VALUE_LENGTH + " bytes");
            }
            tree.insert(PluginFormat.snapshotKey(PluginFormat.snapshotPrefix(metadata.persistenceId()),
                    metadata.sequenceNr(), metadata.timestamp()), value);
            return durable();
        } catch (Exception e) {
            return Futures.failed(e);
        }
    }

    /** Deletes every snapshot of the metadata's persistence id and sequence number, whatever its timestamp. */
    @Override
    public Future<Void> doDeleteAsync(SnapshotMetadata metadata) {
        try {
            byte[] prefix = PluginFormat.snapshotPrefix(metadata.persistenceId());
            byte[] from = PluginFormat.snapshotKey(prefix, metadata.sequenceNr(), 0);
            Batch batch = new Batch();
            Iterator<Map.Entry<byte[], byte[]>> snapshots = tree.range(from,
                    PluginFormat.successor(PluginFormat.snapshotKey(prefix, metadata.sequenceNr(), -1L)));
            snapshots.forEachRemaining(snapshot -> batch.remove(snapshot.getKey()));
            return apply(batch);
        } catch (Exception e) {
            return Futures.failed(e);
        }
    }

    @Override
    public Future<Void> doDeleteAsync(String persistenceId, SnapshotSelectionCriteria criteria) {
        try {
            Batch batch = new Batch();
            Iterator<Map.Entry<byte[], byte[]>> candidates = matching(persistenceId, criteria, false);
            while (candidates.hasNext()) {
                byte[] key = candidates.next().getKey();
                if (criteria.matches(metadata(persistenceId, key, null))) {
                    batch.remove(key);
                }
            }
            return apply(batch);
        } catch (Exception e) {
            return Futures.failed(e);
        }
    }

    /**
     * The snapshots of {@code persistenceId} with sequence numbers in the criteria's bounds (timestamps are
     * checked by the caller), newest first if {@code newestFirst}.
     */
    private Iterator<Map.Entry<byte[], byte[]>> matching(String persistenceId, SnapshotSelectionCriteria criteria,
            boolean newestFirst) {
        byte[] prefix = PluginFormat.snapshotPrefix(persistenceId);
        long min = Math.max(criteria.minSequenceNr(), 0);
        long max = criteria.maxSequenceNr();
        if (min > max) {
            return java.util.Collections.emptyIterator();
        }
        byte[] from = PluginFormat.snapshotKey(prefix, min, 0);
        byte[] to = PluginFormat.successor(PluginFormat.snapshotKey(prefix, max, -1L));
        return newestFirst ? tree.rangeReverse(from, to) : tree.range(from, to);
    }

    private Future<Void> apply(Batch batch) {
        if (batch.isEmpty()) {
            return Futures.successful(null);
        }
        tree.applyBatch(batch);
        return durable();
    }

    private Future<Void> durable() {
        return FutureConverters.asScala(db.flushAsync().thenApply(stable -> (Void) null));
    }

    private PluginFormat.Serialized serialize(Object object) throws Exception {
        return PluginFormat.Serialized.of(serialization, object);
    }

    private SelectedSnapshot decode(String persistenceId, Map.Entry<byte[], byte[]> snapshot) {
        try {
            PluginFormat.Serialized[] parts = PluginFormat.decodeSnapshotValue(snapshot.getValue());
            Object payload = deserialize(parts[0]);
            Object extra = parts[1] == null ? null : deserialize(parts[1]);
            return SelectedSnapshot.create(metadata(persistenceId, snapshot.getKey(), extra), payload);
        } catch (RuntimeException e) {
            throw new SnapshotUnreadableException("snapshot " + PluginFormat.snapshotSequenceNr(snapshot.getKey())
                    + " (timestamp " + PluginFormat.snapshotTimestamp(snapshot.getKey()) + ") of '" + persistenceId
                    + "' exists but cannot be read: " + e
                    + ". Fix the serializer bindings, or delete the snapshot to recover from an older one", e);
        }
    }

    private Object deserialize(PluginFormat.Serialized serialized) {
        return serialization.deserialize(serialized.bytes(), serialized.serializerId(), serialized.manifest()).get();
    }

    private static SnapshotMetadata metadata(String persistenceId, byte[] key, Object extra) {
        return new SnapshotMetadata(persistenceId, PluginFormat.snapshotSequenceNr(key),
                PluginFormat.snapshotTimestamp(key), Option.apply(extra));
    }

    /** A stored snapshot could not be deserialized: the load fails rather than pick another snapshot. */
    public static final class SnapshotUnreadableException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        SnapshotUnreadableException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
