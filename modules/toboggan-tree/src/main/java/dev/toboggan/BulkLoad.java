package dev.toboggan;

import dev.toboggan.core.pagecache.Batch;
import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds a tree bottom-up, beside the store's trees, from entries in ascending key order ({@link Store#buildTree},
 * {@link Toboggan#build}, an import): each leaf is filled up to {@code node-split-size} and written once, each
 * index level is built from the level below as its nodes close, and the top node is the new tree's root, which
 * {@link Store} then names in the meta page. Inserting the same entries one by one writes a delta per entry, a
 * consolidation of the leaf every {@code consolidation-threshold} entries and a split of it every half leaf, all
 * of which the segment cleaner then has to clear; this writes each node's bytes once and leaves the leaves full.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Shape</b>: what {@link TreeNode} and {@link Index} require of any tree: each level one chain of
 *       right links from an empty {@code lo}, a node's {@code hi} its right sibling's {@code lo}, each
 *       index entry's key its child's {@code lo}. Separators between leaves are suffix-truncated as a split's
 *       are ({@link Leaf#separator}).
 *   <li><b>Page ids ahead</b>: a node is written only once its right sibling's id is known (its {@code next}
 *       and {@code hi}), so each node's page is allocated when the node is started (an empty leaf as a
 *       placeholder, a few bytes in the log) and replaced by its content when it closes.
 *   <li><b>Nothing leaks, crash or failure</b>: every page the build has allocated is reachable from a meta
 *       page root of its own, {@value #PREFIX}{@code <level>/<tree>} naming the first page of each level: a level
 *       is a chain of right links from its first page through the nodes written to the placeholder being
 *       filled, and a leaf references its value pages. So each step that allocates is one atomic page cache
 *       batch that also links what it allocated: the writing of {@link #PENDING_LEAVES} closed leaves (their
 *       value pages, their contents, each next placeholder, and the closes they cause above, new levels with
 *       their first placeholders and roots among them), and, when the values the leaves not written yet hold in
 *       memory pass {@link #HELD_VALUE_BYTES}, the same for the leaves closed so far and the entries so far of
 *       the leaf being filled, written into its placeholder. A crash leaves whole steps; {@link #freeAbandoned},
 *       when a store opens, frees every level a root names and removes the roots. A build that fails frees them
 *       at once ({@link #abandon}), with any page its failed step allocated but had yet to link.
 *   <li><b>Invisible until named</b>: no tree reaches these pages and no other thread reads them, so the build
 *       takes no part in the tree's concurrency control; {@link Store#finishBuild} names the root as the tree's,
 *       and removes the build's roots, in one batch under the exclusive side.
 *   <li>Values longer than {@code max-inline-value} go to {@link ValuePage}s, as an insert's do, allocated when
 *       their leaf is written; a leaf's entry for one is sized for the widest page id, so the leaf written
 *       never exceeds {@code node-split-size}.
 * </ul>
 *
 * <p>Confined to one thread.
 */
final class BulkLoad {
    /** Meta page names of a build's levels start with this: {@code build/<level>/<tree>}. */
    static final String PREFIX = "build/";
    /**
     * Out-of-line value bytes a leaf being filled may hold in memory before they are written (with the leaf's
     * entries so far, so that they stay reachable): what a build of large values keeps on the heap.
     */
    static final long HELD_VALUE_BYTES = 8L << 20;
    /** Closed leaves a build keeps in memory before it writes them, in one page cache batch. */
    static final int PENDING_LEAVES = 32;
    /** A page id no store reaches: sizes an entry whose value page is not allocated yet. */
    private static final long WIDEST_PID = Long.MAX_VALUE >>> 1;

    private final PageCache<Node, Delta> pc;
    private final String tree;
    /** The encoded size a node is closed at: {@code node-split-size}, or less to leave room for later inserts. */
    private final int fillTo;
    private final int maxInlineValue;
    private final List<Level> levels = new ArrayList<>();
    /** Pages the current step allocated and has not linked yet: freed by {@link #abandon} if the step failed. */
    private final List<Long> unlinked = new ArrayList<>();
    /** The last key added: {@code last[lastFrom, lastTo)}, in an array of the loader's own. */
    private byte[] last;
    private int lastFrom;
    private int lastTo;
    private long entries;
    private boolean finished;
    /** Whether a tree's root is this build's top node: then nothing of it is freed. */
    private boolean named;

    /**
     * Starts a build of {@code tree}: its leaf level's first page and root.
     *
     * @throws IllegalStateException if a build of that tree is running already
     */
    BulkLoad(PageCache<Node, Delta> pc, String tree, int fillTo, int maxInlineValue) {
        this.pc = pc;
        this.tree = tree;
        this.fillTo = fillTo;
        this.maxInlineValue = maxInlineValue;
        try (Batch step = pc.openBatch()) {
            levels.add(new Level(0));
            unlinked.clear();
        } catch (RuntimeException | Error e) {
            abandon(e);
            throw e;
        }
    }

    /** The meta page root of a build's {@code level} of {@code tree}. */
    static String rootName(int level, String tree) {
        return PREFIX + level + "/" + tree;
    }

    /**
     * Appends an entry; keys must come in strictly ascending (unsigned) order. The loader copies what it keeps
     * (the leaf's entry for a value stored inline, the key and value of a longer one until its leaf is written),
     * so the caller may hand over the same arrays again.
     *
     * @throws IllegalArgumentException if {@code key} is not greater than the key before it
     */
    void add(byte[] key, byte[] value) {
        if (finished) {
            throw new IllegalStateException("the build of tree '" + tree + "' is finished");
        }
        if (last != null && Arrays.compareUnsigned(last, lastFrom, lastTo, key, 0, key.length) >= 0) {
            throw new IllegalArgumentException("the keys of tree '" + tree + "' must come in strictly ascending "
                    + "(unsigned byte) order: " + TreeNode.show(key) + " follows "
                    + TreeNode.show(Arrays.copyOfRange(last, lastFrom, lastTo)));
        }
        if (value.length > maxInlineValue) {
            Held held = new Held(key.clone(), value.clone());
            levels.get(0).add(key, held, Leaf.entrySize(key, new ValueRef(WIDEST_PID, value.length)));
            last = held.key();
            lastFrom = 0;
            lastTo = last.length;
        } else {
            byte[] entry = Leaf.entry(key, value);
            levels.get(0).add(key, entry, Leaf.entrySize(key, value));
            last = entry;
            lastFrom = Leaf.KEY_AT;
            lastTo = Leaf.keyEnd(entry);
        }
        entries++;
    }

    /** The tree this builds. */
    String tree() {
        return tree;
    }

    /** The entries added. */
    long entries() {
        return entries;
    }

    /**
     * Writes the last node of every level.
     *
     * @return the top node's page id: the built tree's root (its leaf level's first page if it has one node)
     */
    long finish() {
        if (finished) {
            throw new IllegalStateException("the build of tree '" + tree + "' is finished");
        }
        finished = true;
        try (Batch step = pc.openBatch()) {
            Level level = levels.get(0);
            level.writePending();
            while (level.level + 1 < levels.size()) {
                level.linkUp(level.lo, level.writeLast());
                level = levels.get(level.level + 1);
            }
            level.writeLast();
            unlinked.clear();
            return level.first;
        }
    }

    /** Marks the build's pages as a tree's: {@link #abandon} leaves them from now on. */
    void named() {
        named = true;
    }

    /** The meta page roots of this build's levels, with the first page each names. */
    Map<String, Long> roots() {
        Map<String, Long> roots = new LinkedHashMap<>();
        for (Level level : levels) {
            roots.put(rootName(level.level, tree), level.first);
        }
        return roots;
    }

    /**
     * Frees every page this build allocated and removes its roots, after {@code cause} ended it; a failure to do
     * so is added to {@code cause} as suppressed (the store's next open frees what is left).
     */
    void abandon(Throwable cause) {
        finished = true;
        if (named) {
            return;
        }
        try {
            Set<Long> linked = new HashSet<>();
            for (Level level : levels) {
                linked.addAll(pagesOf(pc, level.first));
            }
            // the failed step's pages first: once a level's pages are freed, their ids may be handed out again
            for (long pid : unlinked) {
                Page<Node> page = linked.contains(pid) ? null : pc.get(pid);
                if (page != null) {
                    pc.free(pid, page);
                }
            }
            unlinked.clear();
            for (Level level : levels) {
                freeLevel(pc, rootName(level.level, tree), level.first);
            }
        } catch (RuntimeException | Error e) {
            cause.addSuppressed(e);
        }
    }

    /**
     * Frees what builds cut short by a crash left (their roots name it): called when a store opens, before
     * anything else can allocate.
     *
     * @return the builds' levels freed
     */
    static int freeAbandoned(PageCache<Node, Delta> pc) {
        int freed = 0;
        for (Map.Entry<String, Long> root : pc.roots().entrySet()) {
            if (root.getKey().startsWith(PREFIX)) {
                freeLevel(pc, root.getKey(), root.getValue());
                freed++;
            }
        }
        return freed;
    }

    /**
     * Frees one level of a build, the value pages its leaves reference with it, and removes its root: one batch,
     * so that a crash leaves the level whole or gone. A level's index nodes are freed without their children,
     * which the level below frees.
     */
    private static void freeLevel(PageCache<Node, Delta> pc, String rootName, long first) {
        try (Batch atomic = pc.openBatch()) {
            for (long pid : pagesOf(pc, first)) {
                pc.free(pid, pc.get(pid));
            }
            if (!pc.casRoot(rootName, first, PageCache.NO_ROOT)) {
                throw new IllegalStateException("the root " + rootName + " of a build changed while it was freed");
            }
        }
    }

    /** The pages of the level starting at {@code first}: its nodes, and the value pages its leaves reference. */
    private static List<Long> pagesOf(PageCache<Node, Delta> pc, long first) {
        List<Long> pages = new ArrayList<>();
        for (long pid = first; pid != TreeNode.NO_PID; ) {
            Page<Node> page = pc.get(pid);
            if (page == null || !(page.value() instanceof TreeNode node)) {
                throw new IllegalStateException("page " + pid + " of a build is " + (page == null ? "free" : "not a node")
                        + " but linked from its level; the store is corrupt");
            }
            pages.add(pid);
            if (node instanceof Leaf leaf) {
                for (int i = 0; i < leaf.count(); i++) {
                    ValueRef ref = leaf.ref(i);
                    if (ref != null) {
                        pages.add(ref.pid());
                    }
                }
            }
            pid = node.next;
        }
        return pages;
    }

    /** A page for a node about to be filled: an empty leaf until it is written. */
    private Page<Node> placeholder() {
        Page<Node> page = pc.allocate(Leaf.emptyRoot());
        unlinked.add(page.pid());
        return page;
    }

    /** A leaf closed in memory, written with the next {@link #PENDING_LEAVES} − 1 in one step. */
    private record Closed(byte[] lo, byte[] hi, List<Object> payloads) {}

    /** A value longer than {@code max-inline-value} and its key (the loader's copies) until its leaf is written. */
    private record Held(byte[] key, byte[] value) {}

    /**
     * One level of the tree as it is built: the node being filled (its page allocated ahead), the nodes before
     * it written and handed to the level above. The leaf level keeps up to {@link #PENDING_LEAVES} closed leaves in
     * memory and writes them in one step (a batch per leaf cost a build about a sixth of its rate); an index level
     * writes a node as it closes, inside the step of the leaves that closed it.
     */
    private final class Level {
        private final int level;
        private final long first;
        /** The page of the first closed leaf not written yet, else of the node being filled. */
        private Page<Node> page;
        private byte[] lo = TreeNode.NO_KEY;
        /** An index node's keys (its children's {@code lo}); a leaf's are in its entries. */
        private List<byte[]> keys = new ArrayList<>();
        /**
         * A leaf's entries ({@link Leaf#entry}, or {@link Held} until a long value is written to its value page), an
         * index node's child ids.
         */
        private List<Object> payloads = new ArrayList<>();
        private int size;
        private final List<Closed> pending = new ArrayList<>();
        /** Bytes of long values in {@link #pending} and {@link #payloads} not written yet. */
        private long held;

        /** A new level: its first page and its root. The caller holds a batch open. */
        Level(int level) {
            this.level = level;
            this.page = placeholder();
            this.first = page.pid();
            if (!pc.casRoot(rootName(level, tree), PageCache.NO_ROOT, first)) {
                throw new IllegalStateException("a build of tree '" + tree + "' is running already: build a tree "
                        + "once at a time");
            }
            this.size = TreeNode.headerSize(lo, null, TreeNode.NO_PID);
        }

        /**
         * Adds an entry ({@code payload}: a leaf's entry or {@link Held}, an index node's child id) for {@code key}
         * (a leaf level reads it only before this returns, its last key from {@link #last}).
         */
        void add(byte[] key, Object payload, int entrySize) {
            if (size + entrySize > fillTo && payloads.size() >= (level == 0 ? 1 : 2)) {
                byte[] separator = level == 0 ? Leaf.separator(last, lastFrom, lastTo, key, 0, key.length) : key;
                if (level == 0) {
                    pending.add(new Closed(lo, separator, payloads));
                    startNext(separator);
                    if (pending.size() == PENDING_LEAVES) {
                        try (Batch step = pc.openBatch()) {
                            writePending();
                            unlinked.clear();
                        }
                    }
                } else {
                    // inside the step of the leaves that closed it
                    Page<Node> next = placeholder();
                    linkUp(lo, write(lo, separator, next.pid(), payloads));
                    page = next;
                    startNext(separator);
                }
            }
            if (level > 0) {
                keys.add(key); // an index node's first key is its lo: its first child's, as the separator it closed at
            }
            payloads.add(payload);
            size += entrySize;
            if (payload instanceof Held h && (held += h.value().length) > HELD_VALUE_BYTES) {
                try (Batch step = pc.openBatch()) {
                    writePending();
                    page = write(lo, null, TreeNode.NO_PID, payloads); // the entries so far, reachable
                    held = 0;
                    unlinked.clear();
                }
            }
        }

        private void startNext(byte[] separator) {
            lo = separator;
            keys = new ArrayList<>();
            payloads = new ArrayList<>();
            size = TreeNode.headerSize(lo, null, TreeNode.NO_PID);
        }

        /** Hands a written node to the level above (started, with its first page, if there is none yet). */
        private void linkUp(byte[] nodeLo, Page<Node> written) {
            if (level + 1 == levels.size()) {
                levels.add(new Level(level + 1));
            }
            levels.get(level + 1).add(nodeLo, written.pid(), Index.entrySize(nodeLo, written.pid()));
        }

        /** Writes the closed leaves, each into its page linked to a new one for the next. The caller holds a batch. */
        void writePending() {
            for (Closed node : pending) {
                Page<Node> next = placeholder();
                linkUp(node.lo(), write(node.lo(), node.hi(), next.pid(), node.payloads()));
                page = next;
            }
            pending.clear();
            held = 0;
            for (Object payload : payloads) {
                if (payload instanceof Held h) {
                    held += h.value().length;
                }
            }
        }

        /** Writes the last node of the level (after {@link #writePending}); the caller holds a batch. */
        Page<Node> writeLast() {
            return write(lo, null, TreeNode.NO_PID, payloads);
        }

        /**
         * Writes a node into {@link #page}: a closed one ending at {@code hi} and linked to {@code next}, or (with
         * neither) a leaf's entries so far; a leaf's long values go to value pages first (their payloads become
         * entries referencing them). An index level writes the node being filled. The caller holds a batch open.
         */
        private Page<Node> write(byte[] nodeLo, byte[] hi, long next, List<Object> nodePayloads) {
            TreeNode node;
            if (level == 0) {
                byte[][] leafEntries = new byte[nodePayloads.size()][];
                for (int i = 0; i < leafEntries.length; i++) {
                    if (nodePayloads.get(i) instanceof Held h) {
                        Page<Node> valuePage = pc.allocate(new ValuePage(h.value()));
                        unlinked.add(valuePage.pid());
                        nodePayloads.set(i, Leaf.entry(h.key(), new ValueRef(valuePage.pid(), h.value().length)));
                    }
                    leafEntries[i] = (byte[]) nodePayloads.get(i);
                }
                node = Leaf.ofEntries(nodeLo, hi, next, leafEntries);
            } else {
                long[] children = new long[nodePayloads.size()];
                for (int i = 0; i < children.length; i++) {
                    children[i] = (Long) nodePayloads.get(i);
                }
                node = Index.of(nodeLo, hi, next, keys.toArray(new byte[0][]), children);
            }
            var written = pc.replace(page.pid(), page, node);
            if (!written.succeeded()) {
                throw new IllegalStateException("page " + page.pid() + " of the build of tree '" + tree
                        + "' changed while it was being built");
            }
            return written.page();
        }
    }
}
