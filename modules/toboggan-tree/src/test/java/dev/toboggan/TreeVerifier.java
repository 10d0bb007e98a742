package dev.toboggan;

import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Checks every invariant of every tree in a quiescent store, and that no page is leaked: every live page
 * belongs to exactly one tree (as a node on one of its levels, or as a value page one of its leaves
 * references). Throws {@link AssertionError} naming the first violation.
 */
final class TreeVerifier {
    private final PageCache<Node, Delta> pc;
    private final Set<Long> reachable = new HashSet<>();

    private TreeVerifier(PageCache<Node, Delta> pc) {
        this.pc = pc;
    }

    /** Verifies every tree of {@code store} and the absence of leaks. */
    static void verify(Store store) {
        TreeVerifier v = new TreeVerifier(store.pageCache());
        for (Map.Entry<String, Long> root : store.pageCache().roots().entrySet()) {
            if (root.getKey().startsWith(Store.TREE_PREFIX)) {
                v.verifyTree(root.getKey(), root.getValue());
            }
        }
        v.checkNoLeaks();
    }

    /** The number of nodes on each level of the default tree of {@code store}, the root's level first. */
    static List<Integer> nodesPerLevel(Store store) {
        PageCache<Node, Delta> pc = store.pageCache();
        List<Integer> levels = new ArrayList<>();
        long first = pc.root(Store.TREE_PREFIX + Db.DEFAULT_TREE);
        while (true) {
            int nodes = 0;
            TreeNode head = (TreeNode) pc.get(first).value();
            for (long pid = first; pid != TreeNode.NO_PID; pid = ((TreeNode) pc.get(pid).value()).next) {
                nodes++;
            }
            levels.add(nodes);
            if (!(head instanceof Index index)) {
                return levels;
            }
            first = index.children[0];
        }
    }

    private void verifyTree(String name, long root) {
        long first = root;
        int height = 0;
        Set<Long> expectedLevel = null;
        while (true) {
            height++;
            check(height < 64, name, "more than 64 levels");
            List<Long> chain = new ArrayList<>();
            List<TreeNode> nodes = new ArrayList<>();
            long pid = first;
            while (pid != TreeNode.NO_PID) {
                check(reachable.add(pid), name, "page " + pid + " is reached twice");
                Page<Node> page = pc.get(pid);
                check(page != null, name, "page " + pid + " is linked but free");
                check(page.value() instanceof TreeNode, name, "page " + pid + " is not a tree node");
                TreeNode node = (TreeNode) page.value();
                chain.add(pid);
                nodes.add(node);
                verifyNode(name, pid, node);
                pid = node.next;
            }
            TreeNode head = nodes.get(0);
            check(head.lo.length == 0, name, "the first node of level " + height + " starts at " + TreeNode.show(head.lo));
            for (int i = 0; i + 1 < nodes.size(); i++) {
                check(nodes.get(i).hi != null && Arrays.equals(nodes.get(i).hi, nodes.get(i + 1).lo), name,
                        "page " + chain.get(i) + " ends at " + TreeNode.show(nodes.get(i).hi) + " but its sibling "
                                + chain.get(i + 1) + " starts at " + TreeNode.show(nodes.get(i + 1).lo));
            }
            check(nodes.get(nodes.size() - 1).hi == null, name, "the last node of level " + height + " has an end");
            if (expectedLevel != null) {
                check(new HashSet<>(chain).containsAll(expectedLevel), name,
                        "children of level " + (height - 1) + " are not all on level " + height);
            }
            boolean leaves = head instanceof Leaf;
            for (TreeNode node : nodes) {
                check((node instanceof Leaf) == leaves, name, "level " + height + " mixes leaves and index nodes");
            }
            if (leaves) {
                return;
            }
            expectedLevel = new HashSet<>();
            Map<Long, Integer> position = new HashMap<>();
            long nextFirst = ((Index) head).children[0];
            for (long child = nextFirst; child != TreeNode.NO_PID; ) {
                position.put(child, position.size());
                Page<Node> page = pc.get(child);
                check(page != null && page.value() instanceof TreeNode, name, "page " + child + " on the chain is not a node");
                child = ((TreeNode) page.value()).next;
            }
            int last = -1;
            for (TreeNode node : nodes) {
                Index index = (Index) node;
                for (int i = 0; i < index.count(); i++) {
                    long child = index.children[i];
                    Integer at = position.get(child);
                    check(at != null, name, "child " + child + " is not on the level below");
                    check(at > last, name, "child " + child + " is out of order on the level below");
                    last = at;
                    TreeNode c = (TreeNode) pc.get(child).value();
                    check(Arrays.equals(c.lo, index.keys[i]), name, "child " + child + " starts at " + TreeNode.show(c.lo)
                            + " but its separator is " + TreeNode.show(index.keys[i]));
                    expectedLevel.add(child);
                }
            }
            first = nextFirst;
        }
    }

    private void verifyNode(String name, long pid, TreeNode node) {
        for (int i = 0; i < node.count(); i++) {
            byte[] key = node.key(i);
            check(Arrays.compareUnsigned(key, node.lo) >= 0 && !node.isBeyond(key), name,
                    "page " + pid + " holds " + TreeNode.show(key) + " outside " + node);
            check(node.prefixes[i] == TreeNode.prefix(key), name, "page " + pid + " has a wrong prefix for entry " + i);
            if (i > 0) {
                check(Arrays.compareUnsigned(node.key(i - 1), key) < 0, name, "page " + pid + " keys are not sorted");
            }
        }
        if (node instanceof Index index) {
            check(index.count() > 0 && Arrays.equals(index.keys[0], index.lo), name,
                    "index page " + pid + " does not start with its lo");
        } else {
            Leaf leaf = (Leaf) node;
            for (int i = 0; i < leaf.count(); i++) {
                if (leaf.value(i) instanceof ValueRef ref) {
                    check(reachable.add(ref.pid()), name, "value page " + ref.pid() + " is referenced twice");
                    Page<Node> page = pc.get(ref.pid());
                    check(page != null && page.value() instanceof ValuePage v && v.value.length == ref.length(), name,
                            "value page " + ref.pid() + " of leaf " + pid + " is missing or of the wrong length");
                }
            }
        }
        TreeNode rebuilt = node instanceof Leaf l ? rebuilt(l)
                : Index.of(node.lo, node.hi, node.next, ((Index) node).keys, ((Index) node).children);
        check(rebuilt.size == node.size, name, "page " + pid + " claims " + node.size + " bytes but has " + rebuilt.size);
        check(rebuilt.heapSize() == node.heapSize(), name, "page " + pid + " claims " + node.heapSize()
                + " heap bytes but has " + rebuilt.heapSize());
    }

    /** The leaf built again from its keys and values. */
    static Leaf rebuilt(Leaf leaf) {
        byte[][] keys = new byte[leaf.count()][];
        Object[] values = new Object[leaf.count()];
        for (int i = 0; i < leaf.count(); i++) {
            keys[i] = leaf.key(i);
            values[i] = leaf.value(i);
        }
        return Leaf.of(leaf.lo, leaf.hi, leaf.next, keys, values);
    }

    private void checkNoLeaks() {
        Set<Long> live = new TreeSet<>();
        for (long pid = PageCache.FIRST_USER_PID; ; pid++) {
            Page<Node> page;
            try {
                page = pc.get(pid);
            } catch (IllegalArgumentException beyondTheLastPage) {
                break;
            }
            if (page != null) {
                live.add(pid);
            }
        }
        Set<Long> leaked = new TreeSet<>(live);
        leaked.removeAll(reachable);
        if (!leaked.isEmpty()) {
            throw new AssertionError("pages belong to no tree (leaked): " + leaked);
        }
    }

    private static void check(boolean ok, String tree, String what) {
        if (!ok) {
            throw new AssertionError(tree + ": " + what);
        }
    }
}
