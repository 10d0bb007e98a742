package dev.toboggan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.PageCacheConfig;
import dev.toboggan.core.pagecache.SegmentCleaning;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Flow;

/**
 * Model-based testing of the trees: random sequences of operations, restarts and crashes included, run
 * against a store on a simulated disk and against {@link TreeMap}s.
 *
 * <p>The background work runs as operations of the sequence too (a cleaning pass, a snapshot, pages
 * paged out), at the points the generator chose, so that a run replays exactly from its seed.
 *
 * <p>The oracle. Between crashes every result must equal the model's, and the whole store (every tree,
 * every key) is compared and its structure verified ({@link TreeVerifier}: invariants, no leaked page)
 * after every restart and crash and at the end. A clean restart must keep the model exactly. A crash
 * (power loss) may lose what was not flushed, but what survives is the state after some operation since
 * the last flush: never part of an operation or of a batch, never a later change without an earlier one.
 * Ids never go back.
 *
 * <p>Operations are plain values (keys as hex), so a failing sequence is shrunk by dropping operations
 * and printed as Java for a named regression test.
 */
final class TreeModelRun {
    /** Trees by index: 0 is the default tree. */
    static final String[] TREES = {Db.DEFAULT_TREE, "a", "b"};

    /** One operation on tree {@code tree} (an index into {@link #TREES}). */
    sealed interface Op {
        /** An operation on one tree, which it creates if it does not exist. */
        sealed interface OnTree extends Op {
            int tree();
        }

        record Insert(int tree, String key, int size) implements OnTree {}
        record Remove(int tree, String key) implements OnTree {}
        /**
         * Removes every key in {@code [from, to)} (bounds may be {@code null}), one by one or as one batch:
         * it empties whole leaves, so the tree merges nodes.
         */
        record RemoveRange(int tree, String from, String to, boolean batched) implements OnTree {}
        /**
         * Removes the keys in {@code [from, to)} but every {@code keepEvery}-th, one by one or as one batch:
         * it leaves leaves sparse, so the tree merges underfull nodes.
         */
        record Thin(int tree, String from, String to, int keepEvery, boolean batched) implements OnTree {}
        /** {@code expect}: 0 the current value (succeeds), 1 absent, 2 a value the key never has. {@code size} -1: remove. */
        record Swap(int tree, String key, int expect, int size) implements OnTree {}
        record Get(int tree, String key) implements OnTree {}
        /** Bounds may be {@code null}. */
        record Scan(int tree, String from, String to, boolean reverse) implements OnTree {}
        record Prefix(int tree, String prefix) implements OnTree {}
        record Count(int tree) implements OnTree {}
        /** Sizes -1: remove. */
        record Apply(int tree, List<String> keys, List<Integer> sizes) implements OnTree {}
        /** One atomic batch over several trees ({@link Db#applyBatches}): change i is in tree {@code trees[i]}. */
        record ApplyAcross(List<Integer> trees, List<String> keys, List<Integer> sizes) implements Op {}
        /**
         * A {@link Db#transaction}: reads key i in tree {@code trees[i]} for every i, then sets each key to the value
         * read from the next one (the last from the first; absent: remove), then reads a range of three from the
         * first key in its tree (its own writes included), and returns what it read; with {@code abort} its body
         * throws after the writes, so nothing changes.
         */
        record Transact(List<Integer> trees, List<String> keys, boolean abort) implements Op {}
        record Drop(int tree) implements Op {}
        /** {@link Tree#clear}: every key of the tree removed at once, its pages freed. */
        record Clear(int tree) implements OnTree {}
        /**
         * {@link Db#renameTree}: tree {@code from} (1 or 2) becomes {@code to}, replacing a tree of that name; refused
         * if {@code from} does not exist, or onto the default tree (which the run's watch watches).
         */
        record Rename(int from, int to) implements Op {}
        record GenerateId() implements Op {}
        record Flush() implements Op {}
        /**
         * A pass of the segment cleaner, as the Cleaner actor runs it: {@code everySegment} drains every
         * segment it can (else the default policy), {@code writing} as while writers are active.
         */
        record Clean(boolean everySegment, boolean writing) implements Op {}
        /** A snapshot, as the Snapshotter takes it (it makes the log stable first: a flush too). */
        record Snapshot() implements Op {}
        /**
         * An online backup ({@link Db#backup}; a flush too): the copy, opened beside the store, must hold
         * exactly the model, hand out ids past every id handed out so far, and pass the verifier.
         */
        record Backup() implements Op {}
        /**
         * An export ({@link Db#export}) to a file: read back, the dump must hold exactly the model and an id
         * past every id handed out so far.
         */
        record Export() implements Op {}
        /**
         * A read view ({@link Db#snapshot}): the first takes one, holding a copy of the model; the next checks
         * that it still holds exactly that copy, whatever ran since, and closes it. A restart, crash or cut-short
         * work checks and closes an open one first.
         */
        record View() implements Op {}
        /** Pages out each page whose every fragment is durable with probability one half, drawn from {@code seed}. */
        record Evict(long seed) implements Op {}
        record Restart() implements Op {}
        /**
         * Work cut short by the disk dying at its {@code failAfter}-th storage call, then a power loss
         * ({@code seed} as in {@link Crash}): {@code work} 0 a pass draining every segment, 1 a snapshot, 2
         * a clean close, 3 a backup (which must leave no directory that opens as a store).
         */
        record CutShort(int work, int failAfter, long seed) implements Op {}
        /** A power loss: {@code seed} 0 drops every unforced write, else each lands, tears or not, as drawn. */
        record Crash(long seed) implements Op {}
    }

    /** Settings of a run, drawn from its seed. */
    record Setup(int segmentSize, int consolidation, int splitSize, int maxInline) {
        PageCacheConfig pageCache() {
            return pageCache(PageCacheBackend.DIR);
        }

        PageCacheConfig pageCache(Path directory) {
            return PageCacheBackend.smallConfig(segmentSize, directory).withConsolidationThreshold(consolidation);
        }

        TreeSettings trees() {
            return new TreeSettings(splitSize, maxInline);
        }
    }

    /** Drains every segment a pass can: the most work a pass does. */
    static final SegmentCleaning.Policy EVERY_SEGMENT = new SegmentCleaning.Policy(1.0, 1.01);

    private static final byte[] ALPHABET = {0, 1, 0x41, 0x7F, (byte) 0x80, (byte) 0xFF};

    private final Setup setup;
    private final SimulatedStorage disk = new SimulatedStorage();
    private Store db;
    /** The model: tree name to contents; a tree exists once an operation touched it. */
    private Map<String, NavigableMap<byte[], byte[]>> model = new TreeMap<>();
    /** States a crash may recover: the last flushed one and each one after it. */
    private final List<Map<String, NavigableMap<byte[], byte[]>>> candidates = new ArrayList<>();
    private long lastId = -1;
    private int step;
    /**
     * The default tree as its watch reported it since the store was last opened: its contents then, with every
     * event's changes applied (delivered on the writer's thread, so complete when a call returns).
     */
    private NavigableMap<byte[], byte[]> watched;
    /** The open read view ({@link Op.View}) and what it must hold, or {@code null}. */
    private dev.toboggan.Snapshot view;
    private Map<String, NavigableMap<byte[], byte[]>> viewed;

    TreeModelRun(Setup setup) {
        this.setup = setup;
        // The default tree always exists: every open creates it if it must.
        model.put(Db.DEFAULT_TREE, TestKeys.model());
    }

    static Setup setupFor(long seed) {
        SplittableRandom r = new SplittableRandom(seed ^ 0x7EE5L);
        int[] segments = {1024, 4096, 65536};
        int[] consolidations = {1, 2, 10};
        int[] splits = {64, 128, 512, 8192};
        int split = splits[r.nextInt(splits.length)];
        int[] inline = {0, 8, 48, split};
        return new Setup(segments[r.nextInt(segments.length)], consolidations[r.nextInt(consolidations.length)], split,
                inline[r.nextInt(inline.length)]);
    }

    static List<Op> generate(long seed, int count) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Op> ops = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            ops.add(nextOp(r));
        }
        return ops;
    }

    private static Op nextOp(SplittableRandom r) {
        int tree = r.nextInt(10) < 6 ? 0 : 1 + r.nextInt(2);
        int roll = r.nextInt(100);
        if (roll < 39) {
            return new Op.Insert(tree, key(r), size(r));
        } else if (roll < 40) {
            return new Op.Thin(tree, r.nextInt(4) == 0 ? null : key(r), r.nextInt(4) == 0 ? null : key(r),
                    2 + r.nextInt(6), r.nextBoolean());
        } else if (roll < 52) {
            return new Op.Remove(tree, key(r));
        } else if (roll < 60) {
            return new Op.Swap(tree, key(r), r.nextInt(3), r.nextInt(6) == 0 ? -1 : size(r));
        } else if (roll < 66) {
            return new Op.Get(tree, key(r));
        } else if (roll < 72) {
            return new Op.Scan(tree, r.nextInt(4) == 0 ? null : key(r), r.nextInt(4) == 0 ? null : key(r), r.nextBoolean());
        } else if (roll < 74) {
            String key = key(r);
            return new Op.Prefix(tree, key.substring(0, Math.min(key.length(), 2 * r.nextInt(3))));
        } else if (roll < 75) {
            return new Op.Count(tree);
        } else if (roll < 77) {
            return new Op.RemoveRange(tree, r.nextInt(4) == 0 ? null : key(r), r.nextInt(4) == 0 ? null : key(r),
                    r.nextBoolean());
        } else if (roll < 83) {
            List<String> keys = new ArrayList<>();
            List<Integer> sizes = new ArrayList<>();
            List<Integer> trees = new ArrayList<>();
            for (int i = 1 + r.nextInt(8); i > 0; i--) {
                keys.add(key(r));
                sizes.add(r.nextInt(4) == 0 ? -1 : size(r));
                trees.add(r.nextInt(TREES.length));
            }
            int kind = r.nextInt(4);
            return kind == 0 ? new Op.ApplyAcross(trees, keys, sizes)
                    : kind == 1 ? new Op.Transact(trees, keys, r.nextInt(4) == 0)
                    : new Op.Apply(tree, keys, sizes);
        } else if (roll < 84) {
            int from = 1 + r.nextInt(2);
            int kind = r.nextInt(3);
            return kind == 0 ? new Op.Drop(from) : kind == 1 ? new Op.Clear(tree)
                    : new Op.Rename(from, r.nextInt(8) == 0 ? 0 : 3 - from);
        } else if (roll < 86) {
            return new Op.GenerateId();
        } else if (roll < 90) {
            return new Op.Flush();
        } else if (roll < 92) {
            return new Op.Clean(r.nextBoolean(), r.nextBoolean());
        } else if (roll < 93) {
            return new Op.Snapshot();
        } else if (roll < 94) {
            int kind = r.nextInt(3);
            return kind == 0 ? new Op.Backup() : kind == 1 ? new Op.Export() : new Op.View();
        } else if (roll < 95) {
            return new Op.Evict(r.nextLong());
        } else if (roll < 97) {
            return new Op.Restart();
        } else if (roll < 98) {
            int work = r.nextInt(4);
            int failAfter = 1 + r.nextInt(r.nextBoolean() ? 4 : 40);
            return new Op.CutShort(work, failAfter, r.nextBoolean() ? 0 : r.nextLong(1, Long.MAX_VALUE));
        } else {
            return new Op.Crash(r.nextBoolean() ? 0 : r.nextLong(1, Long.MAX_VALUE));
        }
    }

    /** A key from a small space (so keys repeat and share prefixes), now and then a long one. */
    private static String key(SplittableRandom r) {
        byte[] key;
        if (r.nextInt(20) == 0) {
            key = new byte[20 + r.nextInt(60)];
            Arrays.fill(key, ALPHABET[r.nextInt(ALPHABET.length)]);
            key[key.length - 1] = ALPHABET[r.nextInt(ALPHABET.length)];
        } else {
            key = new byte[r.nextInt(5)];
            for (int i = 0; i < key.length; i++) {
                key[i] = ALPHABET[r.nextInt(ALPHABET.length)];
            }
        }
        return HexFormat.of().formatHex(key);
    }

    private static int size(SplittableRandom r) {
        int roll = r.nextInt(100);
        return roll < 80 ? r.nextInt(24) : roll < 97 ? 24 + r.nextInt(300) : 1000 + r.nextInt(5000);
    }

    // ---------------------------------------------------------------- running

    /** Runs {@code ops} from an empty store, checking each against the model. */
    void execute(List<Op> ops) {
        db = open();
        try {
            candidates.add(copy(model));
            for (Op op : ops) {
                step++;
                apply(op);
            }
            checkEverything("at the end");
            endView("at the end");
        } finally {
            if (db != null) {
                db.close();
            }
        }
    }

    private Store open() {
        Store opened = PageCacheBackend.open(disk, setup.pageCache(), setup.trees());
        NavigableMap<byte[], byte[]> mirror = TestKeys.model();
        opened.watchPrefix(new byte[0], Runnable::run, Tree.MAX_WATCH_BUFFER).subscribe(new Flow.Subscriber<>() {
            @Override
            public void onSubscribe(Flow.Subscription subscription) {
                subscription.request(Long.MAX_VALUE);
            }

            @Override
            public void onNext(WatchEvent event) {
                for (Change change : event.changes()) {
                    if (change.isRemoval()) {
                        mirror.remove(change.key());
                    } else {
                        mirror.put(change.key(), change.value());
                    }
                }
            }

            @Override
            public void onError(Throwable error) {}

            @Override
            public void onComplete() {}
        });
        for (Map.Entry<byte[], byte[]> e : opened) {
            mirror.put(e.getKey(), e.getValue());
        }
        watched = mirror;
        return opened;
    }

    /** The default tree's watch reported every change the model made to it, in order: its last values are the model's. */
    private void checkWatch(String where) {
        NavigableMap<byte[], byte[]> expected = model.getOrDefault(Db.DEFAULT_TREE, TestKeys.model());
        if (!TestKeys.show(watched).equals(TestKeys.show(expected))) {
            throw new AssertionError(where + ": the default tree's watch reported " + describe(Map.of(Db.DEFAULT_TREE,
                    watched)) + " but the model holds " + describe(Map.of(Db.DEFAULT_TREE, expected)));
        }
    }

    private void apply(Op op) {
        if (op instanceof Op.Restart || op instanceof Op.Crash || op instanceof Op.CutShort) {
            endView(where(op));
        }
        if (op instanceof Op.OnTree o && !model.containsKey(TREES[o.tree()])) {
            // Creating the tree is a durable step of its own, before the operation.
            model.put(TREES[o.tree()], TestKeys.model());
            db.tree(TREES[o.tree()]);
            changed();
        }
        if (op instanceof Op.Insert o) {
            byte[] k = bytes(o.key());
            byte[] v = valueFor(o.size());
            assertThat(tree(o.tree()).insert(k, v)).as(where(op)).isEqualTo(contents(o.tree()).put(k, v));
            changed();
        } else if (op instanceof Op.Remove o) {
            byte[] k = bytes(o.key());
            assertThat(tree(o.tree()).remove(k)).as(where(op)).isEqualTo(contents(o.tree()).remove(k));
            changed();
        } else if (op instanceof Op.RemoveRange o) {
            removeRange(o.tree(), o.from(), o.to(), 0, o.batched(), op);
        } else if (op instanceof Op.Thin o) {
            removeRange(o.tree(), o.from(), o.to(), o.keepEvery(), o.batched(), op);
        } else if (op instanceof Op.Swap o) {
            swap(o);
        } else if (op instanceof Op.Get o) {
            byte[] k = bytes(o.key());
            assertThat(tree(o.tree()).get(k)).as(where(op)).isEqualTo(contents(o.tree()).get(k));
            changed();
        } else if (op instanceof Op.Scan o) {
            scan(o);
        } else if (op instanceof Op.Prefix o) {
            byte[] prefix = bytes(o.prefix());
            byte[] end = BLinkTree.prefixEnd(prefix);
            NavigableMap<byte[], byte[]> c = contents(o.tree());
            Map<byte[], byte[]> expected = end == null ? c.tailMap(prefix, true) : c.subMap(prefix, true, end, false);
            assertThat(TestKeys.drain(tree(o.tree()).scanPrefix(prefix))).as(where(op)).isEqualTo(TestKeys.show(expected));
            changed();
        } else if (op instanceof Op.Count o) {
            assertThat(tree(o.tree()).size()).as(where(op)).isEqualTo(contents(o.tree()).size());
            changed();
        } else if (op instanceof Op.Apply o) {
            Batch batch = new Batch();
            NavigableMap<byte[], byte[]> c = contents(o.tree());
            for (int i = 0; i < o.keys().size(); i++) {
                byte[] k = bytes(o.keys().get(i));
                if (o.sizes().get(i) < 0) {
                    batch.remove(k);
                    c.remove(k);
                } else {
                    byte[] v = valueFor(o.sizes().get(i));
                    batch.insert(k, v);
                    c.put(k, v);
                }
            }
            tree(o.tree()).applyBatch(batch);
            changed();
        } else if (op instanceof Op.ApplyAcross o) {
            applyAcross(o);
        } else if (op instanceof Op.Transact o) {
            transact(o);
        } else if (op instanceof Op.Clear o) {
            NavigableMap<byte[], byte[]> c = contents(o.tree());
            assertThat(tree(o.tree()).clear()).as(where(op)).isEqualTo(c.size());
            c.clear();
            changed();
        } else if (op instanceof Op.Rename o) {
            rename(o, op);
        } else if (op instanceof Op.Drop o) {
            boolean existed = model.remove(TREES[o.tree()]) != null;
            assertThat(db.dropTree(TREES[o.tree()])).as(where(op)).isEqualTo(existed);
            changed();
        } else if (op instanceof Op.GenerateId) {
            long id = db.generateId();
            assertThat(id).as(where(op)).isGreaterThan(lastId);
            lastId = id;
        } else if (op instanceof Op.Flush) {
            db.flush();
            candidates.clear();
            candidates.add(copy(model));
        } else if (op instanceof Op.Clean o) {
            db.pageCache().cleaning().pass(o.everySegment() ? EVERY_SEGMENT : SegmentCleaning.Policy.DEFAULT, o.writing());
            checkEverything(where(op));
        } else if (op instanceof Op.Snapshot) {
            db.pageCache().snapshots().takeSnapshot();
            candidates.clear();
            candidates.add(copy(model));
        } else if (op instanceof Op.Backup) {
            backup(op);
            candidates.clear();
            candidates.add(copy(model));
        } else if (op instanceof Op.Export) {
            export(op);
        } else if (op instanceof Op.View) {
            if (view == null) {
                view = db.snapshot();
                viewed = copy(model);
            } else {
                endView(where(op));
            }
        } else if (op instanceof Op.Evict o) {
            evict(o);
        } else if (op instanceof Op.Restart) {
            checkWatch(where(op));
            db.close();
            db = open();
            checkEverything(where(op));
            candidates.clear();
            candidates.add(copy(model));
        } else if (op instanceof Op.CutShort o) {
            cutShort(o);
        } else {
            crash((Op.Crash) op);
        }
    }

    private void rename(Op.Rename o, Op op) {
        String from = TREES[o.from()];
        String to = TREES[o.to()];
        if (!model.containsKey(from)) {
            assertThatThrownBy(() -> db.renameTree(from, to)).as(where(op)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("no tree");
        } else if (o.to() == 0) {
            assertThatThrownBy(() -> db.renameTree(from, to)).as(where(op)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("has watches");
        } else {
            boolean replaced = model.containsKey(to);
            model.put(to, model.remove(from));
            assertThat(db.renameTree(from, to)).as(where(op)).isEqualTo(replaced);
        }
        changed();
    }

    private void applyAcross(Op.ApplyAcross o) {
        Map<String, Batch> batches = new TreeMap<>();
        for (int i = 0; i < o.keys().size(); i++) {
            batches.computeIfAbsent(TREES[o.trees().get(i)], name -> new Batch());
        }
        // Trees are created first, each a durable step of its own, in name order (as the store does).
        for (String name : batches.keySet()) {
            if (!model.containsKey(name)) {
                model.put(name, TestKeys.model());
                changed();
            }
        }
        for (int i = 0; i < o.keys().size(); i++) {
            String name = TREES[o.trees().get(i)];
            byte[] k = bytes(o.keys().get(i));
            if (o.sizes().get(i) < 0) {
                batches.get(name).remove(k);
                model.get(name).remove(k);
            } else {
                byte[] v = valueFor(o.sizes().get(i));
                batches.get(name).insert(k, v);
                model.get(name).put(k, v);
            }
        }
        db.applyBatches(batches);
        changed();
    }

    private void transact(Op.Transact o) {
        int n = o.keys().size();
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            NavigableMap<byte[], byte[]> c = model.get(TREES[o.trees().get(i)]);
            expected.add(TestKeys.hex(c == null ? null : c.get(bytes(o.keys().get(i)))));
        }
        RuntimeException abort = new IllegalStateException("aborted on purpose");
        List<String> read = new ArrayList<>();
        List<String> range = new ArrayList<>();
        String first = TREES[o.trees().get(0)];
        try {
            db.transaction(tx -> {
                List<byte[]> values = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    values.add(tx.tree(TREES[o.trees().get(i)]).get(bytes(o.keys().get(i))));
                }
                for (int i = 0; i < n; i++) {
                    TransactionalTree tree = tx.tree(TREES[o.trees().get(i)]);
                    byte[] next = values.get((i + 1) % n);
                    if (next == null) {
                        tree.remove(bytes(o.keys().get(i)));
                    } else {
                        tree.insert(bytes(o.keys().get(i)), next);
                    }
                }
                // a range read after the writes: the tree as the transaction will leave it
                List<Map.Entry<byte[], byte[]>> after = tx.tree(first).range(bytes(o.keys().get(0)), null, 3);
                if (o.abort()) {
                    throw abort;
                }
                values.forEach(v -> read.add(TestKeys.hex(v)));
                after.forEach(e -> range.add(TestKeys.hex(e.getKey()) + "=" + TestKeys.hex(e.getValue())));
                return null;
            });
            assertThat(o.abort()).as(where(o) + ": an aborting transaction returned").isFalse();
        } catch (IllegalStateException e) {
            assertThat(e).as(where(o)).isSameAs(abort);
            return;
        }
        assertThat(read).as(where(o)).isEqualTo(expected);
        // Trees written to are created first, each a durable step of its own, in name order (as the store does).
        for (String name : new java.util.TreeSet<>(o.trees().stream().map(t -> TREES[t]).toList())) {
            if (!model.containsKey(name)) {
                model.put(name, TestKeys.model());
                changed();
            }
        }
        for (int i = 0; i < n; i++) {
            String value = expected.get((i + 1) % n);
            if (value == null) {
                model.get(TREES[o.trees().get(i)]).remove(bytes(o.keys().get(i)));
            } else {
                model.get(TREES[o.trees().get(i)]).put(bytes(o.keys().get(i)), TestKeys.hex(value));
            }
        }
        changed();
        List<String> expectedRange = TestKeys.show(model.get(first).tailMap(bytes(o.keys().get(0)), true));
        assertThat(range).as(where(o) + ": the transaction's range read").isEqualTo(
                expectedRange.subList(0, Math.min(3, expectedRange.size())));
    }

    private void cutShort(Op.CutShort o) {
        disk.runDyingAt(o.failAfter(), () -> {
            switch (o.work()) {
                case 0 -> db.pageCache().cleaning().pass(EVERY_SEGMENT, false);
                case 1 -> db.pageCache().snapshots().takeSnapshot();
                case 2 -> db.close();
                default -> db.backup(backupDirectory());
            }
        });
        Path target = backupDirectory();
        Map<String, NavigableMap<byte[], byte[]>> before = copy(model);
        crash(new Op.Crash(o.seed()));
        if (o.work() == 3 && disk.exists(target.resolve("format"))) {
            // the backup was whole before the disk died: the store as it was
            checkBackup(target, before, o);
        } else if (o.work() == 3 && disk.exists(target.resolve("log"))) {
            // cut short before its format file: refused, never opened as an empty or partial store
            assertThatThrownBy(() -> PageCacheBackend.open(disk, setup.pageCache(target), setup.trees()))
                    .as(where(o)).isInstanceOf(CorruptionException.class).hasMessageContaining("no format file");
        }
    }

    /** A new directory per step, beside the store's. */
    private Path backupDirectory() {
        return PageCacheBackend.DIR.resolveSibling("backup-" + step);
    }

    private void backup(Op op) {
        checkBackup(db.backup(backupDirectory()).directory(), model, op);
    }

    /** Checks that the open read view, if any, holds what the model held when it was taken, and closes it. */
    private void endView(String where) {
        if (view == null) {
            return;
        }
        try (dev.toboggan.Snapshot ending = view) {
            view = null;
            Map<String, NavigableMap<byte[], byte[]>> held = new TreeMap<>();
            for (String name : ending.treeNames()) {
                ReadableTree tree = ending.tree(name);
                NavigableMap<byte[], byte[]> contents = TestKeys.model();
                for (Map.Entry<byte[], byte[]> e : tree) {
                    contents.put(e.getKey(), e.getValue());
                }
                List<String> down = TestKeys.drain(tree.rangeReverse(null, null));
                java.util.Collections.reverse(down);
                if (!down.equals(TestKeys.show(contents))) {
                    throw new AssertionError(where + ": tree '" + name + "' of the read view reads " + down
                            + " in reverse but " + TestKeys.show(contents) + " forward");
                }
                for (Map.Entry<byte[], byte[]> e : contents.entrySet()) {
                    assertThat(tree.get(e.getKey())).as(where).isEqualTo(e.getValue());
                }
                held.put(name, contents);
            }
            if (!same(viewed, held)) {
                throw new AssertionError(where + ": the read view holds " + describe(held) + " but the store held "
                        + describe(viewed) + " when it was taken");
            }
        }
    }

    private void export(Op op) {
        Path file;
        try {
            file = Files.createTempFile("toboggan-model-", ".dump");
            Files.delete(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            Dump dump = db.export(file);
            Map<String, NavigableMap<byte[], byte[]>> held = new TreeMap<>();
            DumpFormat.read(file, new DumpFormat.Visitor() {
                NavigableMap<byte[], byte[]> tree;

                @Override
                public void tree(String name) {
                    tree = TestKeys.model();
                    held.put(name, tree);
                }

                @Override
                public void entry(byte[] key, byte[] value) {
                    tree.put(key, value);
                }
            });
            if (!same(model, held)) {
                throw new AssertionError(where(op) + ": the dump holds " + describe(held) + " but the store held "
                        + describe(model));
            }
            assertThat(dump.lastId()).as(where(op)).isGreaterThan(lastId);
            lastId = dump.lastId();
        } finally {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** The store in {@code directory} holds exactly {@code expected}, hands out ids past every id so far, verifies. */
    private void checkBackup(Path directory, Map<String, NavigableMap<byte[], byte[]>> expected, Op op) {
        Store copy = PageCacheBackend.open(disk, setup.pageCache(directory), setup.trees());
        try {
            Map<String, NavigableMap<byte[], byte[]>> held = readAll(copy);
            if (!same(expected, held)) {
                throw new AssertionError(where(op) + ": the backup holds " + describe(held) + " but the store held "
                        + describe(expected));
            }
            TreeVerifier.verify(copy);
            assertThat(copy.generateId()).as(where(op)).isGreaterThan(lastId);
        } finally {
            copy.close();
        }
    }

    private void swap(Op.Swap o) {
        NavigableMap<byte[], byte[]> c = contents(o.tree());
        byte[] k = bytes(o.key());
        byte[] current = c.get(k);
        byte[] expected = switch (o.expect()) {
            case 0 -> current;
            case 1 -> null;
            default -> TestKeys.utf8("never a value");
        };
        byte[] v = o.size() < 0 ? null : valueFor(o.size());
        boolean succeeds = Arrays.equals(current, expected);
        SwapResult result = tree(o.tree()).compareAndSwap(k, expected, v);
        assertThat(result.succeeded()).as(where(o)).isEqualTo(succeeds);
        if (succeeds) {
            if (v == null) {
                c.remove(k);
            } else {
                c.put(k, v);
            }
            assertThat(result.current()).as(where(o)).isEqualTo(v);
        } else {
            assertThat(result.current()).as(where(o)).isEqualTo(current);
        }
        changed();
    }

    private void scan(Op.Scan o) {
        byte[] from = o.from() == null ? null : bytes(o.from());
        byte[] to = o.to() == null ? null : bytes(o.to());
        if (from != null && to != null && Arrays.compareUnsigned(from, to) > 0) {
            byte[] t = from;
            from = to;
            to = t;
        }
        NavigableMap<byte[], byte[]> c = contents(o.tree());
        Map<byte[], byte[]> sub = from == null && to == null ? c
                : from == null ? c.headMap(to, false)
                : to == null ? c.tailMap(from, true)
                : c.subMap(from, true, to, false);
        List<String> expected = TestKeys.show(sub);
        Tree tree = tree(o.tree());
        Iterator<Map.Entry<byte[], byte[]>> it = o.reverse() ? tree.rangeReverse(from, to) : tree.range(from, to);
        if (o.reverse()) {
            Collections.reverse(expected);
        }
        assertThat(TestKeys.drain(it)).as(where(o)).isEqualTo(expected);
        changed();
    }

    private void evict(Op.Evict o) {
        PageCache<Node, Delta> pc = db.pageCache();
        SplittableRandom r = new SplittableRandom(o.seed());
        for (long pid = PageCache.FIRST_USER_PID; ; pid++) {
            try {
                pc.get(pid);
            } catch (IllegalArgumentException beyondTheLastPage) {
                break;
            }
            if (r.nextBoolean()) {
                pc.pageOut(pid);
            }
        }
        pc.evictor().run();
    }

    private void crash(Op.Crash o) {
        checkWatch(where(o));
        if (o.seed() == 0) {
            disk.powerLoss();
        } else {
            disk.powerLoss(new SplittableRandom(o.seed()));
        }
        db.abandon();
        db = open();
        Map<String, NavigableMap<byte[], byte[]>> recovered = readAll();
        Map<String, NavigableMap<byte[], byte[]>> match = null;
        for (Map<String, NavigableMap<byte[], byte[]>> candidate : candidates) {
            if (same(candidate, recovered)) {
                match = candidate;
            }
        }
        if (match == null) {
            throw new AssertionError(where(o) + ": the recovered store " + describe(recovered) + " is none of the "
                    + candidates.size() + " states since the last flush, the last of which is "
                    + describe(candidates.get(candidates.size() - 1)));
        }
        model = copy(match);
        TreeVerifier.verify(db);
        candidates.clear();
        candidates.add(copy(model));
    }

    /** Every tree's contents, and the structure, equal the model. */
    private void checkEverything(String where) {
        checkWatch(where);
        Map<String, NavigableMap<byte[], byte[]>> actual = readAll();
        if (!same(model, actual)) {
            throw new AssertionError(where + ": the store holds " + describe(actual) + " but the model " + describe(model));
        }
        TreeVerifier.verify(db);
    }

    private Map<String, NavigableMap<byte[], byte[]>> readAll() {
        return readAll(db);
    }

    private static Map<String, NavigableMap<byte[], byte[]>> readAll(Store db) {
        Map<String, NavigableMap<byte[], byte[]>> all = new TreeMap<>();
        for (String name : db.treeNames()) {
            NavigableMap<byte[], byte[]> contents = TestKeys.model();
            for (Map.Entry<byte[], byte[]> e : db.tree(name)) {
                contents.put(e.getKey(), e.getValue());
            }
            all.put(name, contents);
        }
        return all;
    }

    private static boolean same(Map<String, NavigableMap<byte[], byte[]>> a, Map<String, NavigableMap<byte[], byte[]>> b) {
        if (!a.keySet().equals(b.keySet())) {
            return false;
        }
        for (String name : a.keySet()) {
            if (!TestKeys.show(a.get(name)).equals(TestKeys.show(b.get(name)))) {
                return false;
            }
        }
        return true;
    }

    private static String describe(Map<String, NavigableMap<byte[], byte[]>> state) {
        StringBuilder s = new StringBuilder("{");
        state.forEach((name, contents) -> s.append(name).append('=').append(TestKeys.show(contents).stream()
                .map(e -> e.length() > 24 ? e.substring(0, 24) + "…" : e).toList()).append(' '));
        String all = s.append('}').toString();
        return all.length() > 3000 ? all.substring(0, 3000) + "…" : all;
    }

    private Tree tree(int index) {
        return db.tree(TREES[index]);
    }

    private NavigableMap<byte[], byte[]> contents(int index) {
        return model.get(TREES[index]);
    }

    /**
     * Removes the keys of the range {@code [from, to)} present in the model (bounds may be {@code null}), but
     * every {@code keepEvery}-th of them if that is not 0, as {@link Op.RemoveRange} and {@link Op.Thin} say.
     */
    private void removeRange(int tree, String fromKey, String toKey, int keepEvery, boolean batched, Op op) {
        NavigableMap<byte[], byte[]> c = contents(tree);
        byte[] from = fromKey == null ? null : bytes(fromKey);
        byte[] to = toKey == null ? null : bytes(toKey);
        List<byte[]> keys = new ArrayList<>();
        int seen = 0;
        for (byte[] k : c.keySet()) {
            if ((from == null || Arrays.compareUnsigned(k, from) >= 0)
                    && (to == null || Arrays.compareUnsigned(k, to) < 0)
                    && (keepEvery == 0 || ++seen % keepEvery != 0)) {
                keys.add(k);
            }
        }
        if (batched) {
            Batch batch = new Batch();
            for (byte[] k : keys) {
                batch.remove(k);
                c.remove(k);
            }
            tree(tree).applyBatch(batch);
            changed();
        } else {
            for (byte[] k : keys) {
                assertThat(tree(tree).remove(k)).as(where(op)).isEqualTo(c.remove(k));
                changed();
            }
        }
    }

    /** Records the model after an operation that may have changed it as a state a crash may recover. */
    private void changed() {
        candidates.add(copy(model));
    }

    private byte[] valueFor(int size) {
        return TestKeys.value(step, size);
    }

    private String where(Op op) {
        return "step " + step + " " + op;
    }

    private static Map<String, NavigableMap<byte[], byte[]>> copy(Map<String, NavigableMap<byte[], byte[]>> state) {
        Map<String, NavigableMap<byte[], byte[]>> copy = new TreeMap<>();
        state.forEach((name, contents) -> {
            NavigableMap<byte[], byte[]> c = TestKeys.model();
            c.putAll(contents);
            copy.put(name, c);
        });
        return copy;
    }

    private static byte[] bytes(String hex) {
        return HexFormat.of().parseHex(hex);
    }

    // ---------------------------------------------------------------- shrinking

    /** The failure of running {@code ops}, or {@code null}. */
    static Throwable failureOf(Setup setup, List<Op> ops) {
        try {
            new TreeModelRun(setup).execute(ops);
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    /** A shorter sequence that still fails: drops chunks of operations, then single ones, while it fails. */
    static List<Op> shrink(Setup setup, List<Op> ops) {
        List<Op> current = new ArrayList<>(ops);
        for (int chunk = Math.max(1, current.size() / 2); chunk >= 1; chunk /= 2) {
            for (int start = 0; start < current.size(); ) {
                List<Op> candidate = new ArrayList<>(current.subList(0, start));
                candidate.addAll(current.subList(Math.min(current.size(), start + chunk), current.size()));
                if (failureOf(setup, candidate) != null) {
                    current = candidate;
                } else {
                    start += chunk;
                }
            }
        }
        return current;
    }

    static String toJava(Setup setup) {
        return "new TreeModelRun.Setup(" + setup.segmentSize() + ", " + setup.consolidation() + ", " + setup.splitSize()
                + ", " + setup.maxInline() + ")";
    }

    static String toJava(List<Op> ops) {
        List<String> lines = new ArrayList<>();
        for (Op op : ops) {
            lines.add(toJava(op));
        }
        return "List.of(\n                " + String.join(",\n                ", lines) + ")";
    }

    private static String toJava(Op op) {
        if (op instanceof Op.Insert o) {
            return "new Op.Insert(" + o.tree() + ", " + quote(o.key()) + ", " + o.size() + ")";
        } else if (op instanceof Op.Remove o) {
            return "new Op.Remove(" + o.tree() + ", " + quote(o.key()) + ")";
        } else if (op instanceof Op.RemoveRange o) {
            return "new Op.RemoveRange(" + o.tree() + ", " + quote(o.from()) + ", " + quote(o.to()) + ", "
                    + o.batched() + ")";
        } else if (op instanceof Op.Thin o) {
            return "new Op.Thin(" + o.tree() + ", " + quote(o.from()) + ", " + quote(o.to()) + ", " + o.keepEvery()
                    + ", " + o.batched() + ")";
        } else if (op instanceof Op.Swap o) {
            return "new Op.Swap(" + o.tree() + ", " + quote(o.key()) + ", " + o.expect() + ", " + o.size() + ")";
        } else if (op instanceof Op.Get o) {
            return "new Op.Get(" + o.tree() + ", " + quote(o.key()) + ")";
        } else if (op instanceof Op.Scan o) {
            return "new Op.Scan(" + o.tree() + ", " + quote(o.from()) + ", " + quote(o.to()) + ", " + o.reverse() + ")";
        } else if (op instanceof Op.Prefix o) {
            return "new Op.Prefix(" + o.tree() + ", " + quote(o.prefix()) + ")";
        } else if (op instanceof Op.Count o) {
            return "new Op.Count(" + o.tree() + ")";
        } else if (op instanceof Op.Apply o) {
            return "new Op.Apply(" + o.tree() + ", List.of(" + String.join(", ", o.keys().stream()
                    .map(TreeModelRun::quote).toList()) + "), List.of(" + String.join(", ", o.sizes().stream()
                    .map(String::valueOf).toList()) + "))";
        } else if (op instanceof Op.ApplyAcross o) {
            return "new Op.ApplyAcross(List.of(" + String.join(", ", o.trees().stream().map(String::valueOf).toList())
                    + "), List.of(" + String.join(", ", o.keys().stream().map(TreeModelRun::quote).toList())
                    + "), List.of(" + String.join(", ", o.sizes().stream().map(String::valueOf).toList()) + "))";
        } else if (op instanceof Op.Transact o) {
            return "new Op.Transact(List.of(" + String.join(", ", o.trees().stream().map(String::valueOf).toList())
                    + "), List.of(" + String.join(", ", o.keys().stream().map(TreeModelRun::quote).toList())
                    + "), " + o.abort() + ")";
        } else if (op instanceof Op.Drop o) {
            return "new Op.Drop(" + o.tree() + ")";
        } else if (op instanceof Op.Clear o) {
            return "new Op.Clear(" + o.tree() + ")";
        } else if (op instanceof Op.Rename o) {
            return "new Op.Rename(" + o.from() + ", " + o.to() + ")";
        } else if (op instanceof Op.Crash o) {
            return "new Op.Crash(" + o.seed() + "L)";
        } else if (op instanceof Op.Clean o) {
            return "new Op.Clean(" + o.everySegment() + ", " + o.writing() + ")";
        } else if (op instanceof Op.Evict o) {
            return "new Op.Evict(" + o.seed() + "L)";
        } else if (op instanceof Op.CutShort o) {
            return "new Op.CutShort(" + o.work() + ", " + o.failAfter() + ", " + o.seed() + "L)";
        }
        return "new Op." + op.getClass().getSimpleName() + "()";
    }

    private static String quote(String s) {
        return s == null ? "null" : "\"" + s + "\"";
    }
}
