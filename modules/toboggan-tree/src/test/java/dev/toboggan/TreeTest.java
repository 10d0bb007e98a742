package dev.toboggan;

import static dev.toboggan.TestKeys.be;
import static dev.toboggan.TestKeys.drain;
import static dev.toboggan.TestKeys.hex;
import static dev.toboggan.TestKeys.show;
import static dev.toboggan.TestKeys.utf8;
import static dev.toboggan.TestKeys.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.PageCacheConfig;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The tree's API on a store with tiny nodes, so that a few hundred keys make a tree several levels deep. */
class TreeTest {
    private final SimulatedStorage disk = new SimulatedStorage();
    private Store db = PageCacheBackend.openSmall(disk);

    @AfterEach
    void close() {
        db.close();
    }

    private void reopen() {
        db.close();
        db = PageCacheBackend.openSmall(disk);
    }

    /**
     * {@code lowerEntry}, {@code floorEntry}, {@code ceilingEntry} and {@code higherEntry} answer as a
     * {@link java.util.TreeMap}'s do, on keys from a small alphabet with 0x00 and 0xFF bytes and the empty key,
     * after most of them were removed again (empty and merged leaves between the survivors), and for probes of
     * the longest key length (whose successor bound is longer than a key may be).
     */
    @Test
    void neighbourLookupsAnswerAsANavigableMapDoes() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(42);
        NavigableMap<byte[], byte[]> model = TestKeys.model();
        byte[] alphabet = {0, 1, 0x41, (byte) 0x80, (byte) 0xFF};
        java.util.function.Supplier<byte[]> key = () -> {
            byte[] k = new byte[r.nextInt(4)];
            for (int i = 0; i < k.length; i++) {
                k[i] = alphabet[r.nextInt(alphabet.length)];
            }
            return k;
        };
        for (int i = 0; i < 400; i++) {
            byte[] k = key.get();
            db.insert(k, k.length == 0 ? new byte[] {9} : k);
            model.put(k, k.length == 0 ? new byte[] {9} : k);
        }
        byte[] longest = new byte[Tree.MAX_KEY_LENGTH];
        Arrays.fill(longest, (byte) 0x41);
        for (int round = 0; round < 3; round++) {
            for (int probe = 0; probe < 300; probe++) {
                byte[] k = probe == 0 ? longest : key.get();
                assertThat(entry(db.lowerEntry(k))).as("lower of %s", TestKeys.hex(k)).isEqualTo(entry(model.lowerEntry(k)));
                assertThat(entry(db.floorEntry(k))).as("floor of %s", TestKeys.hex(k)).isEqualTo(entry(model.floorEntry(k)));
                assertThat(entry(db.ceilingEntry(k))).as("ceiling of %s", TestKeys.hex(k))
                        .isEqualTo(entry(model.ceilingEntry(k)));
                assertThat(entry(db.higherEntry(k))).as("higher of %s", TestKeys.hex(k))
                        .isEqualTo(entry(model.higherEntry(k)));
            }
            for (int i = 0; i < 40; i++) { // thin the tree out between rounds
                byte[] k = key.get();
                db.remove(k);
                model.remove(k);
            }
        }
        db.insert(longest, utf8("max"));
        model.put(longest, utf8("max"));
        for (byte[] k : List.of(longest, Arrays.copyOf(longest, 100), utf8("B"))) {
            assertThat(entry(db.floorEntry(k))).isEqualTo(entry(model.floorEntry(k)));
            assertThat(entry(db.higherEntry(k))).isEqualTo(entry(model.higherEntry(k)));
            assertThat(entry(db.lowerEntry(k))).isEqualTo(entry(model.lowerEntry(k)));
        }
        assertThatThrownBy(() -> db.lowerEntry(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the key is null");
        assertThatThrownBy(() -> db.higherEntry(new byte[Tree.MAX_KEY_LENGTH + 1]))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static String entry(Map.Entry<byte[], byte[]> e) {
        return e == null ? null : TestKeys.hex(e.getKey()) + "=" + TestKeys.hex(e.getValue());
    }

    @Test
    void anEmptyTreeHasNothing() {
        assertThat(db.get(utf8("a"))).isNull();
        assertThat(db.containsKey(utf8("a"))).isFalse();
        assertThat(db.first()).isNull();
        assertThat(db.last()).isNull();
        assertThat(db.size()).isZero();
        assertThat(db.isEmpty()).isTrue();
        assertThat(db.iterator().hasNext()).isFalse();
        assertThat(db.rangeReverse(null, null).hasNext()).isFalse();
        assertThat(db.remove(utf8("a"))).isNull();
        Iterator<Map.Entry<byte[], byte[]>> it = db.range(null, null);
        assertThatThrownBy(it::next).isInstanceOf(NoSuchElementException.class);
    }

    @Test
    void insertReturnsThePreviousValueAndRemoveTheRemovedOne() {
        assertThat(db.insert(utf8("k"), utf8("1"))).isNull();
        assertThat(db.insert(utf8("k"), utf8("2"))).isEqualTo(utf8("1"));
        assertThat(db.get(utf8("k"))).isEqualTo(utf8("2"));
        assertThat(db.containsKey(utf8("k"))).isTrue();
        assertThat(db.remove(utf8("k"))).isEqualTo(utf8("2"));
        assertThat(db.remove(utf8("k"))).isNull();
        assertThat(db.get(utf8("k"))).isNull();
    }

    @Test
    void theEmptyKeyAndEmptyValuesAreValid() {
        db.insert(new byte[0], new byte[0]);
        db.insert(new byte[] {0}, utf8("zero"));
        assertThat(db.get(new byte[0])).isEmpty();
        assertThat(db.first().getKey()).isEmpty();
        assertThat(db.last().getKey()).containsExactly(0);
        assertThat(drain(db.rangeReverse(null, new byte[] {0}))).containsExactly("=");
        assertThat(drain(db.rangeReverse(null, new byte[0]))).isEmpty();
    }

    @Test
    void batchesOverSeveralTreesApplyTogetherAndBadOnesChangeNothing() {
        db.applyBatches(Map.of(Db.DEFAULT_TREE, new Batch().insert(utf8("k"), utf8("default")),
                "other", new Batch().insert(utf8("k"), utf8("other")).remove(utf8("absent")),
                "untouched", new Batch()));
        assertThat(db.get(utf8("k"))).isEqualTo(utf8("default"));
        assertThat(db.tree("other").get(utf8("k"))).isEqualTo(utf8("other"));
        assertThat(db.treeNames()).as("a tree whose batch is empty is not created").doesNotContain("untouched");
        Map<String, Batch> nullName = new java.util.HashMap<>();
        nullName.put(null, new Batch().insert(utf8("x"), utf8("x")));
        nullName.put("other", new Batch().insert(utf8("k"), utf8("changed")));
        assertThatThrownBy(() -> db.applyBatches(nullName)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tree name").hasMessageContaining("null");
        Map<String, Batch> nullBatch = new java.util.HashMap<>();
        nullBatch.put("other", null);
        nullBatch.put("new", new Batch().insert(utf8("x"), utf8("x")));
        assertThatThrownBy(() -> db.applyBatches(nullBatch)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the batch for tree 'other' is null");
        assertThatThrownBy(() -> db.applyBatches(null)).isInstanceOf(IllegalArgumentException.class);
        assertThat(db.tree("other").get(utf8("k"))).isEqualTo(utf8("other"));
        assertThat(db.treeNames()).doesNotContain("new");
    }

    @Test
    void arraysAreCopiedInAndOut() {
        byte[] key = utf8("key");
        byte[] value = utf8("value");
        db.insert(key, value);
        key[0] = 'X';
        value[0] = 'X';
        byte[] read = db.get(utf8("key"));
        assertThat(read).isEqualTo(utf8("value"));
        read[0] = 'Y';
        assertThat(db.get(utf8("key"))).isEqualTo(utf8("value"));
        db.first().getValue()[0] = 'Z';
        assertThat(db.get(utf8("key"))).isEqualTo(utf8("value"));
    }

    @Test
    void manyKeysGrowADeepTreeThatMatchesAModel() {
        NavigableMap<byte[], byte[]> model = TestKeys.model();
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 3000; i++) {
            byte[] key = new byte[1 + r.nextInt(12)];
            r.nextBytes(key);
            if (r.nextInt(5) == 0 && !model.isEmpty()) {
                byte[] victim = model.ceilingKey(key) != null ? model.ceilingKey(key) : model.firstKey();
                assertThat(db.remove(victim)).isEqualTo(model.remove(victim));
            } else {
                byte[] v = value(i, r.nextInt(60));
                assertThat(db.insert(key, v)).isEqualTo(model.put(key, v));
            }
        }
        assertThat(drain(db.iterator())).isEqualTo(show(model));
        assertThat(db.size()).isEqualTo(model.size());
        assertThat(depth(db)).isGreaterThan(3);
        TreeVerifier.verify(db);
        for (byte[] key : model.keySet()) {
            assertThat(db.get(key)).isEqualTo(model.get(key));
        }
        reopen();
        assertThat(drain(db.iterator())).isEqualTo(show(model));
        TreeVerifier.verify(db);
    }

    /**
     * A queue (appends at the end, removes from the front, as a journal whose old events are deleted): the
     * leaves the consumer empties are merged away, so the tree stays the size of what it holds, and
     * {@code first()} does not walk a growing chain of empty leaves.
     */
    @Test
    void aQueueConsumedFromTheFrontKeepsItsTreeTheSizeOfWhatItHolds() {
        int held = 2000;
        for (int i = 0; i < held; i++) {
            db.insert(be(i), value(i, 8));
        }
        List<Integer> full = TreeVerifier.nodesPerLevel(db);
        int leaves = full.get(full.size() - 1);
        for (int i = 0; i < 10 * held; i++) {
            db.insert(be(held + i), value(held + i, 8));
            assertThat(db.remove(be(i))).isEqualTo(value(i, 8));
        }
        List<Integer> after = TreeVerifier.nodesPerLevel(db);
        assertThat(after.get(after.size() - 1)).as("leaves: %s after the appends, %s at the start", after, full)
                .isLessThanOrEqualTo(leaves + leaves / 2);
        assertThat(db.first().getKey()).isEqualTo(be(10 * held));
        assertThat(db.size()).isEqualTo(held);
        TreeVerifier.verify(db);
        reopen();
        assertThat(TreeVerifier.nodesPerLevel(db)).isEqualTo(after);
        assertThat(db.first().getKey()).isEqualTo(be(10 * held));
        TreeVerifier.verify(db);
    }

    /** Removing every key, in random order, merges each level down to a node or two, and frees the rest. */
    @Test
    void removingEveryKeyMergesEveryLevelDownToANodeOrTwo() {
        NavigableMap<byte[], byte[]> model = TestKeys.model();
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 3000; i++) {
            byte[] key = new byte[1 + r.nextInt(12)];
            r.nextBytes(key);
            byte[] v = value(i, r.nextInt(60));
            db.insert(key, v);
            model.put(key, v);
        }
        List<Integer> full = TreeVerifier.nodesPerLevel(db);
        List<byte[]> keys = new java.util.ArrayList<>(model.keySet());
        Collections.shuffle(keys, new java.util.Random(4));
        for (byte[] key : keys) {
            assertThat(db.remove(key)).isEqualTo(model.remove(key));
        }
        assertThat(db.isEmpty()).isTrue();
        List<Integer> empty = TreeVerifier.nodesPerLevel(db);
        assertThat(empty).as("nodes per level: %s full, %s emptied", full, empty).hasSameSizeAs(full)
                .allSatisfy(nodes -> assertThat(nodes).isLessThanOrEqualTo(2));
        TreeVerifier.verify(db);
        for (int i = 0; i < 500; i++) {
            db.insert(be(i), be(i));
        }
        assertThat(db.size()).isEqualTo(500);
        TreeVerifier.verify(db);
    }

    /**
     * Removing nine keys in ten at random leaves most leaves a tenth full: those merge with their
     * neighbours, so the tree shrinks with what it holds (599 leaves before, 125 after; with only empty
     * leaves merged, 575 stayed), and so does the index above them. Scans and a reopen see exactly what
     * is left.
     */
    @Test
    void removingMostKeysAtRandomMergesTheLeavesTheyLeftSparse() {
        db.close();
        db = openKiloNodes();
        NavigableMap<byte[], byte[]> model = TestKeys.model();
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < 20_000; i++) {
            byte[] key = new byte[8];
            r.nextBytes(key);
            byte[] v = value(i, 8);
            db.insert(key, v);
            model.put(key, v);
        }
        List<Integer> full = TreeVerifier.nodesPerLevel(db);
        List<byte[]> keys = new java.util.ArrayList<>(model.keySet());
        Collections.shuffle(keys, new java.util.Random(6));
        for (byte[] key : keys.subList(0, keys.size() * 9 / 10)) {
            assertThat(db.remove(key)).isEqualTo(model.remove(key));
        }
        List<Integer> sparse = TreeVerifier.nodesPerLevel(db);
        assertThat(sparse).as("nodes per level: %s full, %s after the removes", full, sparse).hasSameSizeAs(full);
        assertThat(sparse.get(2)).as("leaves: %s full, %s after the removes", full, sparse)
                .isLessThanOrEqualTo(full.get(2) / 3);
        assertThat(sparse.get(1)).as("index nodes: %s full, %s after the removes", full, sparse)
                .isLessThan(full.get(1));
        TreeVerifier.verify(db);
        assertThat(drain(db.iterator())).isEqualTo(show(model));
        db.close();
        db = openKiloNodes();
        assertThat(drain(db.iterator())).isEqualTo(show(model));
        TreeVerifier.verify(db);
    }

    /**
     * A remove that leaves its leaf underfull reads the leaf's sibling to decide whether a merge would fit.
     * If that sibling is paged out and the disk fails to read it back, the remove, which succeeded, still
     * returns what it removed (the failed read then fails the store, as any failed read does: the next call
     * says so), and the store reopens to a tree that checks out.
     */
    @Test
    void aRemoveThatLeavesItsLeafUnderfullReturnsWhenItsSiblingCannotBeReadBack() {
        db.close();
        db = openKiloNodes();
        for (int i = 0; i < 200; i++) {
            db.insert(be(i), value(i, 8));
        }
        Index root = (Index) db.pageCache().get(db.pageCache().root(Store.TREE_PREFIX + Db.DEFAULT_TREE)).value();
        assertThat(root.children.length).as("leaves under the root").isGreaterThanOrEqualTo(3);
        Leaf first = (Leaf) db.pageCache().get(root.children[0]).value();
        db.flush();
        assertThat(db.pageCache().pageOut(root.children[1])).as("the first leaf's sibling paged out").isTrue();
        disk.failAfter(1, java.util.Set.of(SimulatedStorage.Op.READ), SimulatedStorage.FailMode.FOREVER);
        int removed = 0;
        while (db.pageCache().log().failure() == null) { // until a remove made the leaf underfull
            assertThat(removed).as("removes from the first leaf").isLessThan(first.count());
            assertThat(db.remove(be(removed))).as("remove of key %s", removed).isEqualTo(value(removed, 8));
            removed++;
        }
        assertThat(first.encodedSize()).isGreaterThanOrEqualTo(1024 / 4);
        int next = removed;
        assertThatThrownBy(() -> db.get(be(next))).isInstanceOf(dev.toboggan.core.StoreFailedException.class)
                .hasMessageContaining("simulated failure of READ");
        disk.clearFaults();
        try {
            db.close();
        } catch (dev.toboggan.core.StoreFailedException expected) {
            // closing a failed store says so
        }
        db = openKiloNodes();
        TreeVerifier.verify(db);
        for (int i = removed; i < 200; i++) {
            assertThat(db.get(be(i))).isEqualTo(value(i, 8));
        }
    }

    /** A store on this test's disk whose nodes split at 1 KiB: leaves of about 35 small entries. */
    private Store openKiloNodes() {
        return PageCacheBackend.open(disk, PageCacheBackend.smallConfig(4096), new TreeSettings(1024, 32));
    }

    /**
     * A scan that stopped at the end of a leaf remembers the next leaf's page; a merge may free that page,
     * and another tree reuse its id for a leaf starting at the same key. The scan must not read that leaf.
     */
    @Test
    void aScanDoesNotFollowItsNextLeafIntoAPageAMergeFreedAndAnotherTreeReused() {
        Tree other = db.tree("other");
        int m = 0;
        while (TreeVerifier.nodesPerLevel(db).size() == 1) {
            db.insert(be(m), be(m));
            if (TreeVerifier.nodesPerLevel(db).size() == 1) {
                other.insert(be(m), be(m)); // the same keys in the same order, up to the first split
            }
            m++;
        }
        Iterator<Map.Entry<byte[], byte[]>> scan = db.iterator();
        assertThat(scan.next().getKey()).isEqualTo(be(0)); // reads the first leaf, remembers the second
        List<String> firstLeaf = new java.util.ArrayList<>();
        firstLeaf.add(hex(be(0)));
        Index root = (Index) db.pageCache().get(db.pageCache().root(Store.TREE_PREFIX + Db.DEFAULT_TREE)).value();
        byte[] secondLo = ((Leaf) db.pageCache().get(root.children[1]).value()).lo;
        for (int i = 0; i < m; i++) {
            if (Arrays.compareUnsigned(be(i), secondLo) >= 0) {
                db.remove(be(i)); // empties the second leaf: merged into the first, its page freed
            } else if (i > 0) {
                firstLeaf.add(hex(be(i)));
            }
        }
        other.insert(be(m - 1), be(m - 1)); // the other tree's first split: its right half starts at the same key
        List<String> rest = new java.util.ArrayList<>();
        scan.forEachRemaining(e -> rest.add(hex(e.getKey())));
        assertThat(rest).as("after the first key").isEqualTo(firstLeaf.subList(1, firstLeaf.size()));
        TreeVerifier.verify(db);
    }

    @Test
    void rangesMatchTheModelForEveryBound() {
        NavigableMap<byte[], byte[]> model = TestKeys.model();
        for (int i = 0; i < 400; i += 2) {
            db.insert(be(i), be(i));
            model.put(be(i), be(i));
        }
        SplittableRandom r = new SplittableRandom(2);
        for (int round = 0; round < 200; round++) {
            byte[] from = r.nextInt(8) == 0 ? null : be(r.nextInt(-5, 410));
            byte[] to = r.nextInt(8) == 0 ? null : be(r.nextInt(-5, 410));
            if (from != null && to != null && Arrays.compareUnsigned(from, to) > 0) {
                byte[] t = from;
                from = to;
                to = t;
            }
            Map<byte[], byte[]> sub = from == null && to == null ? model
                    : from == null ? model.headMap(to, false)
                    : to == null ? model.tailMap(from, true)
                    : model.subMap(from, true, to, false);
            List<String> expected = show(sub);
            assertThat(drain(db.range(from, to))).as("range %s %s", hex(from), hex(to)).isEqualTo(expected);
            Collections.reverse(expected);
            assertThat(drain(db.rangeReverse(from, to))).as("reverse %s %s", hex(from), hex(to)).isEqualTo(expected);
        }
        assertThat(hex(db.first().getKey())).isEqualTo("00000000");
        assertThat(hex(db.last().getKey())).isEqualTo(hex(be(398)));
    }

    @Test
    void prefixScansStopAtThePrefixEnd() {
        for (String k : List.of("a", "ab", "abc", "abd", "ac", "b", "")) {
            db.insert(utf8(k), utf8(k));
        }
        db.insert(new byte[] {(byte) 0xFF}, utf8("ff"));
        db.insert(new byte[] {(byte) 0xFF, (byte) 0xFF, 1}, utf8("ffff01"));
        assertThat(drain(db.scanPrefix(utf8("ab")))).containsExactly(
                hex(utf8("ab")) + "=" + hex(utf8("ab")), hex(utf8("abc")) + "=" + hex(utf8("abc")),
                hex(utf8("abd")) + "=" + hex(utf8("abd")));
        assertThat(drain(db.scanPrefix(new byte[] {(byte) 0xFF}))).hasSize(2);
        assertThat(drain(db.scanPrefix(new byte[0]))).hasSize(9);
        assertThat(BLinkTree.prefixEnd(new byte[] {1, (byte) 0xFF})).containsExactly(2);
        assertThat(BLinkTree.prefixEnd(new byte[] {(byte) 0xFF})).isNull();
    }

    @Test
    void valuesOfEverySizeRoundTripAndFreeTheirPagesWhenReplaced() {
        byte[] small = value(1, 10);
        byte[] paged = value(2, 500);
        byte[] blob = value(3, 20_000);
        db.insert(utf8("s"), small);
        db.insert(utf8("p"), paged);
        db.insert(utf8("b"), blob);
        TreeVerifier.verify(db);
        assertThat(db.get(utf8("p"))).isEqualTo(paged);
        assertThat(db.get(utf8("b"))).isEqualTo(blob);
        assertThat(db.insert(utf8("p"), small)).isEqualTo(paged);
        assertThat(db.insert(utf8("s"), blob)).isEqualTo(small);
        assertThat(db.remove(utf8("b"))).isEqualTo(blob);
        TreeVerifier.verify(db);
        db.flush();
        reopen();
        assertThat(db.get(utf8("s"))).isEqualTo(blob);
        assertThat(db.get(utf8("p"))).isEqualTo(small);
        assertThat(db.get(utf8("b"))).isNull();
        assertThat(drain(db.iterator())).hasSize(2);
        TreeVerifier.verify(db);
    }

    @Test
    void aHugeValueSplitsOffAsItsOwnLeafAndEveryOtherKeyStaysReachable() {
        Store big = PageCacheBackend.open(new SimulatedStorage(), PageCacheBackend.smallConfig(64 * 1024),
                new TreeSettings(256, 256));
        try {
            byte[] huge = value(9, 3 << 20);
            for (int i = 0; i < 50; i++) {
                big.insert(be(i), value(i, 30));
            }
            big.insert(be(25), huge);
            for (int i = 50; i < 100; i++) {
                big.insert(be(i), value(i, 30));
            }
            assertThat(big.get(be(25))).isEqualTo(huge);
            assertThat(big.size()).isEqualTo(100);
            TreeVerifier.verify(big);
        } finally {
            big.close();
        }
    }

    @Test
    void keysOfTheMaximumLengthWork() {
        NavigableMap<byte[], byte[]> model = TestKeys.model();
        for (int i = 0; i < 12; i++) {
            byte[] key = value(i, Tree.MAX_KEY_LENGTH);
            key[0] = (byte) i;
            byte[] v = value(-i, i * 10);
            db.insert(key, v);
            model.put(key, v);
        }
        TreeVerifier.verify(db);
        db.flush();
        reopen();
        assertThat(drain(db.iterator())).isEqualTo(show(model));
        TreeVerifier.verify(db);
    }

    @Test
    void compareAndSwapSetsOnlyOnTheExpectedValue() {
        byte[] k = utf8("k");
        assertThat(db.compareAndSwap(k, utf8("x"), utf8("1"))).isEqualTo(new SwapResult(false, null));
        SwapResult created = db.compareAndSwap(k, null, utf8("1"));
        assertThat(created.succeeded()).isTrue();
        assertThat(created.current()).isEqualTo(utf8("1"));
        SwapResult refused = db.compareAndSwap(k, null, utf8("2"));
        assertThat(refused.succeeded()).isFalse();
        assertThat(refused.current()).isEqualTo(utf8("1"));
        assertThat(db.compareAndSwap(k, utf8("1"), value(5, 400)).succeeded()).isTrue();
        SwapResult wrong = db.compareAndSwap(k, utf8("1"), utf8("3"));
        assertThat(wrong.current()).isEqualTo(value(5, 400));
        assertThat(db.compareAndSwap(k, value(5, 400), null)).isEqualTo(new SwapResult(true, null));
        assertThat(db.get(k)).isNull();
        assertThat(db.compareAndSwap(k, null, null).succeeded()).isTrue();
        assertThat(db.compareAndSwap(k, null, value(6, 400)).succeeded()).isTrue();
        assertThat(db.compareAndSwap(k, utf8("no"), value(7, 400)).succeeded()).isFalse();
        TreeVerifier.verify(db);
    }

    @Test
    void aBatchAppliesInOrder() {
        db.insert(utf8("gone"), utf8("x"));
        Batch batch = new Batch().insert(utf8("a"), utf8("1")).insert(utf8("b"), value(1, 300)).remove(utf8("gone"))
                .insert(utf8("a"), utf8("2")).remove(utf8("b")).insert(utf8("c"), utf8("3"));
        assertThat(batch.size()).isEqualTo(6);
        db.applyBatch(batch);
        assertThat(drain(db.iterator())).containsExactly(hex(utf8("a")) + "=" + hex(utf8("2")),
                hex(utf8("c")) + "=" + hex(utf8("3")));
        db.applyBatch(new Batch());
        TreeVerifier.verify(db);
    }

    @Test
    void invalidInputIsRefusedAndChangesNothing() {
        db.insert(utf8("k"), utf8("v"));
        byte[] longKey = new byte[Tree.MAX_KEY_LENGTH + 1];
        byte[] longValue = new byte[Tree.MAX_VALUE_LENGTH + 1];
        assertThatThrownBy(() -> db.get(null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("key is null");
        assertThatThrownBy(() -> db.insert(null, utf8("v"))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> db.insert(utf8("k"), null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("use remove");
        assertThatThrownBy(() -> db.insert(longKey, utf8("v"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("MAX_KEY_LENGTH");
        assertThatThrownBy(() -> db.insert(utf8("k"), longValue)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("MAX_VALUE_LENGTH");
        assertThatThrownBy(() -> db.compareAndSwap(utf8("k"), utf8("v"), longValue))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> db.remove(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> db.range(utf8("b"), utf8("a"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("starts after it ends");
        assertThatThrownBy(() -> db.scanPrefix(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> db.applyBatch(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Batch().insert(utf8("k"), longValue)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Batch().remove(longKey)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> db.tree(null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> db.dropTree(Db.DEFAULT_TREE)).isInstanceOf(IllegalArgumentException.class);
        assertThat(drain(db.iterator())).containsExactly(hex(utf8("k")) + "=" + hex(utf8("v")));
        assertThat(db.treeNames()).containsExactly(Db.DEFAULT_TREE);
    }

    @Test
    void everyCallAfterCloseFailsClearly() {
        Tree named = db.tree("named");
        Iterator<Map.Entry<byte[], byte[]>> it = db.iterator();
        db.close();
        db.close();
        List<Runnable> calls = List.of(() -> db.get(utf8("k")), () -> db.insert(utf8("k"), utf8("v")),
                () -> db.remove(utf8("k")), () -> db.compareAndSwap(utf8("k"), null, utf8("v")),
                () -> db.range(null, null), () -> db.size(), () -> db.flush(), () -> db.flushAsync(),
                () -> db.applyBatch(new Batch().remove(utf8("k"))), () -> db.tree("x"), () -> db.treeNames(),
                () -> db.dropTree("named"), () -> db.generateId(), () -> db.sizeOnDisk(), it::hasNext,
                () -> named.get(utf8("k")), () -> named.insert(utf8("k"), utf8("v")));
        for (Runnable call : calls) {
            assertThatThrownBy(call::run).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
        db = PageCacheBackend.openSmall(disk);
    }

    @Test
    void namedTreesAreIndependentAndDroppedWhole() {
        Tree a = db.tree("a");
        Tree b = db.tree("b");
        assertThat(db.tree("a")).isSameAs(a);
        assertThat(db.tree(Db.DEFAULT_TREE).get(utf8("x"))).isNull();
        for (int i = 0; i < 300; i++) {
            a.insert(be(i), value(i, 40));
            b.insert(be(i), value(-i, i % 7 == 0 ? 300 : 20));
            db.insert(be(i), be(i));
        }
        assertThat(db.treeNames()).containsExactly("__toboggan_default", "a", "b");
        assertThat(a.get(be(5))).isEqualTo(value(5, 40));
        assertThat(b.get(be(7))).isEqualTo(value(-7, 300));
        TreeVerifier.verify(db);

        assertThat(db.dropTree("b")).isTrue();
        assertThat(db.dropTree("b")).isFalse();
        assertThatThrownBy(() -> b.get(be(1))).isInstanceOf(IllegalStateException.class).hasMessageContaining("dropped");
        assertThatThrownBy(() -> b.insert(be(1), be(1))).isInstanceOf(IllegalStateException.class);
        assertThat(db.treeNames()).containsExactly("__toboggan_default", "a");
        TreeVerifier.verify(db);

        Tree again = db.tree("b");
        assertThat(again).isNotSameAs(b);
        assertThat(again.isEmpty()).isTrue();
        again.insert(utf8("new"), utf8("tree"));
        db.flush();
        reopen();
        assertThat(db.treeNames()).containsExactly("__toboggan_default", "a", "b");
        assertThat(db.tree("a").size()).isEqualTo(300);
        assertThat(drain(db.tree("b").iterator())).containsExactly(hex(utf8("new")) + "=" + hex(utf8("tree")));
        assertThat(db.size()).isEqualTo(300);
        TreeVerifier.verify(db);
    }

    /**
     * A clear empties a tree several levels deep whose leaves reference value pages and a blob, frees every page
     * but the root (the verifier finds no leak), leaves the other trees alone, keeps the tree usable under the same
     * handle, and survives a restart; iterators begun before it end at their next leaf without a key twice.
     */
    @Test
    void aClearEmptiesTheTreeFreesItsPagesAndLeavesTheOthers() {
        Tree a = db.tree("a");
        Tree b = db.tree("b");
        for (int i = 0; i < 400; i++) {
            a.insert(be(i), value(i, i % 50 == 0 ? 500 : 30));
            b.insert(be(i), be(i));
        }
        a.insert(utf8("blob"), value(7, 20_000));
        long liveBefore = db.pageCache().logicalSize();
        Iterator<Map.Entry<byte[], byte[]>> early = a.iterator();
        early.next();

        assertThat(a.clear()).isEqualTo(401);
        assertThat(a.isEmpty()).isTrue();
        assertThat(a.get(be(5))).isNull();
        assertThat(a.first()).isNull();
        assertThat(drain(a.rangeReverse(null, null))).isEmpty();
        assertThat(b.size()).isEqualTo(400);
        assertThat(db.pageCache().logicalSize()).isLessThan(liveBefore / 2);
        TreeVerifier.verify(db);
        int seen = 0;
        while (early.hasNext()) { // the rest of its first leaf at most; then it finds the tree empty
            early.next();
            seen++;
        }
        assertThat(seen).isLessThan(400);

        assertThat(a.clear()).isZero();
        a.insert(utf8("after"), utf8("clear"));
        assertThat(db.tree("a")).isSameAs(a);
        db.flush();
        reopen();
        assertThat(drain(db.tree("a").iterator())).containsExactly(hex(utf8("after")) + "=" + hex(utf8("clear")));
        assertThat(db.tree("b").size()).isEqualTo(400);
        TreeVerifier.verify(db);

        for (int i = 0; i < 300; i++) { // the default tree, cleared through the Db, grows again from its root leaf
            db.insert(be(i), value(i, 40));
        }
        assertThat(db.clear()).isEqualTo(300);
        for (int i = 0; i < 300; i++) {
            db.insert(be(i), value(-i, 40));
        }
        assertThat(db.get(be(299))).isEqualTo(value(-299, 40));
        TreeVerifier.verify(db);
    }

    /**
     * A clear surveys a cold tree before it takes the exclusive side, reading it into the cache, so that what
     * writers wait for reads nothing from the disk: after the survey, the clear pages nothing in.
     */
    @Test
    void aClearReadsAColdTreeBeforeItHoldsTheWriters() {
        Tree t = db.tree("t");
        for (int i = 0; i < 400; i++) {
            t.insert(be(i), value(i, i % 50 == 0 ? 500 : 30));
        }
        db.flush();
        reopen();
        BLinkTree cold = (BLinkTree) db.tree("t");
        long misses = db.pageCache().cacheStats().misses();
        assertThat(cold.survey()).isNotNull();
        assertThat(db.pageCache().cacheStats().misses() - misses).as("nodes read by the survey").isGreaterThan(10);
        long before = db.pageCache().cacheStats().misses();
        assertThat(cold.clear()).isEqualTo(400);
        assertThat(db.pageCache().cacheStats().misses()).as("pages the clear read from the disk").isEqualTo(before);
        TreeVerifier.verify(db);
    }

    /**
     * A survey stands for the tree only while no page it found changed and no structure change of the tree ran:
     * an insert, a split, a merge each make it stale, and a teardown then walks the tree again.
     */
    @Test
    void aSurveyIsStaleOnceTheTreeChanges() {
        BLinkTree t = (BLinkTree) db.tree("t");
        for (int i = 0; i < 300; i++) {
            t.insert(be(i), value(i, 30));
        }
        long root = db.pageCache().root(Store.TREE_PREFIX + "t");
        BLinkTree.Teardown survey = t.survey();
        assertThat(survey.stillCurrent(root)).isTrue();
        t.insert(be(7), value(-7, 30));
        assertThat(survey.stillCurrent(root)).as("after an overwrite").isFalse();

        BLinkTree.Teardown beforeSplits = t.survey();
        for (int i = 300; i < 330; i++) {
            t.insert(be(i), value(i, 30));
        }
        assertThat(beforeSplits.stillCurrent(root)).as("after inserts that split leaves").isFalse();

        BLinkTree.Teardown beforeMerges = t.survey();
        assertThat(beforeMerges.stillCurrent(root)).isTrue();
        long changes = db.metrics().concurrency().structureChanges();
        for (int i = 0; i < 200; i++) {
            t.remove(be(i));
        }
        assertThat(db.metrics().concurrency().structureChanges()).as("merges").isGreaterThan(changes);
        assertThat(beforeMerges.stillCurrent(root)).as("after merges").isFalse();
        assertThat(t.clear()).isEqualTo(130);
        TreeVerifier.verify(db);
    }

    @Test
    void aClearOfADroppedTreeOrAClosedStoreIsRefused() {
        Tree t = db.tree("t");
        t.insert(utf8("k"), utf8("v"));
        db.dropTree("t");
        assertThatThrownBy(t::clear).isInstanceOf(IllegalStateException.class).hasMessageContaining("dropped");
        db.insert(utf8("k"), utf8("v"));
        db.close();
        assertThatThrownBy(db::clear).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        db = PageCacheBackend.openSmall(disk);
        assertThat(db.get(utf8("k"))).isEqualTo(utf8("v"));
    }

    /**
     * A rename to a free name moves the tree whole; one onto an existing tree replaces it (its pages freed, its
     * objects reading the new entries); the renamed tree's objects fail naming the new name, its watches end, and
     * the old name starts over empty; all of it survives a restart.
     */
    @Test
    void aRenameMovesATreeAndReplacesTheTreeOfItsNewName() throws Exception {
        Tree scratch = db.tree("scratch");
        Tree live = db.tree("live");
        for (int i = 0; i < 300; i++) {
            scratch.insert(be(i), value(i, i % 40 == 0 ? 500 : 30));
            live.insert(be(i * 2), utf8("old"));
        }
        live.insert(utf8("blob"), value(3, 20_000));
        java.util.concurrent.atomic.AtomicReference<Throwable> ended = new java.util.concurrent.atomic.AtomicReference<>();
        scratch.watchPrefix(new byte[0]).subscribe(new java.util.concurrent.Flow.Subscriber<>() {
            @Override
            public void onSubscribe(java.util.concurrent.Flow.Subscription subscription) {
                subscription.request(Long.MAX_VALUE);
            }

            @Override
            public void onNext(WatchEvent event) {}

            @Override
            public void onError(Throwable error) {
                ended.set(error);
            }

            @Override
            public void onComplete() {}
        });
        long liveBefore = db.pageCache().logicalSize();

        assertThat(db.renameTree("scratch", "live")).as("replaced a tree").isTrue();
        assertThat(live.size()).isEqualTo(300);
        assertThat(live.get(be(7))).isEqualTo(value(7, 30));
        assertThat(live.get(be(40))).isEqualTo(value(40, 500));
        assertThat(live.get(utf8("blob"))).isNull();
        assertThat(db.tree("live")).isSameAs(live);
        assertThatThrownBy(() -> scratch.get(be(1))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("renamed to 'live'");
        assertThatThrownBy(() -> scratch.insert(be(1), be(1))).isInstanceOf(IllegalStateException.class);
        for (int wait = 0; wait < 3000 && ended.get() == null; wait++) { // delivered on the watch's executor
            Thread.sleep(10);
        }
        assertThat(ended.get()).as("the renamed tree's watch").hasMessageContaining("renamed");
        assertThat(db.treeNames()).containsExactly(Db.DEFAULT_TREE, "live");
        assertThat(db.pageCache().logicalSize()).as("the replaced tree's pages freed").isLessThan(liveBefore);
        TreeVerifier.verify(db);

        assertThat(db.tree("scratch").isEmpty()).as("the old name starts over").isTrue();
        assertThat(db.renameTree("live", "moved")).as("to a free name").isFalse();
        assertThat(db.treeNames()).containsExactly(Db.DEFAULT_TREE, "moved", "scratch");
        db.tree("moved").insert(utf8("after"), utf8("rename"));
        db.flush();
        reopen();
        assertThat(db.treeNames()).containsExactly(Db.DEFAULT_TREE, "moved", "scratch");
        assertThat(db.tree("moved").size()).isEqualTo(301);
        assertThat(db.tree("moved").get(be(40))).isEqualTo(value(40, 500));
        TreeVerifier.verify(db);

        assertThat(db.renameTree("moved", Db.DEFAULT_TREE)).as("onto the default tree").isTrue();
        assertThat(db.size()).isEqualTo(301);
        assertThat(db.get(utf8("after"))).isEqualTo(utf8("rename"));
        TreeVerifier.verify(db);
    }

    @Test
    void aBadRenameIsRefusedAndChangesNothing() {
        Tree a = db.tree("a");
        a.insert(utf8("k"), utf8("a"));
        Tree b = db.tree("b");
        b.insert(utf8("k"), utf8("b"));
        assertThatThrownBy(() -> db.renameTree(Db.DEFAULT_TREE, "x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("default tree cannot be renamed");
        assertThatThrownBy(() -> db.renameTree("a", "a")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("its own name");
        assertThatThrownBy(() -> db.renameTree("absent", "a")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no tree 'absent'");
        assertThatThrownBy(() -> db.renameTree(null, "a")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> db.renameTree("a", null)).isInstanceOf(IllegalArgumentException.class);
        b.watchPrefix(new byte[0]).subscribe(new java.util.concurrent.Flow.Subscriber<>() {
            @Override
            public void onSubscribe(java.util.concurrent.Flow.Subscription subscription) {}

            @Override
            public void onNext(WatchEvent event) {}

            @Override
            public void onError(Throwable error) {}

            @Override
            public void onComplete() {}
        });
        assertThatThrownBy(() -> db.renameTree("a", "b")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("has watches");
        assertThat(db.treeNames()).containsExactly(Db.DEFAULT_TREE, "a", "b");
        assertThat(a.get(utf8("k"))).isEqualTo(utf8("a"));
        assertThat(b.get(utf8("k"))).isEqualTo(utf8("b"));
        assertThat(db.treeNames()).doesNotContain("absent");
        TreeVerifier.verify(db);
        db.close();
        assertThatThrownBy(() -> db.renameTree("a", "c")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        db = PageCacheBackend.openSmall(disk);
        assertThat(db.treeNames()).containsExactly(Db.DEFAULT_TREE, "a", "b");
    }

    @Test
    void anIteratorOfADroppedTreeFailsAtItsNextLeaf() {
        Tree tree = db.tree("t");
        for (int i = 0; i < 200; i++) {
            tree.insert(be(i), value(i, 20));
        }
        Iterator<Map.Entry<byte[], byte[]>> it = tree.iterator();
        it.next();
        Iterator<Map.Entry<byte[], byte[]>> reverse = tree.rangeReverse(null, null);
        reverse.next();
        db.dropTree("t");
        assertThatThrownBy(() -> {
            while (it.hasNext()) {
                it.next();
            }
        }).isInstanceOf(IllegalStateException.class).hasMessageContaining("dropped");
        assertThatThrownBy(() -> {
            while (reverse.hasNext()) {
                reverse.next();
            }
        }).isInstanceOf(IllegalStateException.class).hasMessageContaining("dropped");
        assertThatThrownBy(tree::size).isInstanceOf(IllegalStateException.class);
        TreeVerifier.verify(db);
    }

    @Test
    void theStoreReportsRecoveryIdsAndDurability() throws Exception {
        assertThat(db.wasRecovered()).isFalse();
        long id = db.generateId();
        assertThat(db.generateId()).isGreaterThan(id);
        db.insert(utf8("k"), utf8("v"));
        assertThat(db.flush()).isPositive();
        assertThat(db.flushAsync().toCompletableFuture().get(10, TimeUnit.SECONDS)).isPositive();
        assertThat(db.sizeOnDisk()).isPositive();
        assertThat(db.directory()).isEqualTo(PageCacheBackend.DIR);
        reopen();
        assertThat(db.wasRecovered()).isTrue();
        assertThat(db.generateId()).isGreaterThan(id + 1);
    }

    @Test
    void indexNodesConsolidateLessOftenThanLeaves() {
        int threshold = PageCacheConfig.DEFAULT_CONSOLIDATION_THRESHOLD;
        db.close();
        SimulatedStorage own = new SimulatedStorage();
        // 1 KiB nodes: an index node takes dozens of added children before it splits
        db = PageCacheBackend.open(own, PageCacheBackend.smallConfig(1 << 16), new TreeSettings(1024, 32));
        NavigableMap<byte[], byte[]> model = new java.util.TreeMap<>(Arrays::compareUnsigned);
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 20_000; i++) {
            byte[] key = new byte[8];
            r.nextBytes(key);
            db.insert(key, value(i, 8));
            model.put(key, value(i, 8));
        }
        int most = 0;
        long pid = db.pageCache().root(Store.TREE_PREFIX + Db.DEFAULT_TREE);
        while (pid != TreeNode.NO_PID) { // each level, left to right
            Node first = db.pageCache().get(pid).value();
            for (long at = pid; at != TreeNode.NO_PID; ) {
                var page = db.pageCache().get(at);
                if (page.value() instanceof Index) {
                    most = Math.max(most, page.fragmentCount());
                    assertThat(page.fragmentCount()).isLessThanOrEqualTo(threshold * NodeMaterializer.INDEX_CONSOLIDATION_FACTOR);
                } else {
                    assertThat(page.fragmentCount()).as("leaf %d", at).isLessThanOrEqualTo(threshold);
                }
                at = ((TreeNode) page.value()).next;
            }
            pid = first instanceof Index index ? index.children[0] : TreeNode.NO_PID;
        }
        assertThat(most).as("an index node past the leaves' threshold").isGreaterThan(threshold);
        TreeVerifier.verify(db);
        db.close();
        db = PageCacheBackend.open(own, PageCacheBackend.smallConfig(1 << 16), new TreeSettings(1024, 32));
        assertThat(drain(db.iterator())).isEqualTo(show(model));
    }

    /** The number of levels of the default tree. */
    private static int depth(Store store) {
        long pid = store.pageCache().root(Store.TREE_PREFIX + Db.DEFAULT_TREE);
        int levels = 1;
        Node node = store.pageCache().get(pid).value();
        while (node instanceof Index index) {
            levels++;
            node = store.pageCache().get(index.children[0]).value();
        }
        return levels;
    }
}
