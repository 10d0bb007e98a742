package dev.toboggan;

import java.util.List;

/**
 * What one write or one atomic batch changed under a watched prefix ({@link Tree#watchPrefix}): a single
 * change for an insert, a remove or a successful compare-and-swap; for an {@link Tree#applyBatch}, a
 * {@link Db#applyBatches} or a {@link Db#transaction}'s commit, its changes to keys under the prefix in the
 * tree watched, in the order the batch made them (a key the batch removed that was absent is left out).
 *
 * @param tree the name of the tree the changes were made in
 * @param changes one or more changes, never empty
 */
public record WatchEvent(String tree, List<Change> changes) {
    public WatchEvent {
        changes = List.copyOf(changes);
    }
}
