package dev.toboggan.pekko;

import com.typesafe.config.Config;
import dev.toboggan.Db;
import dev.toboggan.Tree;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.persistence.state.exception.DeleteRevisionException;
import org.apache.pekko.persistence.state.javadsl.DurableStateUpdateStore;
import org.apache.pekko.persistence.state.javadsl.GetObjectResult;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;

/**
 * Pekko Persistence durable state store on a Toboggan tree ({@code pekko.persistence.state.plugin =
 * "toboggan.state"}; the Java API of {@link TobogganDurableStateStoreProvider}): one entry per persistence id,
 * holding the object's revision, its tag and the object as its Pekko serializer wrote it ({@link PluginFormat}).
 *
 * <p><b>Revisions</b> are the optimistic lock Pekko's {@code DurableStateBehavior} relies on: an upsert or a
 * delete of revision {@code r} succeeds only if the stored revision is {@code r - 1} (none stored counts as 0),
 * checked and written by one compare-and-swap of the entry, so of two writers of one persistence id (a stale
 * incarnation, say) exactly one wins and the other's future fails, storing nothing. A delete with a revision
 * keeps a deleted marker at that revision: {@link #getObject} then returns no object and that revision, and
 * revisions go on from it, so no writer that saw the object before the delete can store over it. A delete of
 * revision 0, or {@link #deleteObject(String)}, removes the entry.
 *
 * <p>A change is reported once it is durable ({@link Db#flushAsync()}, group commit with every other writer of
 * the store); it is in the tree, and read by {@link #getObject}, from the moment the call returns. An object
 * that exists but cannot be deserialized fails the read, naming it, rather than reading as absent. Any thread
 * may call; the work is a read and a compare-and-swap on the caller's thread.
 */
public final class TobogganDurableStateStore implements DurableStateUpdateStore<Object> {
    private final Db db;
    private final Tree tree;
    private final Serialization serialization;

    TobogganDurableStateStore(ExtendedActorSystem system, Config config, String configPath) {
        this.db = PekkoStores.get(system).store(config.getString("store"));
        this.tree = db.tree(PluginSettings.treeName(config, configPath));
        this.serialization = SerializationExtension.get(system);
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
            byte[] next = PluginFormat.stateValue(new PluginFormat.StoredState(revision, tag == null ? "" : tag,
                    serialize(value)));
            if (next.length > Tree.MAX_VALUE_LENGTH) {
                throw new IllegalArgumentException("durable state '" + persistenceId + "' revision " + revision + " is "
                        + next.length + " bytes serialized; Toboggan keeps objects of at most " + Tree.MAX_VALUE_LENGTH
                        + " bytes");
            }
            if (!change(persistenceId, revision, next)) {
                throw new IllegalStateException(conflict("store", persistenceId, revision));
            }
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
                tree.remove(PluginFormat.stateKey(persistenceId));
            } else if (!change(persistenceId, revision,
                    PluginFormat.stateValue(new PluginFormat.StoredState(revision, "", null)))) {
                throw new DeleteRevisionException(conflict("delete", persistenceId, revision));
            }
            return durable();
        } catch (Exception e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Sets the entry of {@code persistenceId} to {@code next} if its stored revision is {@code revision - 1}
     * (none stored counts as 0), by a compare-and-swap against the entry read.
     *
     * @return whether it did; {@code false}: another revision is stored
     */
    private boolean change(String persistenceId, long revision, byte[] next) {
        byte[] key = PluginFormat.stateKey(persistenceId);
        while (true) {
            byte[] current = tree.get(key);
            if (revision(current) != revision - 1) {
                return false;
            }
            if (tree.compareAndSwap(key, current, next).succeeded()) {
                return true;
            }
            // another writer changed the entry since the read: judge its revision again
        }
    }

    private static long revision(byte[] stored) {
        return stored == null ? 0 : PluginFormat.decodeStateValue(stored).revision();
    }

    private String conflict(String what, String persistenceId, long revision) {
        long stored = revision(tree.get(PluginFormat.stateKey(persistenceId)));
        return "cannot " + what + " revision " + revision + " of durable state '" + persistenceId + "': revision "
                + stored + " is stored, and a revision must follow the stored one by 1 (another writer of this "
                + "persistence id, or one that did not read the latest revision?); nothing was changed";
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
