package dev.toboggan.engine;

import dev.toboggan.core.pagecache.Materializer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * Toboggan inside a caller's actor system: one {@link Engine} per store directory per system, its actors
 * under the system guardian, closed by the system's {@code CoordinatedShutdown}.
 *
 * <pre>{@code
 * Engine<P, D> engine = TobogganExtension.get(system).engine(settings, materializer);
 * }</pre>
 */
public final class TobogganExtension implements Extension {
    private static final Id ID = new Id();

    private final ActorSystem<?> system;
    /** Guarded by {@code this}. */
    private final Map<Path, Engine<?, ?>> engines = new HashMap<>();

    private TobogganExtension(ActorSystem<?> system) {
        this.system = system;
    }

    public static TobogganExtension get(ActorSystem<?> system) {
        return ID.apply(system);
    }

    /**
     * The open engine for {@code settings.directory()} in this system, opened now if there is none (or the
     * last one was closed).
     *
     * @throws IllegalArgumentException if that store is open with other settings: the first opener's would
     *     silently win
     */
    @SuppressWarnings("unchecked")
    public synchronized <P, D> Engine<P, D> engine(EngineSettings settings, Materializer<P, D> materializer) {
        Path key = settings.directory().toAbsolutePath().normalize();
        Engine<?, ?> existing = engines.get(key);
        if (existing != null && existing.isOpen()) {
            if (!existing.settings().equals(settings)) {
                throw new IllegalArgumentException("the store in " + key + " is already open in actor system '"
                        + system.name() + "' with other settings (" + existing.settings() + "); give every user of "
                        + "a directory the same toboggan settings, or another directory");
            }
            return (Engine<P, D>) existing;
        }
        Engine<P, D> engine = Engine.open(settings, materializer, system);
        engines.put(key, engine);
        return engine;
    }

    private static final class Id extends ExtensionId<TobogganExtension> {
        @Override
        public TobogganExtension createExtension(ActorSystem<?> system) {
            return new TobogganExtension(system);
        }
    }
}
