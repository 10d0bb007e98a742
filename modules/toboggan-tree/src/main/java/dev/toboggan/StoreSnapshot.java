package dev.toboggan;

import dev.toboggan.core.pagecache.FrozenPages;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;

/**
 * A {@link Snapshot}: the trees' roots and a shared {@link FrozenPages} copy of the page table, both taken by
 * {@link Store#snapshot} while the store's writers were held, and a {@link FrozenTree} per tree read. Closing
 * it closes the copy, which lets the cleaner free what it kept; the store's close ends it too (every read
 * checks both).
 */
final class StoreSnapshot implements Snapshot {
    private final Store store;
    private final SortedMap<String, Long> roots;
    private final FrozenPages<Node> pages;
    private final FrozenTree defaultTree;
    private volatile boolean closed;

    StoreSnapshot(Store store, SortedMap<String, Long> roots, FrozenPages<Node> pages) {
        this.store = store;
        this.roots = roots;
        this.pages = pages;
        this.defaultTree = tree(Db.DEFAULT_TREE, roots);
    }

    private FrozenTree tree(String name, SortedMap<String, Long> rootsByName) {
        return new FrozenTree(this, name, rootsByName.getOrDefault(name, TreeNode.NO_PID));
    }

    @Override
    public ReadableTree tree(String name) {
        Limits.checkTreeName(name);
        checkOpen();
        return tree(name, roots);
    }

    @Override
    public List<String> treeNames() {
        checkOpen();
        return new ArrayList<>(roots.keySet());
    }

    /** @throws IllegalStateException if this snapshot or its store is closed */
    void checkOpen() {
        store.checkNotClosed();
        if (closed) {
            throw new IllegalStateException("this snapshot of the store at " + store.directory()
                    + " is closed: take a new one (Db.snapshot)");
        }
    }

    /** Page {@code pid} as of the snapshot's moment ({@code null}: free then). */
    Node read(long pid) {
        return pages.read(pid);
    }

    @Override
    public void close() {
        closed = true;
        pages.close();
    }

    // ---------------------------------------------------------------- the default tree

    @Override
    public String name() {
        return defaultTree.name();
    }

    @Override
    public byte[] get(byte[] key) {
        return defaultTree.get(key);
    }

    @Override
    public boolean containsKey(byte[] key) {
        return defaultTree.containsKey(key);
    }

    @Override
    public Iterator<Map.Entry<byte[], byte[]>> range(byte[] from, byte[] to) {
        return defaultTree.range(from, to);
    }

    @Override
    public Iterator<Map.Entry<byte[], byte[]>> rangeReverse(byte[] from, byte[] to) {
        return defaultTree.rangeReverse(from, to);
    }

    @Override
    public long size() {
        return defaultTree.size();
    }

    @Override
    public boolean isEmpty() {
        return defaultTree.isEmpty();
    }

    @Override
    public String toString() {
        return "Snapshot[" + store.directory() + ", trees " + roots.keySet() + (closed ? ", closed]" : "]");
    }
}
