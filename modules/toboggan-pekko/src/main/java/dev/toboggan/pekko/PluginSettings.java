package dev.toboggan.pekko;

import com.typesafe.config.Config;
import java.time.Duration;

/** Reads the keys every plugin block shares, with errors that name the full key. */
final class PluginSettings {
    private PluginSettings() {}

    /** The plugin's tree: {@code tree}, a non-empty name. */
    static String treeName(Config config, String configPath) {
        String name = config.getString("tree");
        if (name.isBlank()) {
            throw new IllegalArgumentException(configPath + ".tree is empty: name the tree this plugin keeps its data in");
        }
        return name;
    }

    static Duration positiveDuration(Config config, String configPath, String key) {
        Duration value = config.getDuration(key);
        if (value.isNegative() || value.isZero()) {
            throw new IllegalArgumentException(configPath + "." + key + " = " + value + ": it must be positive");
        }
        return value;
    }

    static int positiveInt(Config config, String configPath, String key) {
        int value = config.getInt(key);
        if (value < 1) {
            throw new IllegalArgumentException(configPath + "." + key + " = " + value + ": it must be at least 1");
        }
        return value;
    }
}
