package dev.toboggan;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.io.StorageIo;
import dev.toboggan.engine.Engine;
import dev.toboggan.engine.EngineSettings;
import dev.toboggan.engine.TobogganExtension;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * Opens Toboggan stores.
 *
 * <pre>{@code
 * try (Db db = Toboggan.open(Path.of("data"))) {
 *     db.insert(key, value);
 *     Tree users = db.tree("users");
 *     users.compareAndSwap(id, null, profile);
 *     db.flush();
 * }
 * }</pre>
 *
 * <p>Settings are HOCON under {@code toboggan { ... }}: the store's keys are documented in the
 * {@code reference.conf} of {@code toboggan-actors}, the trees' ({@code toboggan.tree { ... }}) in this
 * module's. The JVM needs no flags.
 */
public final class Toboggan {
    /** Stores opened in callers' actor systems, by engine: one {@link Db} per engine. Guarded by itself. */
    private static final Map<Engine<?, ?>, Store> SHARED = new IdentityHashMap<>();

    private Toboggan() {}

    /**
     * Opens (creating if needed) the store in {@code directory} with the default settings, and an actor
     * system of its own for its background work.
     *
     * @throws dev.toboggan.core.StorageException if the directory cannot be used, or another process or
     *     {@code Db} has the store open (its cause is then a {@link dev.toboggan.core.io.StoreLockedException})
     * @throws dev.toboggan.core.CorruptionException if durable data is damaged
     */
    public static Db open(Path directory) {
        Objects.requireNonNull(directory, "directory");
        return open(ConfigFactory.empty(), directory);
    }

    /**
     * Opens the store that {@code config}'s {@code toboggan.directory} names, with {@code config}'s
     * {@code toboggan} settings over the defaults, and an actor system of its own.
     */
    public static Db open(Config config) {
        Objects.requireNonNull(config, "config");
        return open(EngineSettings.fromConfig(config), TreeSettings.fromConfig(config));
    }

    /** Opens the store in {@code directory} with {@code config}'s {@code toboggan} settings. */
    public static Db open(Config config, Path directory) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(directory, "directory");
        return open(EngineSettings.fromConfig(config, directory), TreeSettings.fromConfig(config));
    }

    /**
     * The store that {@code config}'s {@code toboggan.directory} names, run inside the caller's actor system
     * (its actors under the system guardian, closed by the system's {@code CoordinatedShutdown} if not
     * before): opened now, or the one already open in this system for that directory.
     *
     * @throws IllegalArgumentException if that directory is already open in this system with other settings
     */
    public static Db open(Config config, ActorSystem<?> system) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(system, "system");
        EngineSettings settings = EngineSettings.fromConfig(config);
        TreeSettings trees = TreeSettings.fromConfig(config);
        Engine<Node, Delta> engine = TobogganExtension.get(system).engine(settings, NodeMaterializer.INSTANCE);
        synchronized (SHARED) {
            SHARED.values().removeIf(store -> !store.isOpen());
            Store store = SHARED.get(engine);
            if (store == null) {
                store = Store.open(new EngineBackend(engine), trees);
                SHARED.put(engine, store);
            } else if (!store.settings().equals(trees)) {
                throw new IllegalArgumentException("the store in " + settings.directory() + " is already open in this "
                        + "actor system with other tree settings (" + store.settings() + "); give every user of a "
                        + "directory the same toboggan.tree settings");
            }
            return store;
        }
    }

    /**
     * Makes a new store in {@code directory}, with the default settings, of a dump that {@link Db#export}
     * wrote (sled's {@code import}): every tree and entry of the exported store, and an id generator whose
     * ids are all higher than any the exported store handed out. The whole dump is read and checked before
     * anything is written, and the store appears under {@code directory} only once complete and durable: a
     * failure or a crash leaves nothing there. The new store is closed on return; open it with
     * {@link #open(Path)}.
     *
     * @param dump a complete dump file
     * @param directory a directory that does not exist yet; its parent must
     * @return what was imported
     * @throws IllegalArgumentException if an argument is null, the dump is missing, incomplete, damaged or
     *     of a version this Toboggan does not read (the message says which, and at which byte), or the
     *     directory exists; nothing was written
     * @throws java.io.UncheckedIOException if reading the dump or writing the store failed: nothing is left
     *     under {@code directory}
     */
    public static Dump importDump(Path dump, Path directory) {
        return DumpImport.run(dump, ConfigFactory.empty(), directory);
    }

    /** {@link #importDump(Path, Path)}, the new store made with {@code config}'s {@code toboggan} settings. */
    public static Dump importDump(Path dump, Config config, Path directory) {
        return DumpImport.run(dump, config, directory);
    }

    /**
     * Makes a new store in {@code directory} of trees whose entries come in ascending key order (a migration
     * from another store, a rebuild from a sorted file): {@code contents} hands over each tree's entries
     * ({@link StoreBuilder#tree}), and each tree is built bottom-up, every leaf full and written once, several
     * times as fast as inserting the same entries and with nothing left for the segment cleaner (an import of a
     * dump is built the same way). The store appears under {@code directory} only once every tree is built and
     * durable: bad input, an exception out of {@code contents}, an IO error or a crash leaves nothing there. The
     * new store is closed on return; open it with the same settings.
     *
     * @param config the new store's {@code toboggan} settings (its directory is {@code directory})
     * @param directory a directory that does not exist yet; its parent must
     * @return the entries written, in all trees
     * @throws IllegalArgumentException if an argument is null or {@code directory} exists, or for the input
     *     {@link StoreBuilder#tree} refuses; nothing is left under {@code directory}
     * @throws java.io.UncheckedIOException if writing the store failed: nothing is left under {@code directory}
     */
    public static long build(Config config, Path directory, Consumer<StoreBuilder> contents) {
        if (config == null || directory == null || contents == null) {
            throw new IllegalArgumentException("the settings, the new store's directory and its contents must not be "
                    + "null");
        }
        return NewStore.make(config, directory, "a build", "build the store", "nothing was built", store -> {
            TreeBuilds builds = new TreeBuilds(store);
            try {
                contents.accept(builds);
            } finally {
                builds.done = true;
            }
            return builds.entries;
        });
    }

    /** The {@link StoreBuilder} of one {@link #build}: each tree once, every entry checked and copied. */
    private static final class TreeBuilds implements StoreBuilder {
        private final Store store;
        private final Set<String> built = new HashSet<>();
        private long entries;
        private boolean done;

        TreeBuilds(Store store) {
            this.store = store;
        }

        @Override
        public StoreBuilder tree(String name, Iterator<? extends Map.Entry<byte[], byte[]>> ascending, double fill) {
            if (done) {
                throw new IllegalStateException("the build this builder belongs to has returned; build another store");
            }
            Limits.checkTreeName(name);
            if (ascending == null) {
                throw new IllegalArgumentException("the entries of tree '" + name + "' are null: pass an iterator");
            }
            if (!built.add(name)) {
                throw new IllegalArgumentException("the tree '" + name + "' was built already in this build: hand "
                        + "each tree's entries over once");
            }
            entries += store.buildTree(name, ascending, fill);
            return this;
        }
    }

    /**
     * Reads the whole dump file and checks it as {@link #importDump} does before it writes anything (every
     * frame's checksum, the order of trees and keys, the limits, the counts), writing nothing: whether a dump
     * kept as a backup would import.
     *
     * @return what the dump holds
     * @throws IllegalArgumentException if {@code dump} is null, missing, incomplete, damaged or of a version this
     *     Toboggan does not read (the message says which, and at which byte)
     * @throws java.io.UncheckedIOException if the file cannot be read
     */
    public static Dump checkDump(Path dump) {
        return DumpFormat.read(dump, DumpFormat.Visitor.CHECK_ONLY);
    }

    static Db open(EngineSettings settings, TreeSettings trees) {
        return Store.open(new EngineBackend(Engine.open(settings, NodeMaterializer.INSTANCE)), trees);
    }

    /** Opens a store on the given IO, in the caller's actor system (tests: a simulated disk). */
    static Store open(EngineSettings settings, TreeSettings trees, ActorSystem<?> system, StorageIo io) {
        return Store.open(new EngineBackend(Engine.open(settings, NodeMaterializer.INSTANCE, system, io)), trees);
    }
}
