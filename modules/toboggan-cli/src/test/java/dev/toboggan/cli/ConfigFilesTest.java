package dev.toboggan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.status.Status;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValue;
import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The example configuration in {@code config/} (at the repository root): every file loads and means what it says. */
class ConfigFilesTest {
    /** The repository's config directory, from this module's directory (where surefire runs). */
    private static final Path CONFIG = Path.of("../../config");

    @TempDir Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"application.conf", "pekko-service.conf"})
    void everyKeyIsOneTheReferenceConfigurationKnows(String file) {
        Path path = CONFIG.resolve(file);
        assertThat(path).exists();
        Config config = ConfigFactory.parseFile(path.toFile()).resolve();
        Config reference = ConfigFactory.defaultReference();
        assertThat(config.entrySet()).isNotEmpty();
        for (Map.Entry<String, ConfigValue> e : config.entrySet()) {
            assertThat(reference.hasPathOrNull(e.getKey()))
                    .as("%s sets %s, which no reference.conf defines (a typo, or a key that was renamed)", file, e.getKey())
                    .isTrue();
            assertThat(e.getValue().valueType()).as(e.getKey()).isEqualTo(reference.getValue(e.getKey()).valueType());
        }
    }

    @Test
    void theEmbeddingConfigurationOpensAStore() {
        Config config = ConfigFactory.parseFile(CONFIG.resolve("application.conf").toFile()).resolve()
                .withValue("toboggan.directory", ConfigFactory.parseMap(Map.of("d", tmp.resolve("db").toString()))
                        .getValue("d"))
                .withFallback(ConfigFactory.defaultReference());
        try (Db db = Toboggan.open(config)) {
            db.insert(new byte[] {1}, new byte[] {2});
            db.flush();
            assertThat(db.get(new byte[] {1})).containsExactly(2);
        }
        assertThat(Files.exists(tmp.resolve("db").resolve("log"))).isTrue();
    }

    @Test
    void thePekkoServiceConfigurationNamesTheTobogganPlugins() {
        Config config = ConfigFactory.parseFile(CONFIG.resolve("pekko-service.conf").toFile()).resolve();
        assertThat(config.getString("pekko.persistence.journal.plugin")).isEqualTo("toboggan.journal");
        assertThat(config.getString("pekko.persistence.snapshot-store.plugin")).isEqualTo("toboggan.snapshot-store");
        assertThat(config.getString("pekko.persistence.state.plugin")).isEqualTo("toboggan.state");
        assertThat(config.getString("pekko.cluster.distributed-data.durable.store-actor-class"))
                .isEqualTo("dev.toboggan.pekko.TobogganDurableStore");
        // The plugins open the store their `store` block names; its directory is where the data goes.
        Config reference = ConfigFactory.defaultReference();
        assertThat(reference.getString("toboggan.journal.store")).isEqualTo("toboggan.pekko.store");
        assertThat(config.getString("toboggan.pekko.store.directory")).isEqualTo("data/events");
    }

    @Test
    void theLogbackConfigurationLoadsWithoutErrors() throws Exception {
        LoggerContext context = new LoggerContext();
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        configurator.doConfigure(CONFIG.resolve("logback.xml").toFile());
        for (Status s : context.getStatusManager().getCopyOfStatusList()) {
            assertThat(s.getLevel()).as(s.toString()).isLessThan(Status.WARN);
        }
        assertThat(context.getLogger("org.apache.pekko").getLevel()).hasToString("INFO");
        context.stop();
    }
}
