package dev.toboggan.pekko;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.javadsl.Adapter;

/**
 * The Toboggan stores of an actor system's Pekko plugins. Each plugin names a store block
 * ({@code store = "toboggan.pekko.store"} by default): a block of {@code toboggan} settings, its
 * {@code directory} first of all. Plugins naming blocks with the same directory share one {@link Db}, run by
 * the system's own actors and closed by its {@code CoordinatedShutdown}; so by default the journal, the
 * snapshot store and the durable store share one store, with one log and one group commit.
 */
public final class PekkoStores implements Extension {
    private static final Id ID = new Id();

    private final ActorSystem<?> system;
    /** By store directory and journal tree: the signal between a journal and the read journals on its tree. */
    private final Map<String, JournalWrites> journalWrites = new ConcurrentHashMap<>();
    /** By store block path: stores handed in by {@link #adopt} instead of opened from their block. */
    private final Map<String, Db> adopted = new ConcurrentHashMap<>();

    private PekkoStores(ActorSystem<?> system) {
        this.system = system;
    }

    public static PekkoStores get(ActorSystem<?> system) {
        return ID.apply(system);
    }

    public static PekkoStores get(org.apache.pekko.actor.ActorSystem system) {
        return get(Adapter.toTyped(system));
    }

    /**
     * The store the block at {@code storePath} describes, opened now or the one this system has open for
     * its directory. The block's keys override the system's {@code toboggan} settings.
     *
     * @throws IllegalArgumentException if there is no such block, or it names no directory
     */
    public Db store(String storePath) {
        Db given = adopted.get(storePath);
        if (given != null) {
            return given;
        }
        Config config = system.settings().config();
        Config block;
        try {
            block = config.getConfig(storePath);
        } catch (ConfigException e) {
            throw new IllegalArgumentException("the Toboggan store block '" + storePath
                    + "' that a Pekko plugin names is missing or not a block: " + e.getMessage(), e);
        }
        if (!block.hasPath("directory") || block.getString("directory").isBlank()) {
            throw new IllegalArgumentException("the Toboggan store block '" + storePath
                    + "' has no directory: set " + storePath + ".directory to the store's directory");
        }
        Config storeConfig = block.atKey("toboggan").withFallback(config)
                .withFallback(ConfigFactory.defaultReference());
        return Toboggan.open(storeConfig, system);
    }

    /**
     * Makes the plugins that start from now on and name {@code storePath} use {@code store} instead of opening
     * the block's directory: the seam by which tests put a plugin on a store over a simulated disk with faults.
     */
    void adopt(String storePath, Db store) {
        adopted.put(storePath, store);
    }

    /**
     * The signal by which the journal on {@code tree} of {@code store} tells the live queries on that tree
     * of new durable writes: one per tree and actor system, whoever asks first.
     */
    JournalWrites journalWrites(Db store, String tree) {
        return journalWrites.computeIfAbsent(store.directory().toAbsolutePath() + "\0" + tree,
                key -> new JournalWrites(store.generateId()));
    }

    private static final class Id extends ExtensionId<PekkoStores> {
        @Override
        public PekkoStores createExtension(ActorSystem<?> system) {
            return new PekkoStores(system);
        }
    }
}
