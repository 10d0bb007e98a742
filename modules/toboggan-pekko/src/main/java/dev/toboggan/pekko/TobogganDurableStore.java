package dev.toboggan.pekko;

import com.typesafe.config.Config;
import dev.toboggan.Db;
import dev.toboggan.Tree;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import org.apache.pekko.actor.AbstractActor;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.cluster.ddata.DurableStore;
import org.apache.pekko.cluster.ddata.GCounter;
import org.apache.pekko.event.Logging;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.SerializerWithStringManifest;
import scala.jdk.javaapi.CollectionConverters;

/**
 * Pekko Distributed Data durable store on a Toboggan tree
 * ({@code pekko.cluster.distributed-data.durable.store-actor-class = "dev.toboggan.pekko.TobogganDurableStore"}):
 * the protocol of {@link DurableStore}, which Pekko's LMDB store implements.
 *
 * <ul>
 *   <li>{@code LoadAll} (once, at start): every stored entry in {@code LoadData} messages of at most
 *       {@code load-chunk-size} entries, then {@code LoadAllCompleted}. An entry that cannot be read throws
 *       {@link DurableStore.LoadFailed}, which stops the replicator, rather than start without it.
 *   <li>{@code Store}: the entry (key id → the envelope serialized by Pekko's replicator serializer) is
 *       written to the tree at once, so a later load sees it, and the reply's success message is sent only
 *       once it is durable ({@link Db#flushAsync()}, one fsync for every store, journal write and snapshot
 *       written meanwhile): there is no write-behind window in which an acknowledged value can be lost.
 *       A failed write sends the failure message.
 * </ul>
 *
 * <p>Confinement: all fields are written only in the constructor; the actor keeps no other state, so a
 * restart (after which Pekko sends no second {@code LoadAll}) loses nothing.
 */
public final class TobogganDurableStore extends AbstractActor {
    private final LoggingAdapter log = Logging.getLogger(getContext().getSystem(), this);
    private final Db db;
    private final Tree tree;
    private final SerializerWithStringManifest serializer;
    private final String manifest;
    private final int loadChunkSize;

    /** @param config the block {@code pekko.cluster.distributed-data.durable} */
    public TobogganDurableStore(Config config) throws java.io.NotSerializableException {
        Config settings = config.getConfig("toboggan");
        this.db = PekkoStores.get(getContext().getSystem()).store(settings.getString("store"));
        this.tree = db.tree(PluginSettings.treeName(settings, "pekko.cluster.distributed-data.durable.toboggan"));
        this.loadChunkSize = PluginSettings.positiveInt(settings, "pekko.cluster.distributed-data.durable.toboggan",
                "load-chunk-size");
        this.serializer = (SerializerWithStringManifest) SerializationExtension.get(getContext().getSystem())
                .serializerFor(DurableStore.DurableDataEnvelope.class);
        this.manifest = serializer.manifest(new DurableStore.DurableDataEnvelope(GCounter.empty()));
    }

    @Override
    public Receive createReceive() {
        return receiveBuilder()
                .matchEquals(DurableStore.LoadAll$.MODULE$, load -> loadAll())
                .match(DurableStore.Store.class, this::store)
                .build();
    }

    private void loadAll() {
        ActorRef replicator = getSender();
        int loaded = 0;
        try {
            Map<String, DurableStore.DurableDataEnvelope> chunk = new HashMap<>();
            Iterator<Map.Entry<byte[], byte[]>> entries = tree.iterator();
            while (entries.hasNext()) {
                Map.Entry<byte[], byte[]> entry = entries.next();
                chunk.put(new String(entry.getKey(), StandardCharsets.UTF_8),
                        (DurableStore.DurableDataEnvelope) serializer.fromBinary(entry.getValue(), manifest));
                loaded++;
                if (chunk.size() >= loadChunkSize) {
                    replicator.tell(loadData(chunk), getSelf());
                    chunk = new HashMap<>();
                }
            }
            if (!chunk.isEmpty()) {
                replicator.tell(loadData(chunk), getSelf());
            }
        } catch (Exception e) {
            throw new DurableStore.LoadFailed("failed to load durable distributed data from the Toboggan store at "
                    + db.directory() + ", tree '" + tree.name() + "'", e);
        }
        replicator.tell(DurableStore.LoadAllCompleted$.MODULE$, getSelf());
        log.debug("loaded {} durable entries from {}", loaded, db.directory());
    }

    private static DurableStore.LoadData loadData(Map<String, DurableStore.DurableDataEnvelope> chunk) {
        return new DurableStore.LoadData(scala.collection.immutable.Map.from(CollectionConverters.asScala(chunk)));
    }

    private void store(DurableStore.Store request) {
        DurableStore.StoreReply reply = request.reply().isDefined() ? request.reply().get() : null;
        try {
            tree.insert(request.key().getBytes(StandardCharsets.UTF_8), serializer.toBinary(request.data()));
        } catch (RuntimeException e) {
            failed(request.key(), reply, e);
            return;
        }
        db.flushAsync().whenComplete((stable, error) -> {
            if (error != null) {
                failed(request.key(), reply, error);
            } else if (reply != null) {
                reply.replyTo().tell(reply.successMsg(), ActorRef.noSender());
            }
        });
    }

    /** Runs on the actor or on the flusher's completion: uses nothing but the (thread-safe) logger and refs. */
    private void failed(String key, DurableStore.StoreReply reply, Throwable error) {
        log.error(error, "failed to store durable data [{}] in the Toboggan store", key);
        if (reply != null) {
            reply.replyTo().tell(reply.failureMsg(), ActorRef.noSender());
        }
    }
}
