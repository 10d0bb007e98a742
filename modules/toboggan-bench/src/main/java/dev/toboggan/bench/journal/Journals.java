package dev.toboggan.bench.journal;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;

/** The journals the benchmarks compare, each as the configuration of an actor system that uses it. */
final class Journals {
    private Journals() {}

    /**
     * {@code toboggan}: Toboggan's journal ({@code durability = fsync}, the default); {@code leveldb}:
     * Pekko's LevelDB journal on native leveldbjni with its default {@code fsync = on}; {@code inmem}:
     * Pekko's in-memory journal (no disk at all: the ceiling of a plugin); {@code floor}:
     * {@link AcknowledgeOnlyJournal}, which stores nothing and skips Pekko's plugin machinery (the bound of
     * any journal; its recovery replays nothing, so only its write figures mean something).
     */
    static Config config(String journal, Path directory) {
        String dir = directory.toAbsolutePath().toString();
        String plugin = switch (journal) {
            case "toboggan" -> """
                    pekko.persistence.journal.plugin = "toboggan.journal"
                    toboggan.pekko.store.directory = "%s"
                    """.formatted(dir);
            case "leveldb" -> """
                    pekko.persistence.journal.plugin = "pekko.persistence.journal.leveldb"
                    pekko.persistence.journal.leveldb.dir = "%s"
                    pekko.persistence.journal.leveldb.native = on
                    """.formatted(dir);
            case "inmem" -> """
                    pekko.persistence.journal.plugin = "pekko.persistence.journal.inmem"
                    """;
            case "floor" -> """
                    pekko.persistence.journal.plugin = "bench.acknowledge-only-journal"
                    bench.acknowledge-only-journal.class = "%s"
                    """.formatted(AcknowledgeOnlyJournal.class.getName());
            default -> throw new IllegalArgumentException("unknown journal '" + journal
                    + "': toboggan, leveldb, inmem or floor");
        };
        return ConfigFactory.parseString(plugin + """
                pekko.loglevel = WARNING
                pekko.persistence.snapshot-store.plugin = "pekko.persistence.no-snapshot-store"
                """).withFallback(ConfigFactory.load());
    }
}
