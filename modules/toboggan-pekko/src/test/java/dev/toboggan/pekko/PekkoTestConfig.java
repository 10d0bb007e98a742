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

    /**
     * {@link #persistence} with {@code config} over it, for the read journal's tests: queries read 3 entries at
     * a time (so every query crosses chunk boundaries) and their refresh interval is an hour (a live query
     * that sees a new event within the tests' 10 s was woken by the journal, not by polling).
     */
    static Config queries(Path directory, String config) {
        return ConfigFactory.parseString(config + """

                toboggan.query.max-buffer-size = 3
                toboggan.query.refresh-interval = 1h
                """).withFallback(persistence(directory));
    }
}
