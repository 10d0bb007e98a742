package dev.toboggan;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.engine.EngineSettings;
import java.nio.file.Path;
import org.apache.pekko.actor.typed.ActorSystem;

/** Opens a store over a {@link SimulatedStorage} in a Pekko test's actor system (the tree module's test seam). */
public final class SimulatedDiskStores {
    private SimulatedDiskStores() {}

    /** A store in {@code /store} of {@code disk}, with {@code settings} (HOCON, {@code toboggan.*} keys) over the defaults. */
    public static Db open(ActorSystem<?> system, SimulatedStorage disk, String settings) {
        Config config = ConfigFactory.parseString(settings).withFallback(ConfigFactory.defaultReference());
        return Toboggan.open(EngineSettings.fromConfig(config, Path.of("/store")), TreeSettings.fromConfig(config),
                system, disk);
    }
}
