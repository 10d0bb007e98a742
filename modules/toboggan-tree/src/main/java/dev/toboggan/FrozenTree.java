package dev.toboggan;

import dev.toboggan.core.pagecache.FrozenPages;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;

/**
 * A tree as of a {@link StoreSnapshot}'s moment: its nodes and value pages read from the snapshot's
 * {@link FrozenPages}. The copy was taken while no writer was inside a change, so every split, merge and batch
 * it holds is whole and nothing in it changes: a read descends once, with none of the live tree's validation,
 * retries or waits for batches ({@link BLinkTree}). A descent still moves right along a level where a node's
 * range ends at or below the key, as the B-link invariants allow ({@link TreeNode}). Thread-safe: it holds no
 * state of its own; each scan is its caller's.
 */
final class FrozenTree implements ReadableTree, LeafReader {
    private static final byte[][] NONE = new byte[0][];

    private final StoreSnapshot snapshot;
    private final String name;
    /** The root page at the snapshot's moment, or {@link TreeNode#NO_PID}: the tree did not exist then. */
    private final long root;

    FrozenTree(StoreSnapshot snapshot, String name, long root) {
        this.snapshot = snapshot;
        this.name = name;
        this.root = root;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public byte[] get(byte[] key) {
        Limits.checkKey(key);
        snapshot.checkOpen();
        if (root == TreeNode.NO_PID) {
            return null;
        }
        Object value = leafFor(key).get(key);
        return value instanceof ValueRef ref ? value(ref) : (byte[]) value;
    }

    @Override
    public boolean containsKey(byte[] key) {
        Limits.checkKey(key);
        snapshot.checkOpen();
        return root != TreeNode.NO_PID && leafFor(key).contains(key);
    }

    @Override
    public Iterator<Map.Entry<byte[], byte[]>> range(byte[] from, byte[] to) {
        BLinkTree.checkBounds(from, to);
        snapshot.checkOpen();
        return ForwardScan.entries(this, from, to);
    }

    @Override
    public Iterator<Map.Entry<byte[], byte[]>> rangeReverse(byte[] from, byte[] to) {
        BLinkTree.checkBounds(from, to);
        snapshot.checkOpen();
        return ReverseScan.entries(this, from, to);
    }

    @Override
    public long size() {
        snapshot.checkOpen();
        return ForwardScan.count(this);
    }

    @Override
    public boolean isEmpty() {
        snapshot.checkOpen();
        return ForwardScan.isEmpty(this);
    }

    @Override
    public void fetchForward(ForwardScan scan) {
        snapshot.checkOpen();
        if (root == TreeNode.NO_PID) {
            scan.accept(0, NONE, NONE, null, TreeNode.NO_PID, 0);
            return;
        }
        // The next leaf's page as the previous leaf linked it: in the copy, it still starts at scan.position.
        Leaf leaf = scan.nextPid != TreeNode.NO_PID ? leaf(scan.nextPid) : leafFor(scan.position);
        int from = BLinkTree.lowerBound(leaf, scan.position);
        int to = scan.to == null ? leaf.count() : Math.max(from, BLinkTree.lowerBound(leaf, scan.to));
        byte[][] keys = scan.withValues ? BLinkTree.keys(leaf, from, to) : null;
        byte[][] values = scan.withValues ? values(leaf, from, to) : null;
        boolean last = leaf.hi == null || (scan.to != null && Arrays.compareUnsigned(leaf.hi, scan.to) >= 0);
        scan.accept(to - from, keys, values, last ? null : leaf.hi, leaf.next, 0);
    }

    @Override
    public void fetchReverse(ReverseScan scan) {
        snapshot.checkOpen();
        if (root == TreeNode.NO_PID) {
            scan.accept(NONE, NONE, null);
            return;
        }
        Leaf leaf = leafBefore(scan.position);
        int to = scan.position == null ? leaf.count() : BLinkTree.lowerBound(leaf, scan.position);
        int from = scan.from == null ? 0 : Math.min(to, BLinkTree.lowerBound(leaf, scan.from));
        byte[][] keys = BLinkTree.keys(leaf, from, to);
        byte[][] values = values(leaf, from, to);
        boolean last = leaf.lo.length == 0 || (scan.from != null && Arrays.compareUnsigned(leaf.lo, scan.from) <= 0);
        scan.accept(keys, values, last ? null : leaf.lo);
    }

    /** The leaf whose range holds {@code key}. */
    private Leaf leafFor(byte[] key) {
        TreeNode node = node(root);
        while (true) {
            if (node.isBeyond(key)) {
                node = node(node.next);
            } else if (node instanceof Index index) {
                node = node(index.childFor(key));
            } else {
                return (Leaf) node;
            }
        }
    }

    /** The leaf whose range holds the keys just below {@code bound} ({@code null}: the last leaf). */
    private Leaf leafBefore(byte[] bound) {
        TreeNode node = node(root);
        while (true) {
            if (node.hi != null && (bound == null || Arrays.compareUnsigned(node.hi, bound) < 0)) {
                node = node(node.next);
            } else if (node instanceof Index index) {
                node = node(index.childBefore(bound));
            } else {
                return (Leaf) node;
            }
        }
    }

    private Leaf leaf(long pid) {
        TreeNode node = node(pid);
        if (node instanceof Leaf leaf) {
            return leaf;
        }
        throw new IllegalStateException("tree '" + name + "': page " + pid + " is linked as a leaf but holds " + node
                + "; the store is corrupt");
    }

    private TreeNode node(long pid) {
        Node value = snapshot.read(pid);
        if (value == null) {
            throw new IllegalStateException("tree '" + name + "': page " + pid
                    + " is free but still linked from the tree; the store is corrupt");
        }
        return BLinkTree.node(name, pid, value);
    }

    /** A copy of the bytes of the value page {@code ref} names. */
    private byte[] value(ValueRef ref) {
        return BLinkTree.valuePage(name, ref.pid(), snapshot.read(ref.pid())).value.clone();
    }

    /** Copies of the values of entries {@code [from, to)}, value pages read. */
    private byte[][] values(Leaf leaf, int from, int to) {
        byte[][] values = new byte[to - from][];
        for (int i = from; i < to; i++) {
            Object value = leaf.value(i);
            values[i - from] = value instanceof ValueRef ref ? value(ref) : (byte[]) value;
        }
        return values;
    }
}
