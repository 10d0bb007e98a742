package dev.toboggan;

import dev.toboggan.core.Backup;
import dev.toboggan.core.LazyLogger;
import dev.toboggan.core.pagecache.FrozenPages;
import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * An open store: the trees on one page cache, the {@link ConcurrencyControl} they share, and the
 * {@link Backend} (engine) underneath. It is the default tree too: those calls go to that tree.
 *
 * <p>Trees are named in the meta page as {@value #TREE_PREFIX} + name. Creating, dropping and renaming trees
 * is serialized on {@link #trees}' monitor (taken before the concurrency control, never after), so a name
 * has at most one open {@link BLinkTree}; a drop or a rename also holds the exclusive side, so no change runs
 * on a tree while its pages are freed or its name moves.
 */
final class Store implements Db {
    private static final LazyLogger LOG = LazyLogger.of(Store.class);
    /** Meta page names of tree roots start with this. */
    static final String TREE_PREFIX = "tree/";
    /** The least fill a build may leave its nodes at: under it, half-empty nodes would only waste space. */
    static final double MIN_FILL = 0.5;

    private final Backend backend;
    private final PageCache<Node, Delta> pc;
    private final ConcurrencyControl cc = new ConcurrencyControl();
    private final StoreTransaction.Counters transactionCounters = new StoreTransaction.Counters();
    private final Watchers.Counters watchCounters = new Watchers.Counters();
    /** What durable watches ask of the log: where it is, and to be told once it is stable past a position. */
    private final Watchers.Stability stability = new Watchers.Stability() {
        @Override
        public long reservedTip() {
            return pc.log().maxReservedLsn();
        }

        @Override
        public long stableTip() {
            return pc.log().stableTip();
        }

        @Override
        public CompletionStage<Long> stableAsync(long lsn) {
            return backend.stableAsync(lsn);
        }

        @Override
        public void awaitStable(long lsn) {
            pc.makeStable(lsn);
        }
    };
    private final TreeSettings settings;
    /** Open trees by name. Written under its own monitor. */
    private final ConcurrentHashMap<String, BLinkTree> trees = new ConcurrentHashMap<>();
    private final BLinkTree defaultTree;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Snapshots not ended yet: for {@link #metrics}, and ended by {@link #close}. */
    private final Set<StoreSnapshot.Held> snapshots = ConcurrentHashMap.newKeySet();
    private final LongAdder snapshotsTaken = new LongAdder();
    private final LongAdder snapshotsDropped = new LongAdder();
    /** The store whose transaction body runs on this thread, if any ({@link #runBody}). */
    private static final ThreadLocal<Store> BODY = new ThreadLocal<>();
    /** How many transaction bodies run on this store right now, on any thread. */
    private volatile int bodiesRunning;
    private static final AtomicIntegerFieldUpdater<Store> BODIES_RUNNING =
            AtomicIntegerFieldUpdater.newUpdater(Store.class, "bodiesRunning");

    private Store(Backend backend, TreeSettings settings) {
        this.backend = backend;
        this.pc = backend.pageCache();
        this.settings = settings;
        int freed = BulkLoad.freeAbandoned(pc); // builds a crash cut short: before anything else allocates
        if (freed > 0) {
            LOG.get().warn("freed {} level(s) of tree builds (Db.buildTree, an import, Toboggan.build) that a crash or "
                    + "a failure cut short in {}: their trees are as they were before those builds", freed,
                    backend.directory());
        }
        this.defaultTree = openTree(DEFAULT_TREE);
        trees.put(DEFAULT_TREE, defaultTree);
    }

    /** A store on {@code backend}; closes the backend if the store cannot be opened. */
    static Store open(Backend backend, TreeSettings settings) {
        try {
            return new Store(backend, settings);
        } catch (RuntimeException | Error e) {
            try {
                backend.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    // ---------------------------------------------------------------- trees

    @Override
    public Tree tree(String name) {
        Limits.checkTreeName(name);
        checkOpen();
        return openOrCreate(name);
    }

    /** {@link #tree} without its checks. */
    private BLinkTree openOrCreate(String name) {
        BLinkTree tree = trees.get(name);
        if (tree != null) {
            return tree;
        }
        synchronized (trees) {
            tree = trees.get(name);
            if (tree == null) {
                long stamp = cc.enterShared();
                try {
                    checkOpen();
                    tree = openTree(name);
                } finally {
                    cc.exitShared(stamp);
                }
                trees.put(name, tree);
            }
            return tree;
        }
    }

    /**
     * The open tree named {@code name}, or {@code null} if the store has no such tree: a transaction's read,
     * which must not create it. A drop right after may leave the tree returned dropped.
     */
    BLinkTree existingTree(String name) {
        BLinkTree tree = trees.get(name);
        if (tree != null) {
            return tree;
        }
        synchronized (trees) {
            return heldTree(name, false);
        }
    }

    /**
     * The tree named {@code name}, opened if it is not open yet; if the store has none, created when
     * {@code create}, else {@code null}. The caller holds {@link #trees}' monitor, and may hold the
     * exclusive side of the concurrency control too (a transaction that runs alone, or commits).
     */
    BLinkTree heldTree(String name, boolean create) {
        BLinkTree tree = trees.get(name);
        if (tree == null && (create || pc.root(TREE_PREFIX + name) != PageCache.NO_ROOT)) {
            checkNotClosed();
            tree = openTree(name);
            trees.put(name, tree);
        }
        return tree;
    }

    /** The tree named {@code name}, created (an empty leaf as its root, atomically) if it does not exist. */
    private BLinkTree openTree(String name) {
        String rootName = TREE_PREFIX + name;
        long root = pc.root(rootName);
        if (root == PageCache.NO_ROOT) {
            try (dev.toboggan.core.pagecache.Batch atomic = pc.openBatch()) {
                Page<Node> leaf = pc.allocate(Leaf.emptyRoot());
                if (!pc.casRoot(rootName, PageCache.NO_ROOT, leaf.pid())) {
                    throw new IllegalStateException("the root of tree '" + name + "' was created by someone else");
                }
                root = leaf.pid();
            }
        }
        return new BLinkTree(this, name, rootName, root);
    }

    @Override
    public List<String> treeNames() {
        checkOpen();
        return new ArrayList<>(treeRoots().keySet());
    }

    /** Every tree's name and root page, sorted by name (the page cache's roots of the trees' names). */
    private SortedMap<String, Long> treeRoots() {
        SortedMap<String, Long> roots = new TreeMap<>();
        pc.roots().forEach((rootName, root) -> {
            if (rootName.startsWith(TREE_PREFIX)) {
                roots.put(rootName.substring(TREE_PREFIX.length()), root);
            }
        });
        return roots;
    }

    @Override
    public boolean dropTree(String name) {
        Limits.checkTreeName(name);
        if (DEFAULT_TREE.equals(name)) {
            throw new IllegalArgumentException("the default tree cannot be dropped; remove its keys instead");
        }
        BLinkTree.Teardown surveyed = survey(name);
        return changeTrees(() -> {
            String rootName = TREE_PREFIX + name;
            long root = pc.root(rootName);
            BLinkTree tree = trees.remove(name);
            if (tree != null) {
                tree.endWatches(new IllegalStateException("the tree '" + name + "' was dropped; its watch ended"));
            }
            if (root == PageCache.NO_ROOT) {
                return new TreesChanged<>(false, null);
            }
            BLinkTree dropped = tree != null ? tree : new BLinkTree(this, name, rootName, root);
            return new TreesChanged<>(true, dropped.drop(surveyed));
        });
    }

    /**
     * {@link BLinkTree#survey} of the tree named {@code name}, before it is torn down; {@code null} if the store has
     * no such tree or the survey did not go through.
     */
    private BLinkTree.Teardown survey(String name) {
        checkOpen();
        BLinkTree tree = existingTree(name);
        return tree == null ? null : tree.survey();
    }

    /** What a change of the store's set of trees returned, and the frees of a torn-down tree it left to run, or null. */
    private record TreesChanged<T>(T result, BLinkTree.Teardown.Frees frees) {}

    /**
     * Runs {@code change} of the store's set of trees (a drop, a rename) alone: under {@link #trees}' monitor, then
     * the exclusive side, with the store open. The frees of the pages of a tree it tore down run after both are let
     * go, on a writer's side the exclusive side turns into ({@link ConcurrencyControl#toShared}): writers go on, and
     * close waits for them.
     */
    private <T> T changeTrees(java.util.function.Supplier<TreesChanged<T>> change) {
        checkOpen();
        TreesChanged<T> changed;
        long stamp;
        synchronized (trees) {
            stamp = cc.enterExclusive();
            try {
                checkOpen();
                changed = change.get();
            } catch (RuntimeException | Error e) {
                cc.exitExclusive(stamp);
                throw e;
            }
            if (changed.frees() == null) {
                cc.exitExclusive(stamp);
                return changed.result();
            }
            stamp = cc.toShared(stamp);
        }
        try {
            changed.frees().run();
        } finally {
            cc.exitShared(stamp);
        }
        return changed.result();
    }

    @Override
    public boolean renameTree(String from, String to) {
        Limits.checkTreeName(from);
        Limits.checkTreeName(to);
        if (DEFAULT_TREE.equals(from)) {
            throw new IllegalArgumentException("the default tree cannot be renamed (it always exists); build a named "
                    + "tree of its entries instead (Db.buildTree(name, db.iterator()))");
        }
        if (from.equals(to)) {
            throw new IllegalArgumentException("tree '" + from + "' cannot be renamed to its own name");
        }
        BLinkTree.Teardown surveyed = survey(to);
        return changeTrees(() -> {
            String sourceName = TREE_PREFIX + from;
            long source = pc.root(sourceName);
            if (source == PageCache.NO_ROOT) {
                throw new IllegalArgumentException("there is no tree '" + from + "' to rename; Db.treeNames() "
                        + "lists the store's trees");
            }
            BLinkTree replaced = heldTree(to, false);
            if (replaced != null && replaced.watchCount() > 0) {
                throw new IllegalStateException("the tree '" + to + "' has watches: renaming tree '" + from
                        + "' onto it would change every key under them at once; cancel them first, or rename to "
                        + "a free name");
            }
            Runnable unlinkSource = () -> {
                if (!pc.casRoot(sourceName, source, PageCache.NO_ROOT)) {
                    throw new IllegalStateException("the root of tree '" + from + "' changed during its rename");
                }
            };
            BLinkTree.Teardown.Frees frees = null;
            if (replaced != null) {
                frees = replaced.takeOver(source, unlinkSource, surveyed);
            } else {
                try (dev.toboggan.core.pagecache.Batch atomic = pc.openBatch()) {
                    if (!pc.casRoot(TREE_PREFIX + to, PageCache.NO_ROOT, source)) {
                        throw new IllegalStateException("the tree '" + to + "' appeared during a rename onto it");
                    }
                    unlinkSource.run();
                }
            }
            // Only now: no change runs while the exclusive side is held, so the old object served nothing since.
            BLinkTree moved = trees.remove(from);
            if (moved != null) {
                moved.retire("the tree '" + from + "' was renamed to '" + to + "'; Db.tree(\"" + to
                        + "\") is that tree now");
            }
            return new TreesChanged<>(replaced != null, frees);
        });
    }

    @Override
    public long buildTree(String name, Iterator<? extends Map.Entry<byte[], byte[]>> ascending, double fill) {
        Limits.checkTreeName(name);
        if (ascending == null) {
            throw new IllegalArgumentException("the entries of tree '" + name + "' are null: pass an iterator");
        }
        if (!(fill >= MIN_FILL && fill <= 1)) {
            throw new IllegalArgumentException("a build of tree '" + name + "' cannot fill its nodes to " + fill
                    + " of node-split-size: pass a fraction from " + MIN_FILL + " to 1 (1: full nodes, for a tree "
                    + "read more than written to; 0.7 or so leaves room for inserts among its entries)");
        }
        checkOpen();
        synchronized (trees) {
            checkBuildable(name); // fails early; checked again where the tree is named
        }
        BulkLoad load = startBuild(name, fill);
        try {
            while (ascending.hasNext()) {
                Map.Entry<byte[], byte[]> entry = ascending.next();
                if (entry == null || entry.getKey() == null || entry.getValue() == null) {
                    throw new IllegalArgumentException("tree '" + name + "' has "
                            + (entry == null ? "a null entry" : "an entry with a null "
                                    + (entry.getKey() == null ? "key" : "value"))
                            + ": every entry of a build needs a key and a value (the empty array is allowed)");
                }
                Limits.checkKey(entry.getKey());
                Limits.checkValue(entry.getValue());
                load.add(entry.getKey(), entry.getValue()); // it copies what it keeps
            }
        } catch (RuntimeException | Error e) {
            load.abandon(e);
            throw e;
        }
        finishBuild(load);
        return load.entries();
    }

    /**
     * A build of the tree named {@code name} ({@link BulkLoad}), its nodes filled to {@code fill} of
     * {@code node-split-size}: the caller adds its entries, then calls {@link #finishBuild}, or
     * {@link BulkLoad#abandon} if it gives up.
     */
    BulkLoad startBuild(String name, double fill) {
        return new BulkLoad(pc, name, (int) (settings.nodeSplitSize() * fill), settings.maxInlineValue());
    }

    /**
     * Writes the build's last nodes and names its root as its tree's, in one batch with the removal of the
     * build's roots, under the exclusive side; an empty tree of that name is replaced (its root leaf freed), and
     * its open {@link BLinkTree} reads from the new root on. Abandons the build if that fails.
     *
     * @throws IllegalStateException if the tree got entries or watches while it was built
     */
    void finishBuild(BulkLoad load) {
        String name = load.tree();
        try {
            long top = load.finish();
            synchronized (trees) {
                long stamp = cc.enterExclusive();
                // The tree's open object is what reads it: the structure change (its old root freed) is its own.
                BLinkTree open = trees.get(name);
                if (open != null) {
                    open.beginStructureChange();
                }
                try {
                    checkNotClosed();
                    long old = checkBuildable(name);
                    String rootName = TREE_PREFIX + name;
                    try (dev.toboggan.core.pagecache.Batch atomic = pc.openBatch()) {
                        if (!pc.casRoot(rootName, old, top)) {
                            throw new IllegalStateException("the root of tree '" + name + "' changed while it was "
                                    + "named; nothing was built");
                        }
                        load.named();
                        for (Map.Entry<String, Long> root : load.roots().entrySet()) {
                            if (!pc.casRoot(root.getKey(), root.getValue(), PageCache.NO_ROOT)) {
                                throw new IllegalStateException("the build root " + root.getKey() + " changed while "
                                        + "the build named its tree; the store is corrupt");
                            }
                        }
                        if (old != PageCache.NO_ROOT) {
                            pc.free(old, pc.get(old));
                        }
                    }
                    if (open != null) {
                        open.rootReplaced(top);
                    }
                } finally {
                    if (open != null) {
                        open.endStructureChange();
                    }
                    cc.exitExclusive(stamp);
                }
            }
        } catch (RuntimeException | Error e) {
            load.abandon(e);
            throw e;
        }
    }

    /**
     * Checks that a build may fill the tree named {@code name}: it does not exist, or is empty (one leaf)
     * without watches. The caller holds {@link #trees}' monitor.
     *
     * @return the tree's root page, or {@link PageCache#NO_ROOT}
     */
    private long checkBuildable(String name) {
        long root = pc.root(TREE_PREFIX + name);
        if (root == PageCache.NO_ROOT) {
            return root;
        }
        Page<Node> page = pc.get(root);
        if (!(page.value() instanceof Leaf leaf) || leaf.count() > 0 || leaf.next != TreeNode.NO_PID) {
            throw new IllegalStateException("the tree '" + name + "' is not empty (its root is not a lone empty "
                    + "leaf): a build fills a new or empty tree; drop it first, or build under another name");
        }
        BLinkTree open = trees.get(name);
        if (open != null && open.watchCount() > 0) {
            throw new IllegalStateException("the tree '" + name + "' has " + open.watchCount() + " watch(es): a "
                    + "build fills the tree at once, which no watch would see; end them, or build under another name");
        }
        return root;
    }

    @Override
    public void applyBatches(Map<String, Batch> batches) {
        if (batches == null) {
            throw new IllegalArgumentException("the batches are null: pass a map from tree name to batch");
        }
        checkOpen();
        Map<String, Batch> changing = new TreeMap<>(); // one order for every call: by tree name
        for (Map.Entry<String, Batch> e : batches.entrySet()) {
            if (e.getKey() == null) {
                throw new IllegalArgumentException("a tree name in the batches is null");
            }
            Limits.checkTreeName(e.getKey());
            if (e.getValue() == null) {
                throw new IllegalArgumentException("the batch for tree '" + e.getKey() + "' is null");
            }
            if (!e.getValue().isEmpty()) {
                changing.put(e.getKey(), e.getValue());
            }
        }
        if (changing.isEmpty()) {
            return;
        }
        List<BLinkTree> targets = new ArrayList<>();
        for (String name : changing.keySet()) {
            targets.add((BLinkTree) tree(name));
        }
        BLinkTree.applyAtomically(targets, new ArrayList<>(changing.values()));
    }

    @Override
    public <R> R transaction(Function<? super Transaction, ? extends R> body) {
        if (body == null) {
            throw new IllegalArgumentException("the transaction's body is null: pass a function of the Transaction");
        }
        checkOpen();
        return StoreTransaction.run(this, body);
    }

    /** Trees by name, whose monitor a transaction's commit takes before the exclusive side (see the class comment). */
    Object treesMonitor() {
        return trees;
    }

    /**
     * Runs a transaction's body on this thread, with every call on this store from this thread refused
     * until it returns ({@link #checkOpen}): such a call would not be part of the transaction, and one that
     * waits for the concurrency control would wait for ever while the body runs alone.
     */
    <R> R runBody(StoreTransaction tx, Function<? super Transaction, ? extends R> body) {
        Store outer = BODY.get();
        BODY.set(this);
        BODIES_RUNNING.getAndIncrement(this);
        try {
            return body.apply(tx);
        } finally {
            BODIES_RUNNING.getAndDecrement(this);
            if (outer == null) {
                BODY.remove();
            } else {
                BODY.set(outer);
            }
        }
    }

    // ---------------------------------------------------------------- the store

    @Override
    public long generateId() {
        checkOpen();
        return pc.generateId();
    }

    @Override
    public long sizeOnDisk() {
        checkOpen();
        return pc.sizeOnDisk();
    }

    @Override
    public StoreMetrics metrics() {
        checkOpen();
        return new StoreMetrics(pc.sizeOnDisk(), pc.cacheStats(), pc.cleaning().metrics(), pc.log().stats(),
                pc.metrics(), cc.metrics(), transactionCounters.snapshot(),
                watchCounters.snapshot(trees.values().stream().mapToInt(BLinkTree::watchCount).sum()),
                snapshotMetrics());
    }

    private StoreMetrics.Snapshots snapshotMetrics() {
        int open = 0;
        long oldest = Long.MAX_VALUE;
        long now = System.nanoTime();
        for (StoreSnapshot.Held held : snapshots) {
            open++;
            oldest = Math.min(oldest, held.takenNanos() - now); // a difference: nanoTime may be negative
        }
        return new StoreMetrics.Snapshots(open, snapshotsTaken.sum(), snapshotsDropped.sum(),
                open == 0 ? 0 : -oldest / 1_000_000);
    }

    /**
     * Lists a snapshot just taken ({@link StoreSnapshot}'s constructor). The flag is read after the listing and
     * {@link #close} sets it before it ends the listed ones, so a snapshot racing with the close is ended by one
     * of the two.
     *
     * @throws IllegalStateException if the store was closed meanwhile: the snapshot is ended
     */
    void snapshotTaken(StoreSnapshot.Held held) {
        snapshots.add(held);
        snapshotsTaken.increment();
        if (closed.get()) {
            held.end();
            checkNotClosed();
        }
    }

    /** A snapshot ended: by its close, the store's, or the cleaner of dropped snapshots. */
    void snapshotEnded(StoreSnapshot.Held held) {
        snapshots.remove(held);
    }

    /** A snapshot was ended by the cleaner of dropped snapshots: it became unreachable unclosed. */
    void snapshotDropped() {
        snapshotsDropped.increment();
    }

    StoreTransaction.Counters transactionCounters() {
        return transactionCounters;
    }

    Watchers.Counters watchCounters() {
        return watchCounters;
    }

    Watchers.Stability stability() {
        return stability;
    }

    @Override
    public boolean wasRecovered() {
        checkOpen();
        return pc.wasRecovered();
    }

    @Override
    public Path directory() {
        return backend.directory();
    }

    @Override
    public Backup backup(Path target) {
        checkOpen();
        return pc.backup(target);
    }

    @Override
    public Dump export(Path dump) {
        if (dump == null) {
            throw new IllegalArgumentException("the dump's path is null: name a file that does not exist yet");
        }
        checkOpen();
        Path file = dump.toAbsolutePath().normalize();
        if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException("the dump " + dump + " exists already: name a new file (an export "
                    + "never overwrites one)");
        }
        if (file.getParent() == null || !Files.isDirectory(file.getParent())) {
            throw new IllegalArgumentException("the dump's directory " + file.getParent() + " does not exist: "
                    + "create it first");
        }
        if (file.startsWith(backend.directory().toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("the dump " + dump + " lies inside the store's directory "
                    + backend.directory() + ": put it elsewhere");
        }
        Frozen moment = freeze(false);
        try (FrozenPages<Node> frozen = moment.pages(); DumpFormat.Writer writer = new DumpFormat.Writer(file)) {
            for (Map.Entry<String, Long> root : moment.roots().entrySet()) {
                writer.tree(root.getKey());
                BLinkTree.exportFrozen(root.getKey(), frozen, root.getValue(), writer);
            }
            return writer.finish(pc.generateId());
        } catch (IOException e) {
            throw new UncheckedIOException("could not write the dump " + dump + " (none was left behind; the "
                    + "store is unchanged): " + e.getMessage(), e);
        }
    }

    @Override
    public Snapshot snapshot() {
        checkOpen();
        Frozen moment = freeze(true);
        return new StoreSnapshot(this, moment.roots(), moment.pages());
    }

    /** The trees' roots and the page table of one moment: {@link #freeze}. */
    private record Frozen(SortedMap<String, Long> roots, FrozenPages<Node> pages) {}

    /**
     * The trees' roots and a copy of the page table as of one moment, for an export's walk or a snapshot's
     * shared reads ({@link PageCache#freeze}, {@link PageCache#freezeShared}): writers, batches, transactions
     * and drops wait while the page table is copied, so no change is half made in it, then go on while the
     * copy is read.
     */
    private Frozen freeze(boolean shared) {
        synchronized (trees) {
            long stamp = cc.enterExclusive();
            try {
                checkNotClosed();
                return new Frozen(treeRoots(), shared ? pc.freezeShared() : pc.freeze());
            } finally {
                cc.exitExclusive(stamp);
            }
        }
    }

    @Override
    public long flush() {
        checkOpen();
        return backend.flush();
    }

    @Override
    public CompletionStage<Long> flushAsync() {
        checkOpen();
        return backend.flushAsync();
    }

    @Override
    public void close() {
        checkNotInBody();
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        // Writers that got in before the flag was set finish first; later ones see it and fail.
        long stamp = cc.enterExclusive();
        List<BLinkTree> open = List.copyOf(trees.values()); // none opens from now: the closed flag is set
        open.forEach(BLinkTree::beginStructureChange);
        try {
            endWatches();
            // before the log closes: each waits for its reads from the log in progress
            snapshots.forEach(StoreSnapshot.Held::end);
            backend.close();
        } finally {
            open.forEach(BLinkTree::endStructureChange);
            cc.exitExclusive(stamp);
        }
    }

    /**
     * Completes every watch at the close, after its last events: a flush first, so that a durable watch's last
     * events are durable (no writer runs: the caller holds the exclusive side); if it fails, the watches fail
     * with its error.
     */
    private void endWatches() {
        RuntimeException failure = null;
        if (trees.values().stream().anyMatch(tree -> tree.watchCount() > 0)) {
            try {
                backend.flush();
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        for (BLinkTree tree : trees.values()) {
            tree.endWatches(failure);
        }
    }

    /** Drops the store without writing anything, as a crash would (tests: after a simulated power loss). */
    void abandon() {
        if (closed.compareAndSet(false, true)) {
            trees.values().forEach(tree -> tree.endWatches(new IllegalStateException("the store was abandoned")));
            backend.abandon();
        }
    }

    /** Refuses a call on a closed store, and a call from inside one of this store's transaction bodies. */
    void checkOpen() {
        checkNotClosed();
        checkNotInBody();
    }

    void checkNotClosed() {
        if (closed.get()) {
            throw new IllegalStateException("the store at " + backend.directory() + " is closed");
        }
    }

    private void checkNotInBody() {
        // the thread-local is read only while some body runs: a plain call pays one volatile read
        if (bodiesRunning != 0 && BODY.get() == this) {
            throw new IllegalStateException("a call on the store inside a transaction's body: read and write "
                    + "through the Transaction the body was given (a call on the store would not be part of the "
                    + "transaction, and the body may run more than once); do anything else after the transaction");
        }
    }

    boolean isOpen() {
        return !closed.get();
    }

    PageCache<Node, Delta> pageCache() {
        return pc;
    }

    ConcurrencyControl concurrency() {
        return cc;
    }

    TreeSettings settings() {
        return settings;
    }

    Backend backend() {
        return backend;
    }

    // ---------------------------------------------------------------- the default tree

    @Override
    public String name() {
        return DEFAULT_TREE;
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
    public byte[] insert(byte[] key, byte[] value) {
        return defaultTree.insert(key, value);
    }

    @Override
    public byte[] remove(byte[] key) {
        return defaultTree.remove(key);
    }

    @Override
    public SwapResult compareAndSwap(byte[] key, byte[] expected, byte[] newValue) {
        return defaultTree.compareAndSwap(key, expected, newValue);
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
    public void applyBatch(Batch batch) {
        defaultTree.applyBatch(batch);
    }

    @Override
    public Flow.Publisher<WatchEvent> watchPrefix(byte[] prefix, WatchDelivery delivery, Executor executor,
            int bufferCapacity) {
        return defaultTree.watchPrefix(prefix, delivery, executor, bufferCapacity);
    }

    @Override
    public Flow.Publisher<WatchEvent> watchPrefixWithState(byte[] prefix, WatchDelivery delivery, Executor executor,
            int bufferCapacity) {
        return defaultTree.watchPrefixWithState(prefix, delivery, executor, bufferCapacity);
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
    public long clear() {
        return defaultTree.clear();
    }

    @Override
    public String toString() {
        return "Db[" + backend.directory() + (closed.get() ? ", closed" : "") + "]";
    }
}
