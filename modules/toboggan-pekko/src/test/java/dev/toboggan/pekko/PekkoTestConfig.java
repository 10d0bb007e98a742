package dev.toboggan.pekko;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;

/** The configuration of the tests' actor systems: the Toboggan plugins enabled, on a store in a directory. */
final class PekkoTestConfig {
    private PekkoTestConfig() {}

    static Config persistence(Path directory) {
        return ConfigFactory.parseString("""
                pekko.loglevel = WARNING
                pekko.persistence.journal.plugin = "toboggan.journal"
                pekko.persistence.snapshot-store.plugin = "toboggan.snapshot-store"
                toboggan.pekko.store.directory = "%s"
                pekko.actor.serializers {
                  refusing = "dev.toboggan.pekko.TestSerializers$Refusing"
                  one-way = "dev.toboggan.pekko.TestSerializers$OneWay"
                }
                pekko.actor.serialization-bindings {
                  "dev.toboggan.pekko.TestSerializers$Unserializable" = refusing
                  "dev.toboggan.pekko.TestSerializers$Unreadable" = one-way
                }
                """.formatted(directory.toAbsolutePath().toString().replace("\\", "\\\\")));
    }
}
