package dev.toboggan.pekko;

import com.typesafe.config.Config;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.persistence.query.DurableStateChange;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.scaladsl.DurableStateStorePagedPersistenceIdsQuery;
import org.apache.pekko.persistence.query.scaladsl.DurableStateStoreQuery;
import org.apache.pekko.persistence.state.DurableStateStoreProvider;
import org.apache.pekko.persistence.state.scaladsl.DurableStateUpdateStore;
import org.apache.pekko.persistence.state.scaladsl.GetObjectResult;
import org.apache.pekko.stream.scaladsl.Source;
import scala.Option;
import scala.concurrent.Future;
import scala.jdk.javaapi.FutureConverters;
import scala.jdk.javaapi.OptionConverters;

/**
 * The durable state store plugin ({@code toboggan.state}, see reference.conf): Pekko's
 * {@code DurableStateStoreRegistry} instantiates it from its configuration block for
 * {@code pekko.persistence.state.plugin = "toboggan.state"}. Both APIs share one {@link TobogganDurableStateStore}.
 */
public final class TobogganDurableStateStoreProvider implements DurableStateStoreProvider {
    private final TobogganDurableStateStore javadsl;
    private final Scaladsl scaladsl;

    public TobogganDurableStateStoreProvider(ExtendedActorSystem system, Config config, String configPath) {
        this.javadsl = new TobogganDurableStateStore(system, config, configPath);
        this.scaladsl = new Scaladsl(javadsl);
    }

    @Override
    public Scaladsl scaladslDurableStateStore() {
        return scaladsl;
    }

    @Override
    public TobogganDurableStateStore javadslDurableStateStore() {
        return javadsl;
    }

    /**
     * The Scala API (the one Pekko's {@code DurableStateBehavior} calls): {@link TobogganDurableStateStore}'s calls
     * as Scala futures and sources.
     */
    public static final class Scaladsl implements DurableStateUpdateStore<Object>, DurableStateStoreQuery<Object>,
            DurableStateStorePagedPersistenceIdsQuery<Object> {
        private final TobogganDurableStateStore store;

        Scaladsl(TobogganDurableStateStore store) {
            this.store = store;
        }

        @Override
        public Future<GetObjectResult<Object>> getObject(String persistenceId) {
            return FutureConverters.asScala(store.getObject(persistenceId).thenApply(r -> r.toScala()));
        }

        @Override
        public Future<Done> upsertObject(String persistenceId, long revision, Object value, String tag) {
            return FutureConverters.asScala(store.upsertObject(persistenceId, revision, value, tag));
        }

        @Override
        @Deprecated
        public Future<Done> deleteObject(String persistenceId) {
            return FutureConverters.asScala(store.deleteObject(persistenceId));
        }

        @Override
        public Future<Done> deleteObject(String persistenceId, long revision) {
            return FutureConverters.asScala(store.deleteObject(persistenceId, revision));
        }

        @Override
        public Source<DurableStateChange<Object>, NotUsed> currentChanges(String tag, Offset offset) {
            return store.currentChanges(tag, offset).asScala();
        }

        @Override
        public Source<DurableStateChange<Object>, NotUsed> changes(String tag, Offset offset) {
            return store.changes(tag, offset).asScala();
        }

        @Override
        public Source<String, NotUsed> currentPersistenceIds(Option<String> afterId, long limit) {
            return store.currentPersistenceIds(OptionConverters.toJava(afterId), limit).asScala();
        }
    }
}
