package dev.toboggan;

import java.util.List;

/**
 * What one write or one atomic batch changed under a watched prefix ({@link Tree#watchPrefix}): a single
 * change for an insert, a remove or a successful compare-and-swap; for an {@link Tree#applyBatch}, a
 * {@link Db#applyBatches} or a {@link Db#transaction}'s commit, its changes to keys under the prefix in the
 * tree watched, in the order the batch made them (a key the batch removed that was absent is left out).
 *
 * <p>The first event of a {@link Tree#watchPrefixWithState} watch is {@code initial}: not a change, but every
 * entry under the prefix as the watch began, in key order, each as a change to its value (none if the prefix
 * held nothing).
 *
 * @param tree the name of the tree the changes were made in
 * @param changes one or more changes; an initial event's may be empty
 * @param initial whether this is the state the watch began with rather than a change
 */
public record WatchEvent(String tree, List<Change> changes, boolean initial) {
    public WatchEvent {
        changes = List.copyOf(changes);
    }

    /** The event of a change (not {@linkplain #initial() initial}). */
    public WatchEvent(String tree, List<Change> changes) {
        this(tree, changes, false);
    }
}
