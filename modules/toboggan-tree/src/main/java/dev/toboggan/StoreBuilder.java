package dev.toboggan;

import java.util.Iterator;
import java.util.Map;

/**
 * What {@link Toboggan#build} fills a new store with: trees, each of entries in ascending key order, built
 * bottom-up (every leaf full and written once). Valid only inside the {@code build} call that handed it out,
 * and not thread-safe: hand the trees over one after the other.
 */
public interface StoreBuilder {
    /**
     * Builds the tree {@code name} (the default tree is {@link Db#DEFAULT_TREE}) of {@code ascending}'s
     * entries, read to its end. Keys must come in strictly ascending unsigned byte order, as a {@link Tree}
     * orders them; keys and values are copied, so an iterator may hand out the same arrays again.
     *
     * @return this builder, for the next tree
     * @throws IllegalArgumentException if the tree was built already in this build, a key is null or not greater
     *     than the key before it, or a key or value is null or over {@link Tree}'s limits: the whole build fails
     *     and leaves nothing
     * @throws IllegalStateException if the {@code build} call that handed out this builder has returned
     */
    default StoreBuilder tree(String name, Iterator<? extends Map.Entry<byte[], byte[]>> ascending) {
        return tree(name, ascending, 1);
    }

    /**
     * As {@link #tree(String, Iterator)}, each node filled only to {@code fill} of {@code node-split-size}, leaving
     * room for inserts among the entries ({@link Db#buildTree(String, Iterator, double)}).
     *
     * @param fill from 0.5 to 1; 1 is the two-argument form
     * @throws IllegalArgumentException for a {@code fill} out of that range, and as the two-argument form
     */
    StoreBuilder tree(String name, Iterator<? extends Map.Entry<byte[], byte[]>> ascending, double fill);
}
