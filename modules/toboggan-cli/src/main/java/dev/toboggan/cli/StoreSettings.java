package dev.toboggan.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.engine.EngineSettings;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** The {@code --set KEY=VALUE} store settings of the commands that open or make a store (a picocli mixin). */
final class StoreSettings {
    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "a store setting, repeatable, e.g. --set toboggan.cache-capacity=64MiB (the keys of "
                    + "docs/operations.md); a store is opened again with the segment size and compression it was "
                    + "made with")
    Map<String, String> settings = new LinkedHashMap<>();

    /**
     * The settings, checked: every key one the reference configuration knows, every value one the store
     * accepts.
     *
     * @throws ParameterException naming a setting that is wrong (a one-line error and the usage, exit code 2)
     */
    Config config(CommandSpec spec) {
        Config config = ConfigFactory.parseMap(settings, "--set");
        try {
            for (String key : settings.keySet()) {
                if (!ConfigFactory.defaultReference().hasPath(key)) {
                    throw new IllegalArgumentException("--set " + key + ": no such setting; the keys are listed in "
                            + "docs/operations.md (e.g. toboggan.cache-capacity)");
                }
            }
            EngineSettings.fromConfig(config, Path.of("."));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        return config;
    }
}
