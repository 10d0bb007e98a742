package dev.toboggan;

import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.LongPredicate;

/**
 * Builds a new, empty tree bottom-up from entries in ascending key order (an import, {@link DumpImport}):
 * each leaf is filled up to {@code node-split-size} and written once, each index level is built from the
 * level below as its nodes close, and the top node becomes the root. Inserting the same entries one by one
 * writes a delta per entry, a consolidation of the leaf every {@code consolidation-threshold} entries and a
 * split of it every half leaf, all of which the segment cleaner then has to clear; this writes each node's
 * bytes once and leaves the leaves full.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Shape</b>: what {@link TreeNode} and {@link Index} require of any tree: each level one chain of
 *       right links from an empty {@code lo}, a node's {@code hi} its right sibling's {@code lo}, each
 *       index entry's key its child's {@code lo}. Separators between leaves are suffix-truncated as a split's
 *       are ({@link Leaf#separator}).
 *   <li><b>Page ids ahead</b>: a node is written only once its right sibling's id is known (its {@code next}
 *       and {@code hi}), so each new node's page is allocated when the node is started (an empty leaf as a
 *       placeholder, a few bytes in the log) and replaced by its content when it closes. The leftmost leaf
 *       is the tree's root page, an empty leaf until then; the top index node, if the tree needs one, is
 *       made the root by {@link PageCache#casRoot}, which a root growth does too (the old root stays the
 *       first node of its level).
 *   <li><b>Exclusive use</b>: nothing else may read or change the tree (or the store) while it loads: the
 *       loader takes no part in the tree's concurrency control and writes no atomic batch. A load that fails
 *       leaves pages no tree reaches, and an import deletes the store it was building. It is not a public
 *       API for that reason.
 *   <li>Values longer than {@code max-inline-value} go to {@link ValuePage}s, as an insert's do.
 * </ul>
 */
final class BulkLoad {
    private final PageCache<Node, Delta> pc;
    private final String tree;
    private final int splitSize;
    private final int maxInlineValue;
    /** Makes the top index node the root: the tree's {@code casRoot} from its root page to that node. */
    private final LongPredicate newRoot;
    private final Level leaves;
    private byte[] lastKey;
    private boolean finished;

    /**
     * @param tree the tree's name, for messages
     * @param root the tree's root page: an empty leaf, the first node of every tree; it becomes the leftmost leaf
     */
    BulkLoad(PageCache<Node, Delta> pc, String tree, int splitSize, int maxInlineValue, Page<Node> root,
            LongPredicate newRoot) {
        this.pc = pc;
        this.tree = tree;
        this.splitSize = splitSize;
        this.maxInlineValue = maxInlineValue;
        this.newRoot = newRoot;
        this.leaves = new Level(true, root);
    }

    /**
     * Appends an entry; keys must come in strictly ascending (unsigned) order. The loader keeps both arrays
     * (until the entry's leaf is written, or for good as a value page's content): the caller must not change
     * them (an import's reader hands over arrays of its own, a build copies the caller's).
     *
     * @throws IllegalArgumentException if {@code key} is not greater than the key before it
     */
    void add(byte[] key, byte[] value) {
        if (finished) {
            throw new IllegalStateException("the load is finished");
        }
        if (lastKey != null && Arrays.compareUnsigned(lastKey, key) >= 0) {
            throw new IllegalArgumentException("the keys of tree '" + tree + "' must come in strictly ascending "
                    + "(unsigned byte) order: " + TreeNode.show(key) + " follows " + TreeNode.show(lastKey));
        }
        Object stored = value.length > maxInlineValue
                ? new ValueRef(pc.allocate(new ValuePage(value)).pid(), value.length) : value;
        leaves.add(key, stored, Leaf.entrySize(key, stored));
        lastKey = key;
    }

    /** Writes the last node of every level and makes the top one the root. */
    void finish() {
        if (finished) {
            return;
        }
        finished = true;
        if (lastKey == null) {
            return; // nothing added: the root stays the empty leaf it is
        }
        Level level = leaves;
        while (level.parent != null) {
            Page<Node> last = level.close(null, TreeNode.NO_PID);
            level.parent.add(level.lo, last.pid(), Index.entrySize(level.lo, last.pid()));
            level = level.parent;
        }
        Page<Node> top = level.close(null, TreeNode.NO_PID);
        if (level != leaves && !newRoot.test(top.pid())) {
            throw new IllegalStateException("the tree's root changed while it was being loaded");
        }
    }

    /**
     * One level of the tree as it is built: the node being filled (its page allocated ahead), the nodes before
     * it written and handed to the level above.
     */
    private final class Level {
        private final boolean leaf;
        private Page<Node> page;
        private byte[] lo = TreeNode.NO_KEY;
        private final List<byte[]> keys = new ArrayList<>();
        private final List<Object> payloads = new ArrayList<>();
        private int size;
        private Level parent;

        Level(boolean leaf, Page<Node> page) {
            this.leaf = leaf;
            this.page = page;
            this.size = TreeNode.headerSize(lo, null, TreeNode.NO_PID);
        }

        /** Adds an entry ({@code payload}: a leaf's value or a {@link ValueRef}, an index node's child id). */
        void add(byte[] key, Object payload, int entrySize) {
            if (size + entrySize > splitSize && keys.size() >= (leaf ? 1 : 2)) {
                byte[] last = keys.get(keys.size() - 1);
                byte[] separator = leaf ? Leaf.separator(last, 0, last.length, key, 0, key.length) : key;
                Page<Node> next = pc.allocate(Leaf.emptyRoot());
                Page<Node> closed = close(separator, next.pid());
                parentLevel().add(lo, closed.pid(), Index.entrySize(lo, closed.pid()));
                page = next;
                lo = separator;
                keys.clear();
                payloads.clear();
                size = TreeNode.headerSize(lo, null, TreeNode.NO_PID);
            }
            keys.add(key); // an index node's first key is its lo: its first child's, as the separator it closed at
            payloads.add(payload);
            size += entrySize;
        }

        /** Writes the node being filled, ending at {@code hi} and linked to {@code next}. */
        Page<Node> close(byte[] hi, long next) {
            byte[][] k = keys.toArray(new byte[0][]);
            TreeNode node;
            if (leaf) {
                node = Leaf.of(lo, hi, next, k, payloads.toArray());
            } else {
                long[] children = new long[payloads.size()];
                for (int i = 0; i < children.length; i++) {
                    children[i] = (Long) payloads.get(i);
                }
                node = Index.of(lo, hi, next, k, children);
            }
            var written = pc.replace(page.pid(), page, node);
            if (!written.succeeded()) {
                throw new IllegalStateException("page " + page.pid() + " changed while the tree was being loaded");
            }
            return written.page();
        }

        private Level parentLevel() {
            if (parent == null) {
                parent = new Level(false, pc.allocate(Leaf.emptyRoot()));
            }
            return parent;
        }
    }
}
