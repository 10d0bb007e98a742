package dev.toboggan;

import static dev.toboggan.TestKeys.drain;
import static dev.toboggan.TestKeys.show;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.io.SimulatedStorage;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntConsumer;
import org.junit.jupiter.api.Test;

/**
 * {@link Db#buildTree} in a live store: other trees' readers and writers go on while it runs, the built tree
 * appears whole at once, every refusal and failure changes nothing and leaks nothing, and a crash at any point
 * leaves the tree as it was and nothing of the build once the store opens ({@link BulkLoad#freeAbandoned}).
 * {@code BulkLoadTest} has the shape of what it builds.
 */
class TreeBuildTest {
    private static final long SEED = Long.getLong("toboggan.test.seed", System.nanoTime());
    private static final int SCALE = Integer.getInteger("toboggan.test.scale", 1);
    private final SimulatedStorage disk = new SimulatedStorage();

    /** Tiny nodes, values over 24 bytes in value pages: a few thousand entries make four levels. */
    private Store open() {
        return PageCacheBackend.open(disk, PageCacheBackend.smallConfig(4096), new TreeSettings(160, 24));
    }

    private static NavigableMap<byte[], byte[]> entries(SplittableRandom r, int count) {
        NavigableMap<byte[], byte[]> model = TestKeys.model();
        while (model.size() < count) {
            byte[] key = new byte[1 + r.nextInt(20)];
            r.nextBytes(key);
            model.put(key, TestKeys.value(r.nextLong(), r.nextInt(6) == 0 ? 30 + r.nextInt(100) : r.nextInt(20)));
        }
        return model;
    }

    /** {@code entries}' entries, with {@code beforeEach} called with each one's index before it is handed over. */
    private static Iterator<Map.Entry<byte[], byte[]>> hooked(Map<byte[], byte[]> entries, IntConsumer beforeEach) {
        Iterator<Map.Entry<byte[], byte[]>> inner = entries.entrySet().iterator();
        return new Iterator<>() {
            private int taken;

            @Override
            public boolean hasNext() {
                return inner.hasNext();
            }

            @Override
            public Map.Entry<byte[], byte[]> next() {
                beforeEach.accept(taken++);
                return inner.next();
            }
        };
    }

    /** No build's root is left in the meta page, and every live page belongs to a tree. */
    private static void assertNothingOfABuildLeft(Store store) {
        assertThat(store.pageCache().roots().keySet()).noneMatch(root -> root.startsWith(BulkLoad.PREFIX));
        TreeVerifier.verify(store);
    }

    @Test
    void aTreeBuiltBesideReadersAndWritersAppearsWholeAtOnce() throws Exception {
        System.out.println("TreeBuildTest seed " + SEED + " (rerun with -Dtoboggan.test.seed=" + SEED + ")");
        SplittableRandom r = new SplittableRandom(SEED);
        NavigableMap<byte[], byte[]> model = entries(r, 5000);
        byte[] firstKey = model.firstKey();
        byte[] lastKey = model.lastKey();
        NavigableMap<byte[], byte[]> others = TestKeys.model();
        try (Store store = open()) {
            Tree built = store.tree("built"); // open and empty while it is built: read through this object
            Tree other = store.tree("other");
            AtomicBoolean done = new AtomicBoolean();
            AtomicLong partialViews = new AtomicLong();
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                for (int i = 0; !done.get(); i++) {
                    byte[] key = TestKeys.be(i % 3000);
                    byte[] value = TestKeys.value(i, i % 7 == 0 ? 60 : 8);
                    other.insert(key, value);
                    synchronized (others) {
                        others.put(key, value);
                    }
                }
            });
            CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
                while (!done.get()) {
                    // the tree appears at once: once one of its entries is seen, every one is
                    if (built.get(lastKey) != null && (built.get(firstKey) == null || built.size() != model.size())) {
                        partialViews.incrementAndGet();
                    }
                    if (built.first() != null && built.get(lastKey) == null) {
                        partialViews.incrementAndGet();
                    }
                }
            });
            assertThat(store.buildTree("built", model.entrySet().iterator())).isEqualTo(model.size());
            Thread.sleep(20);
            done.set(true);
            writer.get();
            reader.get();
            assertThat(partialViews.get()).as("reads that saw part of the built tree").isZero();
            assertThat(drain(built.iterator())).isEqualTo(show(model));
            assertThat(drain(store.tree("built").iterator())).isEqualTo(show(model));
            assertThat(drain(other.iterator())).isEqualTo(show(others));
            assertNothingOfABuildLeft(store);
            byte[] inserted = {(byte) 0xff, (byte) 0xff, (byte) 0xff};
            built.insert(inserted, TestKeys.be(7));
            model.put(inserted, TestKeys.be(7));
            store.flush();
        }
        try (Store store = open()) {
            assertThat(drain(store.tree("built").iterator())).isEqualTo(show(model));
            assertThat(drain(store.tree("other").iterator())).isEqualTo(show(others));
            assertNothingOfABuildLeft(store);
        }
    }

    @Test
    void treesOfDifferentNamesAreBuiltAtOnce() throws Exception {
        List<NavigableMap<byte[], byte[]>> models = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            models.add(entries(new SplittableRandom(SEED + 10 + t), 2000 + 500 * t));
        }
        try (Store store = open()) {
            List<CompletableFuture<Long>> builds = new ArrayList<>();
            for (int t = 0; t < models.size(); t++) {
                int tree = t;
                builds.add(CompletableFuture.supplyAsync(
                        () -> store.buildTree("parallel-" + tree, models.get(tree).entrySet().iterator())));
            }
            for (int t = 0; t < models.size(); t++) {
                assertThat(builds.get(t).get()).isEqualTo(models.get(t).size());
                assertThat(drain(store.tree("parallel-" + t).iterator())).isEqualTo(show(models.get(t)));
            }
            assertNothingOfABuildLeft(store);
            store.flush();
        }
        try (Store store = open()) {
            for (int t = 0; t < models.size(); t++) {
                assertThat(drain(store.tree("parallel-" + t).iterator())).isEqualTo(show(models.get(t)));
            }
            assertNothingOfABuildLeft(store);
        }
    }

    @Test
    void theDefaultTreeAndATreeNamedNowhereYetAreBuiltToo() {
        NavigableMap<byte[], byte[]> model = entries(new SplittableRandom(SEED + 1), 700);
        try (Store store = open()) {
            assertThat(store.buildTree(Db.DEFAULT_TREE, model.entrySet().iterator())).isEqualTo(700);
            assertThat(drain(store.iterator())).isEqualTo(show(model));
            assertThat(store.buildTree("empty", List.<Map.Entry<byte[], byte[]>>of().iterator())).isZero();
            assertThat(store.treeNames()).contains("empty");
            assertThat(store.tree("empty").isEmpty()).isTrue();
            store.tree("emptied").insert(TestKeys.be(1), TestKeys.be(1));
            store.tree("emptied").remove(TestKeys.be(1));
            assertThat(store.buildTree("emptied", model.entrySet().iterator())).isEqualTo(700);
            assertThat(drain(store.tree("emptied").iterator())).isEqualTo(show(model));
            assertNothingOfABuildLeft(store);
        }
    }

    @Test
    void badInputAndEveryRefusalChangeNothingAndLeakNothing() {
        NavigableMap<byte[], byte[]> model = entries(new SplittableRandom(SEED + 2), 400);
        try (Store store = open()) {
            Tree full = store.tree("full");
            full.insert(TestKeys.be(1), TestKeys.be(1));
            assertThatThrownBy(() -> store.buildTree("full", model.entrySet().iterator()))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("not empty");
            assertThatThrownBy(() -> store.buildTree(null, model.entrySet().iterator()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tree name is null");
            assertThatThrownBy(() -> store.buildTree("t", null))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("pass an iterator");
            for (double fill : new double[] {0.49, 1.01, Double.NaN, -1}) {
                assertThatThrownBy(() -> store.buildTree("t", model.entrySet().iterator(), fill))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("from 0.5 to 1");
            }

            List<Map.Entry<byte[], byte[]>> disordered = new ArrayList<>(model.entrySet());
            disordered.add(Map.entry(model.firstKey(), TestKeys.be(2)));
            assertThatThrownBy(() -> store.buildTree("t", disordered.iterator()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("strictly ascending");
            List<Map.Entry<byte[], byte[]>> withNull = new ArrayList<>(model.entrySet());
            withNull.add(new AbstractMap.SimpleEntry<>(new byte[] {(byte) 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                13, 14, 15, 16, 17, 18, 19, 20, 21}, null));
            assertThatThrownBy(() -> store.buildTree("t", withNull.iterator()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("null value");
            List<Map.Entry<byte[], byte[]>> tooLong = new ArrayList<>(model.entrySet());
            tooLong.add(Map.entry(new byte[Tree.MAX_KEY_LENGTH + 1], TestKeys.be(1)));
            assertThatThrownBy(() -> store.buildTree("u", tooLong.iterator()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Tree.MAX_KEY_LENGTH");
            RuntimeException cursorFailed = new RuntimeException("the source cursor failed");
            Iterator<Map.Entry<byte[], byte[]>> failing = new Iterator<>() {
                private final Iterator<Map.Entry<byte[], byte[]>> inner = model.entrySet().iterator();

                @Override
                public boolean hasNext() {
                    return true;
                }

                @Override
                public Map.Entry<byte[], byte[]> next() {
                    if (!inner.hasNext()) {
                        throw cursorFailed;
                    }
                    return inner.next();
                }
            };
            assertThatThrownBy(() -> store.buildTree("v", failing)).isSameAs(cursorFailed);

            // an entry written into the tree while it is built ends the build at its end, the entry kept
            Iterator<Map.Entry<byte[], byte[]>> racing = hooked(model, taken -> {
                if (taken == 200) {
                    store.tree("raced").insert(TestKeys.be(9), TestKeys.be(9));
                }
            });
            assertThatThrownBy(() -> store.buildTree("raced", racing))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("not empty");
            assertThat(drain(store.tree("raced").iterator())).containsExactly(TestKeys.hex(TestKeys.be(9)) + "="
                    + TestKeys.hex(TestKeys.be(9)));

            BulkLoad running = store.startBuild("twice", 1);
            assertThatThrownBy(() -> store.buildTree("twice", model.entrySet().iterator()))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("running already");
            running.add(TestKeys.be(3), TestKeys.be(3));
            running.abandon(new RuntimeException("the test gives up"));

            WatchTest.Recorder watching = new WatchTest.Recorder();
            store.tree("watched").watchPrefix(new byte[0]).subscribe(watching);
            assertThatThrownBy(() -> store.buildTree("watched", model.entrySet().iterator()))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("watch");
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (watching.subscription.get() == null && System.nanoTime() < deadline) {
                Thread.onSpinWait(); // onSubscribe runs on the watch's executor
            }
            watching.subscription.get().cancel();

            assertThat(drain(full.iterator())).hasSize(1);
            assertThat(store.treeNames()).doesNotContain("t", "u", "v", "twice");
            assertThat(store.tree("watched").isEmpty()).isTrue();
            assertNothingOfABuildLeft(store);
            store.close();
            assertThatThrownBy(() -> store.buildTree("late", model.entrySet().iterator()))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
    }

    /**
     * Power loss while a tree is built, after some of its steps were made durable by another tree's flushes:
     * the store that opens holds the tree as it was (here: absent) and no page or root of the build.
     */
    @Test
    void aCrashWhileATreeIsBuiltLeavesNothingOfIt() {
        SplittableRandom r = new SplittableRandom(SEED + 3);
        for (int round = 0; round < 6 * SCALE; round++) {
            NavigableMap<byte[], byte[]> model = entries(r, 200 + r.nextInt(3000));
            int crashAt = r.nextInt(model.size());
            Store store = open();
            store.insert(TestKeys.be(round), TestKeys.be(round));
            store.flush();
            RuntimeException crashed = new RuntimeException("power loss");
            Iterator<Map.Entry<byte[], byte[]>> entries = hooked(model, taken -> {
                if (taken % 97 == 0) {
                    store.flush();
                }
                if (taken == crashAt) {
                    disk.powerLoss(new SplittableRandom(crashAt));
                    throw crashed;
                }
            });
            String name = "built-" + round;
            assertThatThrownBy(() -> store.buildTree(name, entries)).isSameAs(crashed);
            store.abandon();
            try (Store reopened = open()) {
                assertThat(reopened.treeNames()).as("round %d, crash at entry %d", round, crashAt)
                        .doesNotContain(name);
                assertThat(reopened.get(TestKeys.be(round))).isEqualTo(TestKeys.be(round));
                assertNothingOfABuildLeft(reopened);
            }
        }
    }

    /**
     * The disk dies after each number of operations in turn while a tree is built and flushed, then the power
     * goes: the tree opens whole (the build returned and its flush did too) or absent, never in part, and
     * nothing of the build is left.
     */
    @Test
    void aDiskThatDiesAnywhereInABuildLeavesTheTreeWholeOrAbsent() {
        NavigableMap<byte[], byte[]> model = entries(new SplittableRandom(SEED + 4), 3000);
        int whole = 0;
        int absent = 0;
        for (int n = 1; n < 600 * SCALE; n += 1 + n / 16) {
            Store store = open();
            store.insert(TestKeys.be(n), TestKeys.be(n));
            store.flush();
            disk.runDyingAt(n, () -> {
                store.buildTree("built", hooked(model, taken -> {
                    if (taken % 500 == 0) {
                        store.flush(); // some of the build durable, so that a cut lands after it
                    }
                }));
                store.flush();
            });
            store.abandon();
            disk.powerLoss(new SplittableRandom(n)); // writes after the last force survive, or part of them
            try (Store reopened = open()) {
                if (reopened.treeNames().contains("built")) {
                    assertThat(drain(reopened.tree("built").iterator())).as("dying at %d", n).isEqualTo(show(model));
                    whole++;
                    reopened.dropTree("built");
                } else {
                    absent++;
                }
                assertThat(reopened.get(TestKeys.be(n))).isEqualTo(TestKeys.be(n));
                assertNothingOfABuildLeft(reopened);
            }
        }
        System.out.println("TreeBuildTest: the tree opened whole " + whole + " times, absent " + absent + " times");
        assertThat(whole).as("cut points after the build's flush").isPositive();
        assertThat(absent).as("cut points inside the build").isPositive();
    }

    /** A leaf whose values pass {@link BulkLoad#HELD_VALUE_BYTES} is written before it is full, and stays whole. */
    /**
     * A build with a fill of 0.6 leaves room in its nodes: it takes more leaves than a full build of the same entries,
     * and a key inserted between the built entries of each leaf splits none of them, where after a full build each
     * such insert splits its leaf.
     */
    @Test
    void aBuildThatLeavesRoomTakesInsertsAmongItsEntriesWithoutSplits() {
        NavigableMap<byte[], byte[]> model = TestKeys.model();
        for (int i = 0; i < 3000; i++) {
            model.put(TestKeys.be(i * 2), TestKeys.value(i, 6));
        }
        int[] fullLeaves = new int[2];
        int[] roomyLeaves = new int[2];
        for (double fill : new double[] {1, 0.6}) {
            int[] leaves = fill == 1 ? fullLeaves : roomyLeaves;
            try (Store store = open()) {
                store.dropTree("t");
                assertThat(store.buildTree("t", model.entrySet().iterator(), fill)).isEqualTo(model.size());
                leaves[0] = leafCount(store, "t");
                Tree tree = store.tree("t");
                List<Long> los = new ArrayList<>();
                leafStarts(store, "t", los);
                for (long lo : los) { // one key inside each leaf's range: between its first two entries
                    tree.insert(TestKeys.be((int) lo + 1), TestKeys.be(1));
                }
                leaves[1] = leafCount(store, "t");
                assertThat(tree.size()).isEqualTo(model.size() + los.size());
                TreeVerifier.verify(store);
            }
        }
        assertThat(roomyLeaves[0]).as("leaves of the 0.6 build against the full one's %d", fullLeaves[0])
                .isGreaterThan(fullLeaves[0] * 3 / 2);
        assertThat(fullLeaves[1]).as("a full build: every leaf split by its insert (but the last, with what was left)")
                .isGreaterThanOrEqualTo(2 * fullLeaves[0] - 1);
        assertThat(roomyLeaves[1]).as("a 0.6 build: no leaf split").isEqualTo(roomyLeaves[0]);
    }

    /** The leaves of tree {@code name}, along the leaf level's right links. */
    private static int leafCount(Store store, String name) {
        List<Long> los = new ArrayList<>();
        leafStarts(store, name, los);
        return los.size();
    }

    /** The first key of each leaf of tree {@code name} (keys are {@link TestKeys#be} of even numbers), in order. */
    private static void leafStarts(Store store, String name, List<Long> into) {
        var pc = store.pageCache();
        long pid = pc.root(Store.TREE_PREFIX + name);
        while (pc.get(pid).value() instanceof Index index) {
            pid = index.children[0];
        }
        while (pid != TreeNode.NO_PID) {
            Leaf leaf = (Leaf) pc.get(pid).value();
            into.add((long) java.nio.ByteBuffer.wrap(leaf.key(0)).getInt());
            pid = leaf.next;
        }
    }

    @Test
    void largeValuesAreWrittenBeforeTheirLeafFills() {
        int valueLength = (int) (BulkLoad.HELD_VALUE_BYTES / 3) + 1;
        NavigableMap<byte[], byte[]> model = TestKeys.model();
        for (int i = 0; i < 7; i++) {
            model.put(TestKeys.be(i), TestKeys.value(i, valueLength));
        }
        try (Store store = PageCacheBackend.open(disk, PageCacheBackend.smallConfig(1 << 20),
                new TreeSettings(4096, 1024))) {
            long before = disk.bytesWritten();
            List<Long> writtenAtEach = new ArrayList<>();
            store.buildTree("large", hooked(model, taken -> {
                store.flush();
                writtenAtEach.add(disk.bytesWritten() - before);
            }));
            // after three values passed the bound, they were in the log before the fifth entry was taken
            assertThat(writtenAtEach.get(4)).isGreaterThan(3L * valueLength);
            assertThat(drain(store.tree("large").iterator())).isEqualTo(show(model));
            assertNothingOfABuildLeft(store);
        }
    }
}
