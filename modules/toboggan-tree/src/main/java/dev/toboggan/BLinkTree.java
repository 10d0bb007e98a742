package dev.toboggan;

import dev.toboggan.core.LazyLogger;
import dev.toboggan.core.TobogganException;
import dev.toboggan.core.pagecache.CasResult;
import dev.toboggan.core.pagecache.FrozenPages;
import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.stream.LongStream;

/**
 * A lock-free B-link tree whose nodes are pages of the page cache (sled's {@code Tree}, after Lehman and
 * Yao's B-link tree and the Bw-tree): inserts and removes are deltas linked onto the leaf, structure
 * changes are page replacements and linked index deltas, and no operation ever waits for another except
 * around atomic batches ({@link ConcurrencyControl}).
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Structure</b>: see {@link TreeNode} for the node invariants (each level is one chain of
 *       right links from an empty {@code lo}; a page's {@code lo} never changes) and {@link Index} for the
 *       index invariants (each child's {@code lo} is its separator). The tree's root page is named in the
 *       meta page under {@link #rootName}; {@link #rootPid} caches it.
 *   <li><b>Lookups</b> descend from the root: at each node, walk right while the key is at or past
 *       {@code hi}, then descend to the last child whose separator is at most the key. The right walk is
 *       what makes a lookup correct during a split: an index may not know a new node yet, but the node to
 *       its left links to it. A lookup reads each page once, as it is current at that moment; it is
 *       linearized at its read of the leaf (the key's presence in a leaf version that covers the key is
 *       the truth at that moment).
 *   <li><b>Changes</b> of a key are one {@link PageCache#link} of a {@link Delta.Put} or
 *       {@link Delta.Remove} onto the leaf version that was read: the page table CAS is the
 *       linearization point. If the leaf changed meanwhile the link fails with its current version, and
 *       the change is re-derived from it (walking right if the leaf was split past the key).
 *       Compare-and-swap compares against the very version it links onto, so it is atomic.
 *   <li><b>Splits</b>, when a node's encoded size passes {@code node-split-size}: (1) allocate the right
 *       half as a new page, (2) replace the node with its left half, whose {@code hi} is the separator
 *       and whose {@code next} is the new page (one CAS: from here on every key of the right half is
 *       reachable through the right link), (3) link an {@link Delta.AddChild} onto the parent, or, for
 *       the root, allocate a new root above both and {@code casRoot} it. Steps 1–2 (and the two steps of
 *       a root growth) form one page cache batch, so a crash never leaves the new page orphaned. If (2)
 *       loses to a concurrent change, the new page is freed (no reader could have seen it) and the split
 *       is re-derived from the current version.
 *   <li><b>Lazy repair</b>: step 3 can be missed — it lost a race, or a crash came between (2) and
 *       (3), or a root growth found the root changed. The tree is correct without it (right links), and
 *       every writer that walks right from a node to its sibling links the missing child entry into the
 *       parent it came from (or, at the top, grows the root). Duplicates are harmless: a separator
 *       already present is not linked again, and applying it twice is no change.
 *   <li><b>Merges</b>: a remove that leaves a leaf empty, or underfull (under a quarter of
 *       {@code node-split-size}) next to a sibling the two fit in, queues its {@code lo} ({@link #underfull});
 *       the writer, after it left the shared side (or an {@link #applyBatch}, before it leaves the exclusive
 *       one), takes the exclusive side and merges: the first underfull node on the way up from that leaf
 *       (an empty leaf, an index node with one child, or a node under a quarter full) and a sibling under
 *       the same parent become one, the left page absorbing the right one ({@link TreeNode#absorb}), the
 *       parent losing the right one's entry (a {@link Delta.RemoveChild} linked onto it), the right page
 *       freed, all in one page cache batch. Then again from the same leaf, until no merge applies. Under
 *       the exclusive side no tree change runs, so the three steps need no CAS protocol of their own: a
 *       failed CAS lost only to the page cache's background work, which does not change what a page
 *       holds, and is retried. A pair that is not linked as siblings yet (a split cut short) is left
 *       alone, and so is one that would exceed {@code node-split-size} (an empty leaf or a one-child index
 *       node) or three quarters of it (two nodes that both hold entries, so the merged node does not split
 *       again at its next inserts): an underfull node is correct. The root never shrinks, so
 *       {@link #rootPid} stays valid.
 *   <li><b>Clears</b> ({@link #clear}), drops and renames onto the tree ({@link #takeOver}) hold the exclusive
 *       side: they read the whole tree first (level by level along the right links, from the root page named in
 *       the meta page: {@link #rootPid} may lag a root growth; or, if nothing changed since, as {@link #survey}ed
 *       before the exclusive side was taken, which also read it into the cache), with readers still going, then one structure
 *       change in one page cache batch replaces the root page by an empty leaf, keeping its id (a drop removes
 *       the root's name instead, a rename names the renamed tree's root), and frees every other page (all of
 *       them, for a drop or a rename) and every value page the leaves reference. Readers met by the change read
 *       again from the root; a crash keeps all of it or none.
 *   <li><b>Batches</b> ({@link #applyHeld}) run under the exclusive side, so no writer changes a page
 *       meanwhile; readers go on. Each change of a batch registers the pages it is about to change (the
 *       leaf, and a split's two halves) with {@link ConcurrencyControl#willChange} before its CAS, and a
 *       reader that read a registered page waits for the batch to end and reads again: no reader sees part
 *       of a batch, and one that reads only pages the batch does not touch never waits for it.
 *   <li><b>Watches</b> ({@link Watchers}): a single-key change takes its slot in each watch of its key after it
 *       read the leaf version it links onto and before its CAS, and fills it once the change is made and its
 *       own page cache batch closed ({@link #closeThenTell}); a batch tells its watches after its last change,
 *       still holding the exclusive side. That is what orders a key's events as its changes were made.
 *   <li><b>Values</b> longer than {@code max-inline-value} live in a {@link ValuePage}: allocated
 *       before the link that references it, freed by the change that replaces or removes the
 *       reference, all in one page cache batch. Exactly one change replaces a given reference (the one
 *       whose CAS succeeded), so each value page is freed once.
 *   <li><b>Page ids</b> can be freed and handed out again, so an id read from a page may come to mean
 *       another page. The tree needs no {@link dev.toboggan.core.pagecache.Guard} for that (a guard's
 *       full fence and thread-local lookup cost a fifth of a point read), because it frees pages only
 *       where it can tell: tree nodes only in a merge, a clear, a drop or a rename onto the tree, which hold the
 *       exclusive side as structure changes of this tree (a drop sets {@link #ended} first), so no writer is
 *       running and every reader of this tree fails its stamp validation against the tree's own
 *       {@link #structure} (a reader's walk checks the stamp every {@value #VALIDATE_EVERY} steps, so pages
 *       reused under it cannot keep it going, and an error it meets is reported only if the stamp is still
 *       valid). Readers of other trees need not fail: they never follow this tree's page ids; a
 *       value page only after the change that dropped its reference, by the writer of that change,
 *       which is the only one that can. A reader reads a value page BEFORE checking that the leaf that
 *       references it is unchanged ({@link #readValue}): the page is freed after that leaf version is
 *       replaced, and reused after it is freed (each step published by a release CAS that the reader's
 *       acquire loads see in order), so the page read was the value. SLED-REFERENCE §11 calls this
 *       validate-after-read.
 *   <li><b>Iterators</b> read one leaf at a time, as an optimistic read: the entries of one leaf
 *       version in the range, then continue from that version's {@code hi}: at its {@code next} if no
 *       structure change ran since it was read and that page still starts at that {@code hi}, else
 *       from a new descent (a merge may have freed the page, and its id may now name a leaf of another
 *       tree that starts at the same key). Positions only move forward (backward for reverse
 *       scans), so no key is returned twice; a key present throughout is in the leaf covering it at the
 *       moment that leaf is read, so none is missed.
 * </ul>
 */
final class BLinkTree implements Tree, LeafReader {
    private static final LazyLogger LOG = LazyLogger.of(BLinkTree.class);
    /** Steps of a reader's walk between two checks that no structure change started. */
    private static final int VALIDATE_EVERY = 32;
    /** A bound on the merges one queued leaf leads to; a few per level of the tree is what they take. */
    private static final int MERGES_PER_LEAF = 64;
    /**
     * A node whose encoded size is under {@code node-split-size} divided by this is underfull, and merges
     * with a sibling if the two fit in {@code node-split-size} times {@link #MERGED_FILL} (an empty leaf
     * and an index node with one child are underfull at any size, and merge with any sibling they fit in).
     */
    private static final int UNDERFULL_DIVISOR = 4;
    /**
     * How full a merge of two nodes that both hold entries may make the merged node: the gap to
     * {@code node-split-size} keeps a merged node from splitting again at its next few inserts.
     */
    private static final double MERGED_FILL = 0.75;

    private final Store store;
    private final PageCache<Node, Delta> pc;
    private final ConcurrencyControl cc;
    private final String name;
    /** The meta page's name for this tree's root. */
    private final String rootName;
    private final int splitSize;
    private final int maxInlineValue;
    /**
     * The root page as last seen. A stale value is benign: an old root is still the first node of its
     * level, so a traversal from it is correct, and the first root growth that starts from it fails its
     * {@code casRoot} and refreshes this from the meta page. The exceptions, a build that fills the empty
     * tree ({@link #rootReplaced}), a {@link #clear} (which frees every page but the root the meta page names, and
     * sets this to it) and a rename onto the tree ({@link #takeOver}), free an old root while they hold the
     * exclusive side and a structure change, which no writer runs through and every reader that read the old value
     * sees at its validation; each sets this before the structure change ends.
     */
    private volatile long rootPid;
    /** The sequence lock this tree's readers validate against, which its structure changes bump. */
    private final StructureSequence structure = new StructureSequence();
    /**
     * Why this object no longer serves its tree, the message its calls then fail with; {@code null} while it does.
     * Set (before any page is freed) when the tree is dropped, or when it is renamed ({@link #retire}).
     */
    private volatile String ended;
    /**
     * The {@code lo} of each leaf a remove emptied or left underfull next to a sibling it fits in, until
     * {@link #mergeUnderfull} looks at it.
     */
    private final Queue<byte[]> underfull = new ConcurrentLinkedQueue<>();
    private final Watchers watchers;

    BLinkTree(Store store, String name, String rootName, long rootPid) {
        this.store = store;
        this.pc = store.pageCache();
        this.cc = store.concurrency();
        this.name = name;
        this.rootName = rootName;
        this.splitSize = store.settings().nodeSplitSize();
        this.maxInlineValue = store.settings().maxInlineValue();
        this.rootPid = rootPid;
        this.watchers = new Watchers(name, store.watchCounters(), store.stability());
    }

    @Override
    public String name() {
        return name;
    }

    // ---------------------------------------------------------------- reads

    @Override
    public byte[] get(byte[] key) {
        Limits.checkKey(key);
        store.checkOpen();
        return read(key);
    }

    /**
     * The value of {@code key} ({@link #get} without the checks of its input and of the store). Also called
     * with the exclusive side held (a {@link StoreTransaction}'s commit, or its body when it runs alone): no
     * structure change nor batch runs then, so the read neither waits nor retries for one.
     */
    byte[] read(byte[] key) {
        while (true) {
            long stamp = structure.beginRead();
            try {
                checkNotDropped();
                Page<Node> view = leafFor(key, stamp);
                if (view == null) {
                    continue;
                }
                Object value = ((Leaf) view.value()).get(key);
                if (value instanceof ValueRef ref) {
                    byte[] shared = readValue(view, ref);
                    if (shared != null && structure.validate(stamp)) {
                        return shared.clone();
                    }
                } else if (structure.validate(stamp)) {
                    return (byte[]) value;
                }
            } catch (RuntimeException e) {
                rethrowIfValid(e, stamp);
            }
        }
    }

    @Override
    public boolean containsKey(byte[] key) {
        Limits.checkKey(key);
        store.checkOpen();
        while (true) {
            long stamp = structure.beginRead();
            try {
                checkNotDropped();
                Page<Node> view = leafFor(key, stamp);
                if (view != null) {
                    boolean present = ((Leaf) view.value()).contains(key);
                    if (structure.validate(stamp)) {
                        return present;
                    }
                }
            } catch (RuntimeException e) {
                rethrowIfValid(e, stamp);
            }
        }
    }

    /**
     * The leaf version whose range holds {@code key}, read without a guard; {@code null} if the caller must
     * read again: a structure change started since {@code stamp} (checked now and then, so that pages freed
     * and reused under a long walk cannot keep it going), or the leaf was being changed by a batch, which
     * this waited for ({@link #outsideBatches}).
     */
    private Page<Node> leafFor(byte[] key, long stamp) {
        Page<Node> view = readNode(rootPid);
        for (int steps = 1; ; steps++) {
            TreeNode node = node(view);
            if (node.isBeyond(key)) {
                view = readNode(node.next);
            } else if (node instanceof Index index) {
                view = readNode(index.childFor(key));
            } else {
                return outsideBatches(view);
            }
            if (steps % VALIDATE_EVERY == 0 && !structure.validate(stamp)) {
                return null;
            }
        }
    }

    /**
     * The leaf version whose range holds the keys just below {@code bound}: {@code lo < bound <= hi}; as
     * {@link #leafFor}.
     *
     * @param bound an exclusive upper bound, non-empty; {@code null} for none (the last leaf)
     */
    private Page<Node> leafBefore(byte[] bound, long stamp) {
        Page<Node> view = readNode(rootPid);
        for (int steps = 1; ; steps++) {
            TreeNode node = node(view);
            if (node.hi != null && (bound == null || Arrays.compareUnsigned(node.hi, bound) < 0)) {
                view = readNode(node.next);
            } else if (node instanceof Index index) {
                view = readNode(index.childBefore(bound));
            } else {
                return outsideBatches(view);
            }
            if (steps % VALIDATE_EVERY == 0 && !structure.validate(stamp)) {
                return null;
            }
        }
    }

    /**
     * {@code leaf}, a version a reader just read, or {@code null} once the batch being applied that is
     * changing it has ended (the reader reads again): no reader sees part of a batch.
     */
    private Page<Node> outsideBatches(Page<Node> leaf) {
        ConcurrencyControl.Applying batch = cc.batchChanging(leaf.pid());
        if (batch == null) {
            return leaf;
        }
        cc.awaitBatch(batch);
        return null;
    }

    /**
     * An error met by an optimistic read is real only if no structure change started since
     * {@code stamp}; otherwise the read saw pages freed (and maybe reused) by a drop, and is retried.
     */
    private void rethrowIfValid(RuntimeException e, long stamp) {
        if (structure.validate(stamp)) {
            throw e;
        }
    }

    /**
     * The bytes of a value page referenced by {@code leaf}, or {@code null} if the leaf changed since it
     * was read (the caller retries). NOTE: the value page is read BEFORE the leaf's slot is read again: if
     * the leaf is still that version then, the reference was still in it, so the page had not been freed
     * (a value page is freed only after the change that drops its reference), let alone reused, when it
     * was read. No guard is needed.
     */
    private byte[] readValue(Page<Node> leaf, ValueRef ref) {
        Page<Node> page = pc.get(ref.pid());
        if (pc.get(leaf.pid()) != leaf) {
            return null;
        }
        if (page != null && page.value() instanceof ValuePage value) {
            return value.value;
        }
        throw new IllegalStateException("tree '" + name + "': leaf page " + leaf.pid() + " references value page "
                + ref.pid() + ", which holds " + (page == null ? "nothing (it is free)" : page.value())
                + "; the store is corrupt");
    }

    // ---------------------------------------------------------------- iterators

    @Override
    public Iterator<Map.Entry<byte[], byte[]>> range(byte[] from, byte[] to) {
        checkBounds(from, to);
        store.checkOpen();
        return ForwardScan.entries(this, from, to);
    }

    @Override
    public Iterator<Map.Entry<byte[], byte[]>> rangeReverse(byte[] from, byte[] to) {
        checkBounds(from, to);
        store.checkOpen();
        return ReverseScan.entries(this, from, to);
    }

    @Override
    public long size() {
        store.checkOpen();
        return ForwardScan.count(this);
    }

    @Override
    public boolean isEmpty() {
        store.checkOpen();
        return ForwardScan.isEmpty(this);
    }

    /**
     * An iterator over {@code [from, to)} (bounds {@code null}: open), ascending or descending, as
     * {@link #range} and {@link #rangeReverse} make without their checks: for a transaction's range reads.
     */
    Iterator<Map.Entry<byte[], byte[]>> scan(byte[] from, byte[] to, boolean reverse) {
        return reverse ? new ReverseScan(this, from, to) : new ForwardScan(this, from == null ? TreeNode.NO_KEY : from, to, true);
    }

    /**
     * Reads the next leaf of a forward scan: the entries of {@code [scan.position, scan.to)} in the leaf
     * that holds {@code scan.position}, as one validated optimistic read, and hands them to the scan. (An
     * iterator may be read inside a transaction's body: a read waits for no lock the body may hold.)
     */
    @Override
    public void fetchForward(ForwardScan scan) {
        store.checkNotClosed();
        while (true) {
            long stamp = structure.beginRead();
            try {
                checkNotDropped();
                Page<Node> view = scan.nextPid != TreeNode.NO_PID && structure.validate(scan.nextStamp)
                        ? leafAt(scan.nextPid, scan.position) : null;
                if (view == null) {
                    view = leafFor(scan.position, stamp);
                    if (view == null) {
                        continue;
                    }
                }
                Leaf leaf = (Leaf) view.value();
                int from = lowerBound(leaf, scan.position);
                int to = scan.to == null ? leaf.count() : Math.max(from, lowerBound(leaf, scan.to));
                byte[][] keys = scan.withValues ? keys(leaf, from, to) : null;
                byte[][] values = scan.withValues ? values(view, from, to) : null;
                if (!structure.validate(stamp) || (scan.withValues && values == null)) {
                    continue;
                }
                boolean last = leaf.hi == null || (scan.to != null && Arrays.compareUnsigned(leaf.hi, scan.to) >= 0);
                scan.accept(to - from, keys, values, last ? null : leaf.hi, leaf.next, stamp);
                return;
            } catch (RuntimeException e) {
                rethrowIfValid(e, stamp);
            }
        }
    }

    /** Reads the next leaf of a reverse scan: the entries below {@code scan.position}, from {@code scan.from}. */
    @Override
    public void fetchReverse(ReverseScan scan) {
        store.checkNotClosed();
        while (true) {
            long stamp = structure.beginRead();
            try {
                checkNotDropped();
                Page<Node> view = leafBefore(scan.position, stamp);
                if (view == null) {
                    continue;
                }
                Leaf leaf = (Leaf) view.value();
                int to = scan.position == null ? leaf.count() : lowerBound(leaf, scan.position);
                int from = scan.from == null ? 0 : Math.min(to, lowerBound(leaf, scan.from));
                byte[][] keys = keys(leaf, from, to);
                byte[][] values = values(view, from, to);
                if (!structure.validate(stamp) || values == null) {
                    continue;
                }
                boolean last = leaf.lo.length == 0 || (scan.from != null && Arrays.compareUnsigned(leaf.lo, scan.from) <= 0);
                scan.accept(keys, values, last ? null : leaf.lo);
                return;
            } catch (RuntimeException e) {
                rethrowIfValid(e, stamp);
            }
        }
    }

    /**
     * The current version of leaf {@code pid} if it still starts at {@code lo} and no batch being applied is
     * changing it, else {@code null} (the caller descends, and waits for such a batch there).
     */
    private Page<Node> leafAt(long pid, byte[] lo) {
        Page<Node> page = pc.get(pid);
        return page != null && page.value() instanceof Leaf leaf && Arrays.equals(leaf.lo, lo)
                && cc.batchChanging(pid) == null ? page : null;
    }

    /** Copies of the keys of entries {@code [from, to)}. */
    static byte[][] keys(Leaf leaf, int from, int to) {
        byte[][] keys = new byte[to - from][];
        for (int i = from; i < to; i++) {
            keys[i - from] = leaf.key(i);
        }
        return keys;
    }

    /** Copies of the values of entries {@code [from, to)}, value pages read; {@code null} if one was freed meanwhile. */
    private byte[][] values(Page<Node> view, int from, int to) {
        Leaf leaf = (Leaf) view.value();
        byte[][] values = new byte[to - from][];
        for (int i = from; i < to; i++) {
            Object value = leaf.value(i);
            if (value instanceof ValueRef ref) {
                byte[] shared = readValue(view, ref);
                if (shared == null) {
                    return null;
                }
                values[i - from] = shared.clone();
            } else {
                values[i - from] = (byte[]) value;
            }
        }
        return values;
    }

    /** The index of the first key of {@code node} at or above {@code key}. */
    static int lowerBound(TreeNode node, byte[] key) {
        int i = node.search(key);
        return i >= 0 ? i : -i - 1;
    }

    static void checkBounds(byte[] from, byte[] to) {
        if (from != null && to != null && Arrays.compareUnsigned(from, to) > 0) {
            throw new IllegalArgumentException("the range starts after it ends: from " + TreeNode.show(from)
                    + " is greater than to " + TreeNode.show(to) + " (hex)");
        }
    }

    /** The smallest key greater than every key starting with {@code prefix}, or {@code null} if none is. */
    static byte[] prefixEnd(byte[] prefix) {
        for (int i = prefix.length - 1; i >= 0; i--) {
            if (prefix[i] != (byte) 0xFF) {
                byte[] end = Arrays.copyOf(prefix, i + 1);
                end[i]++;
                return end;
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- watches

    @Override
    public Flow.Publisher<WatchEvent> watchPrefix(byte[] prefix, WatchDelivery delivery, Executor executor,
            int bufferCapacity) {
        checkWatch(prefix, delivery, executor, bufferCapacity);
        return watchers.publisher(prefix, delivery == WatchDelivery.DURABLE, executor, bufferCapacity, this::admitWatch);
    }

    @Override
    public Flow.Publisher<WatchEvent> watchPrefixWithState(byte[] prefix, WatchDelivery delivery, Executor executor,
            int bufferCapacity) {
        checkWatch(prefix, delivery, executor, bufferCapacity);
        return watchers.publisher(prefix, delivery == WatchDelivery.DURABLE, executor, bufferCapacity,
                this::admitWatchAlone, this::currentState);
    }

    private void checkWatch(byte[] prefix, WatchDelivery delivery, Executor executor, int bufferCapacity) {
        if (prefix == null) {
            throw new IllegalArgumentException("the prefix is null; watch the empty prefix to see every change");
        }
        if (prefix.length > MAX_KEY_LENGTH) {
            throw new IllegalArgumentException("the prefix is " + prefix.length + " bytes long; no key is longer than "
                    + MAX_KEY_LENGTH + " bytes (Tree.MAX_KEY_LENGTH)");
        }
        if (delivery == null) {
            throw new IllegalArgumentException("the delivery is null; pass WatchDelivery.APPLIED or DURABLE");
        }
        if (executor == null) {
            throw new IllegalArgumentException("the executor is null; pass the one the subscriber should run on");
        }
        if (bufferCapacity < 1 || bufferCapacity > MAX_WATCH_BUFFER) {
            throw new IllegalArgumentException("a watch's buffer holds from 1 to " + MAX_WATCH_BUFFER
                    + " events (Tree.MAX_WATCH_BUFFER), not " + bufferCapacity);
        }
        checkWritable();
    }

    /** Runs a watch's registration as a writer, so never while the tree's watches are ended. */
    private void admitWatch(Runnable registration) {
        checkWritable(); // first: from a transaction's body running alone, the shared side would never come
        long stamp = cc.enterShared();
        try {
            checkWritable();
            registration.run();
        } finally {
            cc.exitShared(stamp);
        }
    }

    /**
     * Runs the registration of a watch that begins with the prefix's current state with the exclusive side
     * held, as a batch: no writer holds a slot or changes the tree until it has read the state and queued it.
     */
    private void admitWatchAlone(Runnable registration) {
        checkWritable();
        long stamp = cc.enterExclusive();
        try {
            checkWritable();
            registration.run();
        } finally {
            cc.exitExclusive(stamp);
        }
    }

    /** Every entry under {@code prefix}, in key order, as changes to its value: a watch's initial event. */
    private List<Change> currentState(byte[] prefix) {
        List<Change> state = new ArrayList<>();
        Iterator<Map.Entry<byte[], byte[]>> entries = scanPrefix(prefix);
        while (entries.hasNext()) {
            Map.Entry<byte[], byte[]> e = entries.next();
            state.add(Change.owning(e.getKey(), e.getValue()));
        }
        return state;
    }

    /**
     * Ends the tree's watches: completes them ({@code cause == null}) or fails them. The caller holds the
     * exclusive side ({@link Store#close}, {@link Store#dropTree}) or abandons the store.
     */
    void endWatches(RuntimeException cause) {
        watchers.endAll(cause);
    }

    /** The watches registered now. */
    int watchCount() {
        return watchers.size();
    }

    // ---------------------------------------------------------------- writes

    @Override
    public byte[] insert(byte[] key, byte[] value) {
        Limits.checkKey(key);
        Limits.checkValue(value);
        long stamp = cc.enterShared();
        try {
            checkWritable();
            return put(key, value, true);
        } finally {
            cc.exitShared(stamp);
        }
    }

    @Override
    public byte[] remove(byte[] key) {
        Limits.checkKey(key);
        long stamp = cc.enterShared();
        byte[] previous;
        try {
            checkWritable();
            previous = delete(key, true);
        } finally {
            cc.exitShared(stamp);
        }
        mergeUnderfull();
        return previous;
    }

    @Override
    public SwapResult compareAndSwap(byte[] key, byte[] expected, byte[] newValue) {
        Limits.checkKey(key);
        Limits.checkOptionalValue(expected);
        Limits.checkOptionalValue(newValue);
        long stamp = cc.enterShared();
        SwapResult result;
        try {
            checkWritable();
            result = swap(key, expected, newValue);
        } finally {
            cc.exitShared(stamp);
        }
        if (newValue == null) {
            mergeUnderfull();
        }
        return result;
    }

    @Override
    public void applyBatch(Batch batch) {
        if (batch == null) {
            throw new IllegalArgumentException("the batch is null");
        }
        applyAtomically(List.of(this), List.of(batch));
    }

    /**
     * Applies {@code batches.get(i)} to {@code trees.get(i)}, every change in one atomic batch of the page
     * cache, under the exclusive side of the trees' concurrency control ({@link #applyBatch},
     * {@link Db#applyBatches}): no single-key read sees some of the changes without the others, and after a
     * crash all of them are there or none. The trees are of one store.
     */
    static void applyAtomically(List<BLinkTree> trees, List<Batch> batches) {
        int changes = 0;
        for (Batch batch : batches) {
            changes += batch.size();
        }
        ConcurrencyControl cc = trees.get(0).cc;
        if (changes == 0) {
            trees.forEach(BLinkTree::checkWritable);
            return;
        }
        long stamp = cc.enterExclusive();
        try {
            applyHeld(trees, batches);
        } finally {
            cc.exitExclusive(stamp);
        }
    }

    /** {@link #applyAtomically}'s work; the caller holds the exclusive side. */
    static void applyHeld(List<BLinkTree> trees, List<Batch> batches) {
        trees.forEach(BLinkTree::checkWritable);
        boolean changed = false;
        ConcurrencyControl cc = trees.get(0).cc;
        List<List<Change>> made = new ArrayList<>(trees.size());
        cc.beginBatch();
        try (dev.toboggan.core.pagecache.Batch atomic = trees.get(0).pc.openBatch()) {
            for (int t = 0; t < trees.size(); t++) {
                BLinkTree tree = trees.get(t);
                Batch batch = batches.get(t);
                List<Change> changes = tree.watchers.any() ? new ArrayList<>(batch.size()) : null;
                made.add(changes);
                for (int i = 0; i < batch.size(); i++) {
                    byte[] value = batch.value(i);
                    try {
                        if (value == null) {
                            if (tree.delete(batch.key(i), false) != null && changes != null) {
                                changes.add(new Change(batch.key(i), null));
                            }
                        } else {
                            tree.put(batch.key(i), value, false);
                            if (changes != null) {
                                changes.add(new Change(batch.key(i), value));
                            }
                        }
                    } catch (RuntimeException | Error e) {
                        if (changed) {
                            tree.failHalfWay("an atomic batch", e);
                        }
                        throw e;
                    }
                    changed = true;
                }
            }
        } finally {
            cc.endBatch();
        }
        for (int t = 0; t < trees.size(); t++) {
            List<Change> changes = made.get(t);
            if (changes != null && !changes.isEmpty()) {
                trees.get(t).watchers.publish(changes);
            }
        }
        trees.forEach(BLinkTree::mergeQueued);
    }

    /**
     * A change of a batch (an {@link #applyBatch}, a merge) failed (a blob write on a full disk, say) after
     * earlier ones were made in memory, where they cannot be taken back. Sealing the batch would make that
     * half durable; failing the store first leaves the batch unsealed (its seal cannot be written any more),
     * so recovery drops it whole, and no call reads the half in memory before the store is reopened.
     */
    private void failHalfWay(String what, Throwable cause) {
        pc.log().fail(new TobogganException(what + " on tree '" + name + "' failed after part of it was "
                + "applied in memory (" + cause.getMessage() + "); the store stopped so that part never becomes "
                + "durable. Close the store, fix the cause and reopen it: the change will be absent", cause));
    }

    @Override
    public long flush() {
        return store.flush();
    }

    @Override
    public CompletionStage<Long> flushAsync() {
        return store.flushAsync();
    }

    /**
     * Sets {@code key} to {@code value} (both copied into the tree, never kept); the caller holds a side of
     * the concurrency control.
     *
     * @return the previous value, or {@code null}: the caller's own array (a copy, or the array of the value
     *     page this change freed)
     */
    private byte[] put(byte[] key, byte[] value, boolean watched) {
        dev.toboggan.core.pagecache.Batch atomic = null;
        Watchers.Slots made = null;
        try {
            Object stored = value;
            if (value.length > maxInlineValue) {
                atomic = pc.openBatch();
                stored = storeValue(value);
            }
            TreePath path = descend(key);
            while (true) {
                Page<Node> view = path.leaf();
                Object old = ((Leaf) view.value()).get(key);
                if (old instanceof ValueRef && atomic == null) {
                    atomic = pc.openBatch();
                }
                Watchers.Slots slots = watched ? watchers.reserve(key) : null;
                CasResult<Node> r = link(view, new Delta.Put(key, stored), slots);
                if (r.succeeded()) {
                    made = slots;
                    path.set(path.leafLevel(), r.page());
                    byte[] previous = old instanceof ValueRef ref ? freeValue(ref) : (byte[]) old;
                    splitIfNeeded(path, path.leafLevel());
                    return previous;
                }
                retryLeaf(path, r.page(), key);
            }
        } finally {
            closeThenTell(atomic, made, key, value);
        }
    }

    /** Removes {@code key}; the caller holds a side of the concurrency control. Returns as {@link #put}. */
    private byte[] delete(byte[] key, boolean watched) {
        dev.toboggan.core.pagecache.Batch atomic = null;
        Watchers.Slots made = null;
        try {
            TreePath path = descend(key);
            while (true) {
                Page<Node> view = path.leaf();
                Object old = ((Leaf) view.value()).get(key);
                if (old == null) {
                    return null;
                }
                if (old instanceof ValueRef && atomic == null) {
                    atomic = pc.openBatch();
                }
                Watchers.Slots slots = watched ? watchers.reserve(key) : null;
                CasResult<Node> r = link(view, new Delta.Remove(key), slots);
                if (r.succeeded()) {
                    made = slots;
                    noteIfUnderfull(path, view, r.page());
                    return old instanceof ValueRef ref ? freeValue(ref) : (byte[]) old;
                }
                retryLeaf(path, r.page(), key);
            }
        } finally {
            closeThenTell(atomic, made, key, null);
        }
    }

    private SwapResult swap(byte[] key, byte[] expected, byte[] newValue) {
        dev.toboggan.core.pagecache.Batch atomic = null;
        Watchers.Slots made = null;
        try {
            Object stored = newValue;
            if (newValue != null && newValue.length > maxInlineValue) {
                atomic = pc.openBatch();
                stored = storeValue(newValue);
            }
            TreePath path = descend(key);
            while (true) {
                Page<Node> view = path.leaf();
                Object old = ((Leaf) view.value()).get(key);
                byte[] current = old instanceof ValueRef ref ? readValue(view, ref) : (byte[]) old;
                if (old != null && current == null) {
                    retryLeaf(path, readNode(view.pid()), key);
                    continue;
                }
                if (!Arrays.equals(current, expected)) {
                    if (stored instanceof ValueRef unused) {
                        freeValue(unused);
                    }
                    return new SwapResult(false, current == null ? null : current.clone());
                }
                if (old == null && stored == null) {
                    return new SwapResult(true, null);
                }
                if (old instanceof ValueRef && atomic == null) {
                    atomic = pc.openBatch();
                }
                Delta change = stored == null ? new Delta.Remove(key) : new Delta.Put(key, stored);
                Watchers.Slots slots = watchers.reserve(key);
                CasResult<Node> r = link(view, change, slots);
                if (r.succeeded()) {
                    made = slots;
                    path.set(path.leafLevel(), r.page());
                    if (old instanceof ValueRef ref) {
                        freeValue(ref);
                    }
                    if (stored != null) {
                        splitIfNeeded(path, path.leafLevel());
                    } else {
                        noteIfUnderfull(path, view, r.page());
                    }
                    return new SwapResult(true, newValue == null ? null : newValue.clone());
                }
                retryLeaf(path, r.page(), key);
            }
        } finally {
            closeThenTell(atomic, made, key, newValue);
        }
    }

    /**
     * Links {@code change} onto {@code view}, the leaf version the caller read, registered first with the batch
     * being applied, if any. {@code slots} are the watch slots the caller took for the change after reading
     * {@code view} and before this CAS ({@link Watchers}: what orders a key's events); they are cancelled if
     * the change is not made, and the caller fills them ({@link #closeThenTell}) if it is.
     */
    private CasResult<Node> link(Page<Node> view, Delta change, Watchers.Slots slots) {
        cc.willChange(view.pid());
        CasResult<Node> r = null;
        try {
            r = pc.link(view.pid(), view, change);
            return r;
        } finally {
            if (slots != null && (r == null || !r.succeeded())) {
                slots.cancel();
            }
        }
    }

    /**
     * The end of a single-key change: closes the page cache batch it opened (if any), then tells the watches of
     * the change it made (if any) — after the close, so a durable watch's mark covers the batch's seal; and
     * whatever the close did, so a watch never waits on a slot that is never filled.
     *
     * @param value the key's new value, {@code null} for a removal
     */
    private void closeThenTell(dev.toboggan.core.pagecache.Batch atomic, Watchers.Slots made, byte[] key, byte[] value) {
        try {
            if (atomic != null) {
                atomic.close();
            }
        } finally {
            if (made != null) {
                made.fill(new WatchEvent(name, List.of(new Change(key, value))));
            }
        }
    }

    /** Writes a value page for a copy of {@code value}; the caller's batch must be open. */
    private ValueRef storeValue(byte[] value) {
        return new ValueRef(pc.allocate(new ValuePage(value.clone())).pid(), value.length);
    }

    /**
     * Frees the value page of a reference that this thread's change just removed from its leaf (or that
     * never reached one).
     *
     * @return the value it held
     */
    private byte[] freeValue(ValueRef ref) {
        Page<Node> page = pc.get(ref.pid());
        if (page == null) {
            throw new IllegalStateException("tree '" + name + "': value page " + ref.pid()
                    + " was freed twice; the store is corrupt");
        }
        byte[] value = valuePage(page).value;
        if (!pc.free(ref.pid(), page).succeeded()) {
            throw new IllegalStateException("tree '" + name + "': value page " + ref.pid() + " changed; value pages are "
                    + "written once");
        }
        return value;
    }

    // ---------------------------------------------------------------- traversal for writers

    /** The path to the leaf whose range holds {@code key}, repairing missed parent links on the way. */
    private TreePath descend(byte[] key) {
        TreePath path = new TreePath();
        Page<Node> view = readNode(rootPid);
        while (true) {
            view = walkRight(path, view, key);
            path.push(view);
            if (view.value() instanceof Index index) {
                view = readNode(index.childFor(key));
            } else {
                return path;
            }
        }
    }

    /**
     * From {@code view}, a node at level {@code path.depth()}, walks right to the node whose range holds
     * {@code key}, linking each node it steps onto into the parent level (lazy repair).
     */
    private Page<Node> walkRight(TreePath path, Page<Node> view, byte[] key) {
        Page<Node> current = view;
        TreeNode node = node(current);
        while (node.isBeyond(key)) {
            Page<Node> right = readNode(node.next);
            TreeNode rightNode = node(right);
            int level = path.depth();
            if (level > 0) {
                linkChild(path, level - 1, rightNode.lo, right.pid());
            } else if (current.pid() == rootPid) {
                growRoot(current.pid(), rightNode.lo, right.pid());
            }
            current = right;
            node = rightNode;
        }
        return current;
    }

    /** Continues a change at the leaf level from the leaf's {@code current} version. */
    private void retryLeaf(TreePath path, Page<Node> current, byte[] key) {
        path.pop();
        path.push(walkRight(path, live(current), key));
    }

    /**
     * Splits the node at {@code path}'s {@code level} while it is too large (see the class notes), then
     * tells the level above.
     */
    private void splitIfNeeded(TreePath path, int level) {
        Page<Node> view = path.view(level);
        while (true) {
            TreeNode node = node(view);
            if (!node.shouldSplit(splitSize)) {
                return;
            }
            int m = node.splitPoint();
            byte[] separator = node.separator(m);
            long rightPid;
            try (dev.toboggan.core.pagecache.Batch atomic = pc.openBatch()) {
                Page<Node> right = pc.allocate(node.rightHalf(m, separator));
                cc.willChange(right.pid());
                cc.willChange(view.pid());
                CasResult<Node> r = pc.replace(view.pid(), view, node.leftHalf(m, separator, right.pid()));
                if (!r.succeeded()) {
                    pc.free(right.pid(), right);
                    view = live(r.page());
                    continue;
                }
                view = r.page();
                rightPid = right.pid();
            }
            path.set(level, view);
            if (level == 0) {
                growRoot(view.pid(), separator, rightPid);
            } else {
                linkChild(path, level - 1, separator, rightPid);
            }
        }
    }

    /**
     * Links {@code separator -> child} into the node at {@code path}'s {@code level} (or the sibling to
     * its right that covers the separator), unless it is there already; then splits that node if needed.
     */
    private void linkChild(TreePath path, int level, byte[] separator, long child) {
        Page<Node> view = readNode(path.view(level).pid());
        while (true) {
            Index parent = (Index) node(view);
            if (parent.isBeyond(separator)) {
                view = readNode(parent.next);
                continue;
            }
            if (parent.hasSeparator(separator)) {
                path.set(level, view);
                return;
            }
            CasResult<Node> r = pc.link(view.pid(), view, new Delta.AddChild(separator, child));
            if (r.succeeded()) {
                path.set(level, r.page());
                splitIfNeeded(path, level);
                return;
            }
            view = live(r.page());
        }
    }

    /**
     * Puts a new root above {@code oldRoot} (which was just split, or found with a right sibling) and
     * {@code right}, if {@code oldRoot} is still the root; else leaves the link to lazy repair.
     */
    private void growRoot(long oldRoot, byte[] separator, long right) {
        if (oldRoot != rootPid) {
            return;
        }
        try (dev.toboggan.core.pagecache.Batch atomic = pc.openBatch()) {
            Page<Node> root = pc.allocate(Index.root(oldRoot, separator, right));
            if (pc.casRoot(rootName, oldRoot, root.pid())) {
                rootPid = root.pid();
            } else {
                pc.free(root.pid(), root);
                rootPid = pc.root(rootName);
            }
        }
    }

    // ---------------------------------------------------------------- merges

    /**
     * Queues the leaf a remove just changed from {@code before} to {@code after} for a merge if it has no
     * entry left, or if the remove made it underfull and, as the path down to it saw them, its parent has a
     * sibling for it that the two fit in. A leaf is queued as it crosses into underfull, not at every remove
     * below the line, so a leaf whose siblings are too full costs no exclusive section per remove. The
     * caller holds the shared side; what it reads here is only a hint, checked again under the exclusive
     * side by {@link #mergeOnce}.
     */
    private void noteIfUnderfull(TreePath path, Page<Node> before, Page<Node> after) {
        TreeNode node = (TreeNode) after.value();
        if (node.count() == 0) {
            underfull.add(node.lo);
            return;
        }
        if (!isUnderfull(node) || isUnderfull((TreeNode) before.value()) || path.leafLevel() == 0) {
            return;
        }
        TreeNode parentNode = (TreeNode) path.view(path.leafLevel() - 1).value();
        if (!(parentNode instanceof Index parent) || parent.count() < 2) {
            return;
        }
        int at = parent.positionOf(after.pid(), node.lo);
        if (at < 0) {
            return;
        }
        Page<Node> sibling;
        try {
            sibling = pc.get(parent.children[at > 0 ? at - 1 : at + 1]);
        } catch (RuntimeException e) {
            // Reading a paged-out sibling failed: the remove succeeded, so it must not throw; the merge,
            // which reads it again, logs what it cannot do.
            underfull.add(node.lo);
            return;
        }
        if (sibling != null && sibling.value() instanceof Leaf other
                && (at > 0 ? other.absorbedSize(node) : node.absorbedSize(other)) <= mergedLimit(node, other)) {
            underfull.add(node.lo);
        }
    }

    /** Whether {@code node} should merge with a sibling: see {@link #UNDERFULL_DIVISOR}. */
    private boolean isUnderfull(TreeNode node) {
        return isTrivial(node) || node.encodedSize() < splitSize / UNDERFULL_DIVISOR;
    }

    /** An empty leaf, or an index node with one child: merged into any sibling it fits in. */
    private static boolean isTrivial(TreeNode node) {
        return node.count() == (node instanceof Leaf ? 0 : 1);
    }

    /** The largest encoded size a merge of {@code a} and {@code b} may make: see {@link #MERGED_FILL}. */
    private int mergedLimit(TreeNode a, TreeNode b) {
        return isTrivial(a) || isTrivial(b) ? splitSize : (int) (splitSize * MERGED_FILL);
    }

    /**
     * Merges the leaves removes queued (see the class notes), under the exclusive side; nothing if none
     * did. Called by a writer after it left the shared side. Merging is upkeep: a merge that cannot be made
     * leaves a correct tree with an underfull node, so its errors are logged, not thrown at the remove that
     * succeeded before it.
     */
    private void mergeUnderfull() {
        if (underfull.isEmpty()) {
            return;
        }
        long stamp = cc.enterExclusive();
        try {
            mergeQueued();
        } finally {
            cc.exitExclusive(stamp);
        }
    }

    /** {@link #mergeUnderfull}'s work, a structure change; the caller holds the exclusive side. */
    private void mergeQueued() {
        if (underfull.isEmpty()) {
            return;
        }
        beginStructureChange();
        try {
            mergeEach();
        } finally {
            endStructureChange();
        }
    }

    private void mergeEach() {
        byte[] lo;
        while ((lo = underfull.poll()) != null) {
            if (ended != null || !store.isOpen()) {
                underfull.clear();
                return;
            }
            try {
                for (int merges = 0; merges < MERGES_PER_LEAF && mergeOnce(lo); merges++) {
                    // each merge may leave the same leaf, or a node above it, ready for the next
                }
            } catch (RuntimeException e) {
                LOG.get().warn("tree '{}': merging the underfull node at {} failed; the tree stays correct with the "
                        + "node as it is: {}", name, TreeNode.show(lo), e.toString());
                if (pc.log().failure() != null) {
                    underfull.clear(); // the store failed: every further merge would fail the same way
                    return;
                }
            }
        }
    }

    /**
     * One merge on the way up from the leaf that holds {@code key}: the first node on the way that is
     * underfull ({@link #isUnderfull}) and has a sibling under the same parent that it fits in with
     * ({@link #mergedLimit}) is merged with it, the right one of the pair absorbed into the left one. An
     * index node that is its parent's only child makes that parent underfull, so the walk goes up; so does
     * a node that is not underfull, or whose sibling is too full, since a leaf merged away may have left
     * an index node above it underfull. The caller holds the exclusive side, so no other change runs; the
     * page cache's background work (relocation, page-out) still may, and never changes what a page holds.
     *
     * @return whether a merge was made
     */
    private boolean mergeOnce(byte[] key) {
        TreePath path = descend(key);
        for (int level = path.leafLevel(); level > 0; level--) {
            Page<Node> view = readNode(path.view(level).pid());
            TreeNode node = node(view);
            if (!isUnderfull(node)) {
                continue;
            }
            Page<Node> parentView = readNode(path.view(level - 1).pid());
            Index parent = (Index) node(parentView);
            int at = parent.positionOf(view.pid(), node.lo);
            if (at < 0) {
                return false; // not linked into this parent yet (a split cut short): lazy repair comes first
            }
            if (parent.count() > 1) {
                Page<Node> left = at > 0 ? readNode(parent.children[at - 1]) : view;
                Page<Node> right = at > 0 ? view : readNode(parent.children[at + 1]);
                if (merge(parentView, parent, at > 0 ? at : at + 1, left, right)) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Merges {@code right}, child {@code at} of {@code parent}, into {@code left}, child {@code at - 1}, in
     * one page cache batch: the left node absorbs the right one, the parent loses the right one's entry,
     * the right one's page is freed. Nothing is changed if the pair is not each other's sibling on its level
     * (an unlinked node between them), or if the merged node would be larger than {@link #mergedLimit}.
     */
    private boolean merge(Page<Node> parentView, Index parent, int at, Page<Node> left, Page<Node> right) {
        TreeNode l = node(left);
        TreeNode r = node(right);
        if (l.next != right.pid() || l.absorbedSize(r) > mergedLimit(l, r)) {
            return false;
        }
        try (dev.toboggan.core.pagecache.Batch atomic = pc.openBatch()) {
            replaceUnchanged(left, l.absorb(r));
            try {
                linkUnchanged(parentView, new Delta.RemoveChild(parent.keys[at]));
                freeUnchanged(right);
            } catch (RuntimeException | Error e) {
                failHalfWay("a merge of two nodes", e);
                throw e;
            }
        }
        return true;
    }

    /**
     * Replaces the node at {@code view} by {@code node}, under the exclusive side: a failed CAS lost only to
     * the page cache's background work, which never changes what the page holds, so it is retried on the
     * current version.
     */
    private void replaceUnchanged(Page<Node> view, TreeNode node) {
        Page<Node> current = view;
        CasResult<Node> r;
        while (!(r = pc.replace(current.pid(), current, node)).succeeded()) {
            current = live(r.page());
        }
    }

    /** Links {@code delta} onto the node at {@code view}, as {@link #replaceUnchanged}. */
    private void linkUnchanged(Page<Node> view, Delta delta) {
        Page<Node> current = view;
        CasResult<Node> r;
        while (!(r = pc.link(current.pid(), current, delta)).succeeded()) {
            current = live(r.page());
        }
    }

    /** Frees the node at {@code view}, as {@link #replaceUnchanged}. */
    private void freeUnchanged(Page<Node> view) {
        Page<Node> current = view;
        CasResult<Node> r;
        while (!(r = pc.free(current.pid(), current)).succeeded()) {
            current = live(r.page());
        }
    }

    // ---------------------------------------------------------------- clear, drop, rename onto

    /**
     * The tree's pages are those {@code surveyed} found, if it is still current, else the tree is walked whole under
     * the exclusive side (writers are held, readers go on); then one structure change replaces the root page by an
     * empty leaf (its id stays, so {@link #rootPid} and the meta page stay as they are) and, once writers go on again,
     * frees every other page in the same page cache batch ({@link Teardown#unlink}). A watch's event takes its turn
     * under the exclusive side and goes out once that batch is sealed.
     */
    @Override
    public long clear() {
        checkWritable();
        Teardown surveyed = survey();
        long stamp = cc.enterExclusive();
        boolean exclusive = true;
        try {
            checkWritable();
            long root = pc.root(rootName); // rootPid may be a root that has grown a level since
            Page<Node> rootView = readNode(root);
            if (rootView.value() instanceof Leaf leaf && leaf.count() == 0 && leaf.next == TreeNode.NO_PID) {
                return 0;
            }
            boolean watched = watchers.any(); // a survey keeps no keys: with watches, walk
            Teardown teardown = !watched && isCurrent(surveyed, root) ? surveyed : new Teardown(rootView, watched);
            Watchers.Taken events = teardown.removed == null || teardown.removed.isEmpty() ? null
                    : watchers.take(teardown.removed);
            rootPid = root; // before the structure change ends: a reader that starts after it must not find a freed root
            try {
                Teardown.Frees frees =
                        teardown.unlink("a clear", () -> replaceUnchanged(rootView, Leaf.emptyRoot()), 1);
                underfull.clear(); // the leaves it named are gone
                stamp = cc.toShared(stamp);
                exclusive = false;
                frees.run();
            } catch (RuntimeException | Error e) {
                if (events != null) {
                    events.cancel();
                }
                throw e;
            }
            if (events != null) {
                events.deliver();
            }
            return teardown.entries;
        } finally {
            if (exclusive) {
                cc.exitExclusive(stamp);
            } else {
                cc.exitShared(stamp);
            }
        }
    }

    /**
     * Removes the tree from the meta page, its pages as {@code surveyed} found them if it is still current, else read
     * whole now: one structure change, in a page cache batch that the returned frees complete. The caller holds the
     * exclusive side of the concurrency control, and runs the frees once it turned it into a writer's.
     */
    Teardown.Frees drop(Teardown surveyed) {
        long root = pc.root(rootName);
        Teardown teardown = isCurrent(surveyed, root) ? surveyed : new Teardown(linkedNode(root), false);
        ended = "the tree '" + name + "' was dropped; open it again with Db.tree(name) to start a new, empty one";
        return teardown.unlink("a drop", () -> {
            if (!pc.casRoot(rootName, root, PageCache.NO_ROOT)) {
                throw new IllegalStateException("tree '" + name + "': its root changed during its drop");
            }
        }, 0);
    }

    /** Whether {@code surveyed} is this object's survey and still this tree, whose root page is {@code root}. */
    private boolean isCurrent(Teardown surveyed, long root) {
        return surveyed != null && surveyed.owner() == this && surveyed.stillCurrent(root);
    }

    /**
     * The tree's {@link Teardown} surveyed before a {@link #clear}, a drop or a rename onto the tree takes the exclusive
     * side, which every writer of the store then waits for: the tree walked whole as an optimistic read, holding
     * nothing, so that its nodes are cached and, if nothing changed the tree by the time the exclusive side is held
     * ({@link Teardown#stillCurrent}), the teardown need not walk it again. {@code null} if a structure change of the
     * tree or anything unexpected met the walk (a page freed and reused under it, the store closing): the teardown
     * then walks for itself, over the nodes this one read into the cache.
     */
    Teardown survey() {
        long stamp = structure.beginRead();
        try {
            Page<Node> rootView = pc.get(pc.root(rootName));
            if (rootView == null) {
                return null;
            }
            Teardown surveyed = new Teardown(stamp);
            return surveyed.walk(rootView) ? surveyed : null;
        } catch (RuntimeException unexpected) {
            return null;
        }
    }

    /**
     * Every page of the tree, read before a {@link #clear}, a {@link #drop} or a rename onto the tree
     * ({@link #takeOver}) frees them, so that the structure change, during which the tree's readers wait, reads
     * nothing from the disk. What it keeps of a page is its id and version ({@link PageCache#free(long, long)}):
     * nodes that were paged out are read once, here, and not held, and value pages are not read at all. Made under
     * the exclusive side, when no change runs, so the versions stay current (the page cache's moves do not change
     * them); or surveyed ahead of it ({@link #survey}), and then used only if {@link #stillCurrent}.
     */
    final class Teardown {
        /** The stamp of a survey's optimistic read; {@link #HELD} for a walk under the exclusive side. */
        private static final long HELD = -1;
        private final long stamp;
        /** Each key of the leaves that a watch watches, as a removal, in key order; {@code null} without watches. */
        private final List<Change> removed;
        /** The pages: nodes level by level from the root's (each along its right links), each leaf's value pages after it. */
        private long[] pids;
        private long[] versions;
        private long entries;

        /** The teardown of the tree as it is now; the caller holds the exclusive side. */
        Teardown(Page<Node> rootView, boolean withChanges) {
            this.stamp = HELD;
            this.removed = withChanges ? new ArrayList<>() : null;
            walk(rootView);
        }

        /** A survey, under the optimistic read of {@code stamp}: {@link #walk} says whether it went through. */
        private Teardown(long stamp) {
            this.stamp = stamp;
            this.removed = null;
        }

        /**
         * Walks the tree from its root, level by level along the right links, taking each page's id and version.
         *
         * @return {@code false} if a survey met a structure change of the tree and stopped
         */
        private boolean walk(Page<Node> rootView) {
            LongStream.Builder ids = LongStream.builder();
            LongStream.Builder of = LongStream.builder();
            int steps = 0;
            long first = rootView.pid();
            while (first != TreeNode.NO_PID) {
                long pid = first;
                first = TreeNode.NO_PID;
                while (pid != TreeNode.NO_PID) {
                    if (stamp != HELD && ++steps % VALIDATE_EVERY == 0 && !structure.validate(stamp)) {
                        return false;
                    }
                    Page<Node> view = pid == rootView.pid() ? rootView : linkedNode(pid);
                    TreeNode node = node(view);
                    ids.add(pid);
                    of.add(view.ts());
                    if (first == TreeNode.NO_PID && node instanceof Index index) {
                        first = index.children[0];
                    }
                    if (node instanceof Leaf leaf) {
                        read(leaf, ids, of);
                    }
                    pid = node.next;
                }
            }
            pids = ids.build().toArray();
            versions = of.build().toArray();
            return stamp == HELD || structure.validate(stamp);
        }

        private void read(Leaf leaf, LongStream.Builder ids, LongStream.Builder of) {
            entries += leaf.count();
            for (int i = 0; i < leaf.count(); i++) {
                ValueRef ref = leaf.ref(i);
                if (ref != null) {
                    ids.add(ref.pid());
                    of.add(pc.version(ref.pid()));
                }
                if (removed != null) {
                    byte[] key = leaf.key(i); // a copy already
                    if (watchers.wants(key)) {
                        removed.add(Change.owning(key, null));
                    }
                }
            }
        }

        BLinkTree owner() {
            return BLinkTree.this;
        }

        /**
         * Whether this survey is still the tree whose root page is {@code root}: no structure change of the tree since
         * it began, and every page it found at the version it found (any change that adds a page to the tree, a
         * split, a root growth, a child linked, a value page, also changes a page it found; versions only grow).
         * The caller holds the exclusive side, so the answer holds until it lets go.
         */
        boolean stillCurrent(long root) {
            if (stamp == HELD || !structure.validate(stamp) || pids.length == 0 || pids[0] != root) {
                return false;
            }
            try {
                for (int i = 0; i < pids.length; i++) {
                    if (pc.version(pids[i]) != versions[i]) {
                        return false;
                    }
                }
            } catch (IllegalStateException freed) {
                return false;
            }
            return true;
        }

        /**
         * The structure change, in a page cache batch it opens: {@code unlink} (the root made an empty leaf, or its
         * name removed, or replaced). Once it ran, the pages are no tree's: no reader that starts after the
         * structure change reaches them, and no writer can. The batch stays open for their frees
         * ({@link Frees#run}), which the caller runs once it let writers in again
         * ({@link ConcurrencyControl#toShared}): one atomic change on disk, without holding every writer of the store
         * for tens of thousands of frees. If {@code unlink} fails, the batch is sealed with what it wrote and the
         * failure thrown.
         *
         * @param skip pages not freed, from the first (1: the root, which a clear's {@code unlink} kept)
         */
        Frees unlink(String what, Runnable unlink, int skip) {
            beginStructureChange();
            dev.toboggan.core.pagecache.Batch atomic = pc.openBatch();
            try {
                unlink.run();
            } catch (RuntimeException | Error e) {
                atomic.close();
                throw e;
            } finally {
                endStructureChange();
            }
            return new Frees(what, atomic, skip);
        }

        /**
         * The frees of a torn-down tree's pages, and the seal of the batch its structure change opened: run by the
         * thread that made that change, holding a writer's side ({@link ConcurrencyControl#toShared}), so that close
         * and other exclusive operations wait for the seal while writers go on. A free that fails (a full disk, say)
         * fails the store before the batch is sealed ({@link #failHalfWay}), so that recovery drops the whole change
         * instead of keeping the pages half freed.
         */
        final class Frees {
            private final String what;
            private final dev.toboggan.core.pagecache.Batch atomic;
            private final int skip;

            private Frees(String what, dev.toboggan.core.pagecache.Batch atomic, int skip) {
                this.what = what;
                this.atomic = atomic;
                this.skip = skip;
            }

            void run() {
                try (atomic) {
                    try {
                        for (int i = skip; i < pids.length; i++) {
                            if (!pc.free(pids[i], versions[i])) {
                                throw new IllegalStateException("tree '" + name + "': page " + pids[i] + " changed "
                                        + "after the tree was torn down, though it was no tree's any more");
                            }
                        }
                    } catch (RuntimeException | Error e) {
                        failHalfWay(what, e);
                        throw e;
                    }
                }
            }
        }
    }

    /** The current version of page {@code pid}, which a node of this tree links to: a free page is corruption. */
    private Page<Node> linkedNode(long pid) {
        Page<Node> view = pc.get(pid);
        if (view == null) {
            throw new IllegalStateException("tree '" + name + "': page " + pid
                    + " is free but still linked from the tree; the store is corrupt");
        }
        return view;
    }

    // ---------------------------------------------------------------- helpers

    /** The current version of a tree node page. */
    private Page<Node> readNode(long pid) {
        Page<Node> page = pc.get(pid);
        if (page == null) {
            checkNotDropped();
            throw new IllegalStateException("tree '" + name + "': page " + pid
                    + " is free but still linked from the tree; the store is corrupt");
        }
        return page;
    }

    /** {@code page} (a failed change's current version), unless the page was freed. */
    private Page<Node> live(Page<Node> page) {
        if (page.isFree()) {
            checkNotDropped();
            throw new IllegalStateException("tree '" + name + "': page " + page.pid()
                    + " was freed while in the tree; the store is corrupt");
        }
        return page;
    }

    /**
     * Writes every entry of the tree named {@code name}, whose root was page {@code root} when {@code pages} were
     * frozen, to {@code dump} in key order: down the leftmost children to the first leaf, then along the leaves'
     * right links (each level is one chain covering every key once, {@link TreeNode}), each value page read
     * where its entry is. Every page is taken once, so what the walk has passed is let go.
     */
    static void exportFrozen(String name, FrozenPages<Node> pages, long root, DumpFormat.Writer dump)
            throws IOException {
        TreeNode node = frozenNode(name, pages, root);
        while (node instanceof Index index) {
            node = frozenNode(name, pages, index.children[0]);
        }
        while (true) {
            if (!(node instanceof Leaf leaf)) {
                throw new IllegalStateException("tree '" + name + "': the level of its leaves holds " + node
                        + "; the store is corrupt");
            }
            // The leaf's keys copied in a loop of their own first, as a scan does: a leaf seldom in cache has a miss
            // per entry, and a loop that only copies keeps many of them in flight where writing each entry to
            // the dump between them paid them one after another (1.4 x the export's time, measured).
            byte[][] keys = keys(leaf, 0, leaf.count());
            for (int i = 0; i < keys.length; i++) {
                Object value = leaf.value(i);
                dump.entry(keys[i], value instanceof ValueRef ref ? frozenValue(name, pages, ref) : (byte[]) value);
            }
            if (leaf.next == TreeNode.NO_PID) {
                return;
            }
            node = frozenNode(name, pages, leaf.next);
        }
    }

    private static TreeNode frozenNode(String name, FrozenPages<Node> pages, long pid) {
        return node(name, pid, pages.take(pid));
    }

    private static byte[] frozenValue(String name, FrozenPages<Node> pages, ValueRef ref) {
        return valuePage(name, ref.pid(), pages.take(ref.pid())).value;
    }

    private TreeNode node(Page<Node> page) {
        return node(name, page.pid(), page.value());
    }

    /** {@code value}, page {@code pid} of tree {@code tree} linked as a tree node, if it is one. */
    static TreeNode node(String tree, long pid, Node value) {
        if (value instanceof TreeNode node) {
            return node;
        }
        throw new IllegalStateException("tree '" + tree + "': page " + pid + " is linked as a tree node but holds "
                + value + "; the store is corrupt");
    }

    private ValuePage valuePage(Page<Node> page) {
        return valuePage(name, page.pid(), page.value());
    }

    /** {@code value}, page {@code pid} of tree {@code tree} referenced as a value, if it is one. */
    static ValuePage valuePage(String tree, long pid, Node value) {
        if (value instanceof ValuePage page) {
            return page;
        }
        throw new IllegalStateException("tree '" + tree + "': page " + pid + " is referenced as a value but holds "
                + value + "; the store is corrupt");
    }

    private void checkWritable() {
        store.checkOpen();
        checkNotDropped();
    }

    /** Whether the tree was dropped or renamed: its {@link Tree} methods refuse every call. */
    boolean isDropped() {
        return ended != null;
    }

    private void checkNotDropped() {
        String why = ended;
        if (why != null) {
            throw new IllegalStateException(why);
        }
    }

    /**
     * Reads from {@code root} on: a build's top node, which {@link Store#finishBuild} has just named as this
     * tree's root in place of its empty leaf, holding the exclusive side and a structure change.
     */
    void rootReplaced(long root) {
        rootPid = root;
    }

    /**
     * Gives this tree the pages of the tree {@link Db#renameTree renamed} onto its name, in place of its own: it
     * takes its pages as {@code surveyed} found them if it is still current, else reads itself whole, then one
     * structure change, in a page cache batch that the returned frees of every page it had complete, names
     * {@code newRoot} as its root and runs {@code unlinkSource} (the renamed tree's name removed). Reads go on from
     * {@code newRoot}. The caller holds the exclusive side, and runs the frees once it turned it into a writer's; the
     * tree has no watches.
     */
    Teardown.Frees takeOver(long newRoot, Runnable unlinkSource, Teardown surveyed) {
        long root = pc.root(rootName);
        Teardown teardown = isCurrent(surveyed, root) ? surveyed : new Teardown(linkedNode(root), false);
        return teardown.unlink("a rename onto it", () -> {
            if (!pc.casRoot(rootName, root, newRoot)) {
                throw new IllegalStateException("tree '" + name + "': its root changed during a rename onto it");
            }
            unlinkSource.run();
            rootPid = newRoot; // inside the structure change, as a clear's
            underfull.clear(); // the leaves it named are gone
        }, 0);
    }

    /**
     * This object stops serving its tree, which was renamed ({@link Db#renameTree}): its calls fail with
     * {@code why}, and so do its watches. The caller holds the exclusive side, so no change runs on it.
     *
     * <p>A structure change of this object: its pages now belong to the tree of the new name, whose structure
     * changes bump that tree's sequence, not this one's. A reader of this object in flight fails its validation
     * here and, reading again, finds it ended (readers look at {@link #ended} after taking their stamp), so none
     * goes on reading those pages unguarded.
     */
    void retire(String why) {
        beginStructureChange();
        try {
            ended = why;
        } finally {
            endStructureChange();
        }
        watchers.endAll(new IllegalStateException(why + "; its watch ended"));
    }

    /**
     * A structure change of this tree starts (a merge, a clear, a drop, a rename onto it, a build replacing its empty
     * root, the store's close): its readers from here on fail their validation. The caller holds the exclusive side.
     */
    void beginStructureChange() {
        cc.countStructureChange();
        structure.begin();
    }

    /** The structure change is over; the caller still holds the exclusive side. */
    void endStructureChange() {
        structure.end();
    }

    /** The root page as cached, for tests and verification. */
    long rootPid() {
        return rootPid;
    }

    PageCache<Node, Delta> pageCache() {
        return pc;
    }

    @Override
    public String toString() {
        return "Tree[" + name + (ended != null ? ", ended" : "") + "]";
    }
}
