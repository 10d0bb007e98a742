package dev.toboggan;

import dev.toboggan.core.LazyLogger;
import dev.toboggan.core.pagecache.FrozenPages;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@link Snapshot}: the trees' roots and a shared {@link FrozenPages} copy of the page table, both taken by
 * {@link Store#snapshot} while the store's writers were held, and a {@link FrozenTree} per tree read. What it
 * keeps is its {@link Held} part, which the store lists ({@link Store#metrics}: how many are open, the oldest's
 * age) and ends at its own close. Closing the snapshot ends it; so does the JVM's {@link Cleaner} once the
 * snapshot became unreachable unclosed (a leak: a snapshot dropped on an exception path would otherwise keep
 * its segments on disk until the store closes), with a warning that says so.
 *
 * <p>The held part must not refer to the snapshot (the cleaner would then never see it unreachable), and a
 * read keeps the snapshot reachable until it has its page ({@link #read}'s reachability fence): a snapshot
 * whose last use is a read in progress is not ended under it. Its trees and their iterators refer to it, so
 * a caller holding only a tree of it, or an iterator, holds it.
 */
final class StoreSnapshot implements Snapshot {
    private static final LazyLogger LOG = LazyLogger.of(StoreSnapshot.class);

    private final Store store;
    private final SortedMap<String, Long> roots;
    private final Held held;
    private final Cleaner.Cleanable leakGuard;
    private final FrozenTree defaultTree;

    /**
     * Takes a snapshot of the roots and pages {@code store} froze, and lists it with the store.
     *
     * @throws IllegalStateException if the store closed meanwhile (the pages are let go)
     */
    StoreSnapshot(Store store, SortedMap<String, Long> roots, FrozenPages<Node> pages) {
        this.store = store;
        this.roots = roots;
        this.held = new Held(store, pages, System.nanoTime());
        store.snapshotTaken(held);
        this.leakGuard = Leaks.CLEANER.register(this, held);
        this.defaultTree = tree(Db.DEFAULT_TREE, roots);
    }

    /**
     * What a snapshot keeps until it ends: the frozen pages (and through them the retention of the log's
     * segments and blobs). Ended once, by whichever comes first: the snapshot's close, the store's close, or
     * the cleaner (then it is a leak: {@link #run}).
     */
    static final class Held implements Runnable {
        private final Store store;
        private final FrozenPages<Node> pages;
        private final long takenNanos;
        private final AtomicBoolean ended = new AtomicBoolean();

        private Held(Store store, FrozenPages<Node> pages, long takenNanos) {
            this.store = store;
            this.pages = pages;
            this.takenNanos = takenNanos;
        }

        /** When the snapshot was taken ({@link System#nanoTime}). */
        long takenNanos() {
            return takenNanos;
        }

        boolean isEnded() {
            return ended.get();
        }

        /**
         * Lets go of the pages, once: the cleaner may free what they kept.
         *
         * @return whether this call ended it
         */
        boolean end() {
            if (!ended.compareAndSet(false, true)) {
                return false;
            }
            try {
                pages.close();
            } finally {
                store.snapshotEnded(this);
            }
            return true;
        }

        /** The cleaner's action: the snapshot became unreachable without its close. */
        @Override
        public void run() {
            if (end()) {
                LOG.get().warn("a snapshot of the store at {} became unreachable {} ms after it was taken without "
                        + "being closed; it is closed now, and until now it kept its moment's pages and log "
                        + "segments. Close every snapshot (try-with-resources)", store.directory(),
                        (System.nanoTime() - takenNanos) / 1_000_000);
                store.snapshotDropped(); // after the warning: whoever sees the count finds the warning logged
            }
        }
    }

    /** The JVM's one cleaner of dropped snapshots, its daemon thread started by the first snapshot. */
    private static final class Leaks {
        static final Cleaner CLEANER = Cleaner.create(task -> {
            Thread thread = new Thread(task, "toboggan-snapshot-cleaner");
            thread.setDaemon(true);
            return thread;
        });
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
        if (held.isEnded()) {
            throw new IllegalStateException("this snapshot of the store at " + store.directory()
                    + " is closed: take a new one (Db.snapshot)");
        }
    }

    /** Page {@code pid} as of the snapshot's moment ({@code null}: free then). */
    Node read(long pid) {
        try {
            return held.pages.read(pid);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    @Override
    public void close() {
        held.end();
        leakGuard.clean(); // the cleaner's action is then a no-op: it is ended
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
        return "Snapshot[" + store.directory() + ", trees " + roots.keySet() + (held.isEnded() ? ", closed]" : "]");
    }
}
