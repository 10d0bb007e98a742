package dev.toboggan.pekko;

import com.typesafe.config.Config;

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

    static int positiveInt(Config config, String configPath, String key) {
        int value = config.getInt(key);
        if (value < 1) {
            throw new IllegalArgumentException(configPath + "." + key + " = " + value + ": it must be at least 1");
        }
        return value;
    }
}
