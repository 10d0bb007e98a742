package dev.toboggan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * One run of a transaction's body ({@link Db#transaction}) and its commit: optimistic concurrency control
 * over the trees' own concurrency control (sled's transactions, validated by value).
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>A run</b> records, per tree name, the first value it read of each key (its <em>reads</em>; a
 *       later read of the key gives the same, so a body never sees one key change under it) and every
 *       value it wrote (its <em>writes</em>; a read of a written key gives the write and records nothing).
 *       A range read merges the store's entries with the writes and records the store's entries of the span
 *       its result covers ({@link RangeRead}). Nothing reaches the store before the commit.
 *   <li><b>One key, one way</b>: a first point read of a key inside a span an earlier range read of the run
 *       covered is answered from that range (recorded like any read), and a range read whose store entries
 *       disagree with an earlier read of the run in its span (a point read, or an overlapping range's
 *       entries) marks the run and throws {@link TransactionReadsDisagreeException}: the store changed between
 *       the two reads, so the run cannot commit, and it is dropped at once instead of at its commit, before
 *       the body acts on both. A marked run throws again from every read (and every insert or remove, which
 *       reads the previous value) and is never committed, whatever the body returns.
 *   <li><b>The commit</b> takes the store's tree monitor, then the exclusive side of the
 *       {@link ConcurrencyControl} (the order a tree drop takes them in): no writer, batch, merge or drop
 *       runs, and no tree is created, until it ends. It reads every recorded key and range again; if each key
 *       holds the value recorded (an absent key still absent, in whatever tree now has that name) and each
 *       range's span holds exactly the entries recorded (no key added, removed or changed there), the trees
 *       written to that do not exist are created, and the writes are made as one atomic batch
 *       ({@link BLinkTree#applyHeld}). The commit is the transaction's linearization point: at that moment
 *       every value it read is current, so its body computed what it would have computed running alone
 *       then. If a value differs, the run is dropped and the body runs again. A run that writes nothing
 *       and read one key (and no range) needs no commit: that read, linearizable on its own, is its point.
 *   <li><b>Validation by value</b>: a key changed and changed back (A → B → A) passes. That is still
 *       serializable, since what the body computed depends only on the values it read, and they are the
 *       current ones at the commit.
 *   <li><b>A body that throws</b> may have acted on reads that were never current together (one key read
 *       before a concurrent change, another after). Its exception is rethrown only if its reads are
 *       validated, under the exclusive side as a commit's are; otherwise the body runs again. {@link Error}s
 *       are rethrown at once.
 *   <li><b>Progress</b>: after {@value #OPTIMISTIC_RUNS} runs dropped for conflicts, the body runs once more
 *       with the tree monitor and the exclusive side held from its start to its commit: no writer runs
 *       meanwhile, so its reads cannot conflict (readers go on). Calls on the store from
 *       the body's thread are refused ({@link Store#runBody}), so the body cannot wait for the side it holds.
 *   <li><b>Confinement</b>: a run is used by the thread that runs its body, while it runs; it is not
 *       thread-safe and refuses other threads and calls after the body returned.
 * </ul>
 */
final class StoreTransaction implements Transaction {
    /** Runs dropped for conflicts before the body runs alone. */
    static final int OPTIMISTIC_RUNS = 8;
    /** A recorded absent value (a removal among the writes): compared by identity, never handed out. */
    private static final byte[] ABSENT = new byte[0];
    /** The writes of a tree this run wrote nothing to. */
    private static final TreeMap<byte[], byte[]> EMPTY_WRITES = new TreeMap<>(Arrays::compareUnsigned);

    private final Store store;
    /** Whether this run holds the exclusive side from its start (it runs alone). */
    private final boolean alone;
    private final Thread owner = Thread.currentThread();
    private boolean bodyReturned;
    /**
     * Whether a read disagreed with an earlier one ({@link TransactionReadsDisagreeException}): the run is
     * dropped, whatever the body did.
     */
    private boolean disagreed;
    /** Tree name → key → the value first read ({@link #ABSENT}: none). */
    private final Map<String, TreeMap<byte[], byte[]>> reads = new HashMap<>();
    /** Tree name (in name order: one order for every commit) → key → the value written ({@link #ABSENT}: removed). */
    private final TreeMap<String, TreeMap<byte[], byte[]>> writes = new TreeMap<>();
    private final Map<String, View> views = new HashMap<>();
    /** The ranges this run read, each checked at the commit as a whole. */
    private final List<RangeRead> ranges = new ArrayList<>();

    /**
     * A range read: the store's entries of tree {@code tree} in the span it covered, as read. The span is
     * {@code [from, to)} but for {@code bound}: when the read stopped at its limit, the last key it returned
     * (inclusive; the span's upper end ascending, its lower end descending).
     */
    private record RangeRead(String tree, byte[] from, byte[] to, boolean reverse, byte[] bound,
            List<Map.Entry<byte[], byte[]>> entries) {
        /** Whether {@code key}, met in this read's direction, is past the span. */
        boolean isPast(byte[] key) {
            return bound != null && (reverse ? Arrays.compareUnsigned(key, bound) < 0 : Arrays.compareUnsigned(key, bound) > 0);
        }

        /** Whether {@code key} lies in the span this read covered (its entries tell whether it was there). */
        boolean covers(byte[] key) {
            return (from == null || Arrays.compareUnsigned(key, from) >= 0)
                    && (to == null || Arrays.compareUnsigned(key, to) < 0) && !isPast(key);
        }

        /** The value this read saw for {@code key}, a key it {@linkplain #covers covers}; {@link #ABSENT}: none. */
        byte[] valueOf(byte[] key) {
            for (Map.Entry<byte[], byte[]> e : entries) {
                if (Arrays.equals(e.getKey(), key)) {
                    return e.getValue();
                }
            }
            return ABSENT;
        }
    }

    private StoreTransaction(Store store, boolean alone) {
        this.store = store;
        this.alone = alone;
    }

    /** Runs {@code body} until a run commits, or throws what a validated run threw. */
    static <R> R run(Store store, Function<? super Transaction, ? extends R> body) {
        Counters counters = store.transactionCounters();
        for (int run = 1; run <= OPTIMISTIC_RUNS; run++) {
            StoreTransaction tx = new StoreTransaction(store, false);
            R result;
            try {
                result = tx.runBody(body);
            } catch (RuntimeException e) {
                if (!tx.disagreed && tx.commit(true)) {
                    counters.aborted.increment();
                    throw e;
                }
                counters.runsDropped.increment();
                continue;
            }
            if (!tx.disagreed && tx.commit(false)) {
                counters.committed.increment();
                return result;
            }
            counters.runsDropped.increment();
        }
        counters.ranAlone.increment();
        try {
            R result = runAlone(store, body);
            counters.committed.increment();
            return result;
        } catch (RuntimeException e) {
            counters.aborted.increment();
            throw e;
        }
    }

    /** Runs {@code body} on this run; from then on the run refuses calls ({@link #checkUsable}). */
    private <R> R runBody(Function<? super Transaction, ? extends R> body) {
        try {
            return store.runBody(this, body);
        } finally {
            bodyReturned = true;
        }
    }

    /** A store's counts of what its transactions did ({@link StoreMetrics.Transactions}). */
    static final class Counters {
        final LongAdder committed = new LongAdder();
        final LongAdder aborted = new LongAdder();
        final LongAdder runsDropped = new LongAdder();
        final LongAdder ranAlone = new LongAdder();

        StoreMetrics.Transactions snapshot() {
            return new StoreMetrics.Transactions(committed.sum(), aborted.sum(), runsDropped.sum(), ranAlone.sum());
        }
    }

    /** The last run: the body and its commit with the tree monitor and the exclusive side held throughout. */
    private static <R> R runAlone(Store store, Function<? super Transaction, ? extends R> body) {
        ConcurrencyControl cc = store.concurrency();
        synchronized (store.treesMonitor()) {
            long stamp = cc.enterExclusive();
            try {
                store.checkNotClosed();
                StoreTransaction tx = new StoreTransaction(store, true);
                R result = tx.runBody(body);
                tx.write();
                return result;
            } finally {
                cc.exitExclusive(stamp);
            }
        }
    }

    /**
     * Commits this run: validates its reads and, unless {@code validateOnly} or they changed, makes its
     * writes, all with the exclusive side held.
     *
     * @return whether the reads were current (and the writes, if any, made)
     */
    private boolean commit(boolean validateOnly) {
        if ((validateOnly || writes.isEmpty()) && keysRead() <= 1 && ranges.isEmpty()) {
            return true; // nothing to write, and one read is a moment of its own: nothing to validate
        }
        ConcurrencyControl cc = store.concurrency();
        synchronized (store.treesMonitor()) {
            long stamp = cc.enterExclusive();
            try {
                store.checkNotClosed();
                if (!readsAreCurrent()) {
                    return false;
                }
                if (!validateOnly) {
                    write();
                }
                return true;
            } finally {
                cc.exitExclusive(stamp);
            }
        }
    }

    private int keysRead() {
        int keys = 0;
        for (TreeMap<byte[], byte[]> tree : reads.values()) {
            keys += tree.size();
        }
        return keys;
    }

    /** Whether every recorded read still holds; the caller holds the tree monitor and the exclusive side. */
    private boolean readsAreCurrent() {
        for (RangeRead range : ranges) {
            BLinkTree current = store.heldTree(range.tree(), false);
            List<Map.Entry<byte[], byte[]>> now = new ArrayList<>();
            if (current != null) {
                Iterator<Map.Entry<byte[], byte[]>> it = current.scan(range.from(), range.to(), range.reverse());
                while (it.hasNext()) {
                    Map.Entry<byte[], byte[]> e = it.next();
                    if (range.isPast(e.getKey())) {
                        break;
                    }
                    now.add(e);
                }
            }
            if (!sameEntries(now, range.entries())) {
                return false;
            }
        }
        for (Map.Entry<String, TreeMap<byte[], byte[]>> tree : reads.entrySet()) {
            BLinkTree current = store.heldTree(tree.getKey(), false);
            for (Map.Entry<byte[], byte[]> read : tree.getValue().entrySet()) {
                byte[] now = current == null ? null : current.read(read.getKey());
                byte[] then = read.getValue() == ABSENT ? null : read.getValue();
                if (!Arrays.equals(now, then)) {
                    return false;
                }
            }
        }
        return true;
    }

    private static boolean sameEntries(List<Map.Entry<byte[], byte[]>> a, List<Map.Entry<byte[], byte[]>> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (!Arrays.equals(a.get(i).getKey(), b.get(i).getKey()) || !Arrays.equals(a.get(i).getValue(), b.get(i).getValue())) {
                return false;
            }
        }
        return true;
    }

    /** Makes the writes, one atomic batch; the caller holds the tree monitor and the exclusive side. */
    private void write() {
        List<BLinkTree> trees = new ArrayList<>();
        List<Batch> batches = new ArrayList<>();
        for (Map.Entry<String, TreeMap<byte[], byte[]>> tree : writes.entrySet()) {
            Batch batch = new Batch();
            for (Map.Entry<byte[], byte[]> write : tree.getValue().entrySet()) {
                if (write.getValue() == ABSENT) {
                    batch.remove(write.getKey());
                } else {
                    batch.insert(write.getKey(), write.getValue());
                }
            }
            trees.add(store.heldTree(tree.getKey(), true));
            batches.add(batch);
        }
        if (!trees.isEmpty()) {
            BLinkTree.applyHeld(trees, batches);
        }
    }

    // ---------------------------------------------------------------- what the body calls

    @Override
    public TransactionalTree tree(String name) {
        Limits.checkTreeName(name);
        checkUsable();
        return views.computeIfAbsent(name, View::new);
    }

    @Override
    public long generateId() {
        checkUsable();
        return store.pageCache().generateId();
    }

    @Override
    public String name() {
        return Db.DEFAULT_TREE;
    }

    @Override
    public byte[] get(byte[] key) {
        return tree(Db.DEFAULT_TREE).get(key);
    }

    @Override
    public boolean containsKey(byte[] key) {
        return tree(Db.DEFAULT_TREE).containsKey(key);
    }

    @Override
    public byte[] insert(byte[] key, byte[] value) {
        return tree(Db.DEFAULT_TREE).insert(key, value);
    }

    @Override
    public byte[] remove(byte[] key) {
        return tree(Db.DEFAULT_TREE).remove(key);
    }

    @Override
    public void applyBatch(Batch batch) {
        tree(Db.DEFAULT_TREE).applyBatch(batch);
    }

    @Override
    public List<Map.Entry<byte[], byte[]>> range(byte[] from, byte[] to, int limit) {
        return tree(Db.DEFAULT_TREE).range(from, to, limit);
    }

    @Override
    public List<Map.Entry<byte[], byte[]>> rangeReverse(byte[] from, byte[] to, int limit) {
        return tree(Db.DEFAULT_TREE).rangeReverse(from, to, limit);
    }

    /** A range read's checks, then {@link #range}. */
    private List<Map.Entry<byte[], byte[]>> rangeOf(String name, byte[] from, byte[] to, boolean reverse, int limit) {
        if (from != null) {
            Limits.checkKey(from);
        }
        if (to != null) {
            Limits.checkKey(to);
        }
        BLinkTree.checkBounds(from, to);
        if (limit < 1) {
            throw new IllegalArgumentException("the limit is " + limit + "; a range read returns at least 1 entry");
        }
        checkUsable();
        return range(name, from, to, reverse, limit);
    }

    private void checkUsable() {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("a Transaction used on thread '" + Thread.currentThread().getName()
                    + "': use it only on the thread that runs its body ('" + owner.getName() + "')");
        }
        if (bodyReturned) {
            throw new IllegalStateException("a Transaction used after its body returned: use it only inside the body");
        }
        store.checkNotClosed();
    }

    /**
     * The value of {@code key} in tree {@code name} as of this run: its write, its first read, or a read of
     * the store now (recorded); {@link #ABSENT} for none. Never one of the recorded arrays themselves.
     */
    private byte[] valueOf(String name, byte[] key) {
        checkAgreed(name);
        TreeMap<byte[], byte[]> written = writes.get(name);
        byte[] value = written == null ? null : written.get(key);
        if (value == null) {
            TreeMap<byte[], byte[]> read = reads.computeIfAbsent(name, n -> new TreeMap<>(Arrays::compareUnsigned));
            value = read.get(key);
            if (value == null) {
                value = seenInARange(name, key);
                if (value == null) {
                    byte[] now = readStore(name, key);
                    value = now == null ? ABSENT : now;
                }
                read.put(key.clone(), value);
            }
        }
        return value;
    }

    /**
     * What an earlier range read of this run saw for {@code key} in tree {@code name} ({@link #ABSENT}: the key
     * was not there), or {@code null} if none covered it: a point read inside a span a range read covered gives
     * what the range gave, so the body sees each key one way.
     */
    private byte[] seenInARange(String name, byte[] key) {
        for (RangeRead range : ranges) {
            if (range.tree().equals(name) && range.covers(key)) {
                return range.valueOf(key);
            }
        }
        return null;
    }

    /** Throws {@link TransactionReadsDisagreeException} again if a read of this run disagreed with an earlier one. */
    private void checkAgreed(String name) {
        if (disagreed) {
            throw new TransactionReadsDisagreeException(name);
        }
    }

    /**
     * Whether the store's entries a new range read saw agree with every earlier read of the run in its span:
     * each key read on its own, and each earlier range's entries where the spans overlap.
     */
    private boolean agrees(RangeRead read) {
        TreeMap<byte[], byte[]> seen = new TreeMap<>(Arrays::compareUnsigned);
        for (Map.Entry<byte[], byte[]> e : read.entries()) {
            seen.put(e.getKey(), e.getValue());
        }
        TreeMap<byte[], byte[]> keys = reads.get(read.tree());
        if (keys != null) {
            for (Map.Entry<byte[], byte[]> k : keys.entrySet()) {
                if (read.covers(k.getKey())) {
                    byte[] now = seen.get(k.getKey());
                    if (!(k.getValue() == ABSENT ? now == null : Arrays.equals(now, k.getValue()))) {
                        return false;
                    }
                }
            }
        }
        for (RangeRead earlier : ranges) {
            if (!earlier.tree().equals(read.tree())) {
                continue;
            }
            for (Map.Entry<byte[], byte[]> e : earlier.entries()) {
                if (read.covers(e.getKey()) && !Arrays.equals(seen.get(e.getKey()), e.getValue())) {
                    return false;
                }
            }
            for (Map.Entry<byte[], byte[]> e : read.entries()) {
                if (earlier.covers(e.getKey()) && earlier.valueOf(e.getKey()) == ABSENT) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The value of {@code key} in the tree named {@code name} now, whichever tree has that name. */
    private byte[] readStore(String name, byte[] key) {
        return readTree(name, tree -> tree == null ? null : tree.read(key));
    }

    /**
     * {@code read} of the tree named {@code name} now ({@code null}: the store has none), again on the tree that
     * has the name then if the one read was dropped meanwhile (which makes its reads throw).
     */
    private <T> T readTree(String name, Function<BLinkTree, T> read) {
        while (true) {
            BLinkTree tree = alone ? store.heldTree(name, false) : store.existingTree(name);
            try {
                return read.apply(tree);
            } catch (IllegalStateException e) {
                if (tree == null || !tree.isDropped()) {
                    throw e;
                }
            }
        }
    }

    /**
     * {@link TransactionalTree#range}: the store's entries of the span merged with this run's writes, up to
     * {@code limit}; records the store's entries of the span the result covers.
     */
    private List<Map.Entry<byte[], byte[]>> range(String name, byte[] from, byte[] to, boolean reverse, int limit) {
        checkAgreed(name);
        return readTree(name, tree -> merge(name, tree, from, to, reverse, limit));
    }

    private List<Map.Entry<byte[], byte[]>> merge(String name, BLinkTree tree, byte[] from, byte[] to, boolean reverse,
            int limit) {
        Iterator<Map.Entry<byte[], byte[]>> stored = tree == null ? Collections.emptyIterator()
                : tree.scan(from, to, reverse);
        NavigableMap<byte[], byte[]> written = writes.getOrDefault(name, EMPTY_WRITES);
        if (from != null || to != null) {
            written = from == null ? written.headMap(to, false)
                    : to == null ? written.tailMap(from, true) : written.subMap(from, true, to, false);
        }
        Iterator<Map.Entry<byte[], byte[]>> mine = (reverse ? written.descendingMap() : written).entrySet().iterator();
        List<Map.Entry<byte[], byte[]>> seen = new ArrayList<>();
        List<Map.Entry<byte[], byte[]>> result = new ArrayList<>();
        Map.Entry<byte[], byte[]> s = stored.hasNext() ? stored.next() : null;
        Map.Entry<byte[], byte[]> w = mine.hasNext() ? mine.next() : null;
        while (result.size() < limit && (s != null || w != null)) {
            int order = s == null ? 1 : w == null ? -1 : Arrays.compareUnsigned(s.getKey(), w.getKey()) * (reverse ? -1 : 1);
            if (order <= 0) {
                seen.add(s);
                if (order < 0) {
                    result.add(s);
                }
                s = stored.hasNext() ? stored.next() : null;
            }
            if (order >= 0) {
                if (w.getValue() != ABSENT) {
                    result.add(w);
                }
                w = mine.hasNext() ? mine.next() : null;
            }
        }
        boolean cut = result.size() == limit && (s != null || w != null);
        byte[] bound = cut ? result.get(limit - 1).getKey().clone() : null;
        RangeRead read = new RangeRead(name, from == null ? null : from.clone(), to == null ? null : to.clone(), reverse,
                bound, seen);
        if (!agrees(read)) {
            disagreed = true;
            throw new TransactionReadsDisagreeException(name);
        }
        ranges.add(read);
        List<Map.Entry<byte[], byte[]>> copies = new ArrayList<>(result.size());
        for (Map.Entry<byte[], byte[]> e : result) {
            copies.add(Map.entry(e.getKey().clone(), e.getValue().clone()));
        }
        return Collections.unmodifiableList(copies);
    }

    private void write(String name, byte[] key, byte[] value) {
        writes.computeIfAbsent(name, n -> new TreeMap<>(Arrays::compareUnsigned)).put(key.clone(), value);
    }

    /** One tree of the transaction: what the body calls goes to the run, under the tree's name. */
    private final class View implements TransactionalTree {
        private final String name;

        View(String name) {
            this.name = name;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public byte[] get(byte[] key) {
            Limits.checkKey(key);
            checkUsable();
            byte[] value = valueOf(name, key);
            return value == ABSENT ? null : value.clone();
        }

        @Override
        public boolean containsKey(byte[] key) {
            Limits.checkKey(key);
            checkUsable();
            return valueOf(name, key) != ABSENT;
        }

        @Override
        public byte[] insert(byte[] key, byte[] value) {
            Limits.checkKey(key);
            Limits.checkValue(value);
            checkUsable();
            byte[] previous = valueOf(name, key);
            write(name, key, value.clone());
            return previous == ABSENT ? null : previous.clone();
        }

        @Override
        public byte[] remove(byte[] key) {
            Limits.checkKey(key);
            checkUsable();
            byte[] previous = valueOf(name, key);
            write(name, key, ABSENT);
            return previous == ABSENT ? null : previous.clone();
        }

        @Override
        public void applyBatch(Batch batch) {
            if (batch == null) {
                throw new IllegalArgumentException("the batch is null");
            }
            checkUsable();
            for (int i = 0; i < batch.size(); i++) {
                byte[] value = batch.value(i);
                write(name, batch.key(i), value == null ? ABSENT : value);
            }
        }

        @Override
        public List<Map.Entry<byte[], byte[]>> range(byte[] from, byte[] to, int limit) {
            return StoreTransaction.this.rangeOf(name, from, to, false, limit);
        }

        @Override
        public List<Map.Entry<byte[], byte[]>> rangeReverse(byte[] from, byte[] to, int limit) {
            return StoreTransaction.this.rangeOf(name, from, to, true, limit);
        }

        @Override
        public String toString() {
            return "TransactionalTree[" + name + "]";
        }
    }

    @Override
    public String toString() {
        return "Transaction[" + store.directory() + (alone ? ", running alone" : "") + "]";
    }
}
