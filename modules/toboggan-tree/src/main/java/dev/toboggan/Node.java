package dev.toboggan;

/**
 * What a page of a Toboggan store holds: a {@link TreeNode} (a leaf or an index node of some tree), or
 * a {@link ValuePage}, a value too large to be kept inside its leaf. The page cache's page type.
 *
 * <p>Nodes are immutable and shared between threads: every change makes a new node.
 */
sealed interface Node permits TreeNode, ValuePage {

    /** An estimate (from above) of the bytes {@link NodeFormat#encodePage} writes for this node. */
    int encodedSize();

    /** An estimate of the heap bytes this node keeps alive. */
    long heapSize();
}
