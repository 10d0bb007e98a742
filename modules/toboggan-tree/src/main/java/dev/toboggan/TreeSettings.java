package dev.toboggan;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;

/**
 * The settings of a store's trees: the {@code toboggan.tree} section (documented in this module's
 * {@code reference.conf}), read once and validated.
 *
 * @param nodeSplitSize encoded bytes past which a node splits
 * @param maxInlineValue the longest value kept inside its leaf; longer ones get a page of their own
 */
record TreeSettings(int nodeSplitSize, int maxInlineValue) {
    static final int MIN_NODE_SPLIT_SIZE = 64;
    static final int MAX_NODE_SPLIT_SIZE = 1 << 20;

    TreeSettings {
        if (nodeSplitSize < MIN_NODE_SPLIT_SIZE || nodeSplitSize > MAX_NODE_SPLIT_SIZE) {
            throw new IllegalArgumentException("toboggan.tree.node-split-size must be from 64B to 1MiB, was "
                    + nodeSplitSize + " bytes; 4KiB is a good default");
        }
        if (maxInlineValue < 0 || maxInlineValue > nodeSplitSize) {
            throw new IllegalArgumentException("toboggan.tree.max-inline-value must be from 0 to "
                    + "toboggan.tree.node-split-size (" + nodeSplitSize + " bytes), was " + maxInlineValue);
        }
    }

    /** The {@code toboggan.tree} settings of {@code config} over the defaults. */
    static TreeSettings fromConfig(Config config) {
        try {
            Config c = config.withFallback(ConfigFactory.defaultReference()).getConfig("toboggan.tree");
            return new TreeSettings(bytes(c, "node-split-size"), bytes(c, "max-inline-value"));
        } catch (ConfigException e) {
            throw new IllegalArgumentException("invalid Toboggan configuration: " + e.getMessage(), e);
        }
    }

    static TreeSettings defaults() {
        return fromConfig(ConfigFactory.empty());
    }

    private static int bytes(Config c, String key) {
        long bytes = c.getBytes(key);
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("toboggan.tree." + key + " is too large: " + bytes + " bytes");
        }
        return (int) bytes;
    }
}
