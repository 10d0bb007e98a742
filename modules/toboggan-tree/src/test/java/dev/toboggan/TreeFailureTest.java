package dev.toboggan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.Failpoints;
import dev.toboggan.core.StoreFailedException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.PageCacheConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * IO errors in the middle of tree changes (a failpoint at each of the page cache's IO sites, or the
 * simulated disk failing a write or a force): the store fails fast with {@link StoreFailedException}, and
 * once reopened after a crash it holds everything flushed before, a state the changes went through (no
 * half of a change, batch or split), valid trees, and no leaked page.
 */
class TreeFailureTest {
    private static final int SCALE = Integer.getInteger("toboggan.test.scale", 1);
    private static final long SEED = Long.getLong("toboggan.test.seed", System.nanoTime());
    private static final List<String> FAILPOINTS = List.of("pagecache.reserve.link", "pagecache.reserve.node",
            "pagecache.reserve.free", "pagecache.reserve.meta", "pagecache.batch.open", "pagecache.batch.seal");

    /** The stores of the dying-disk tests: 4 KiB segments, nodes split at 160 bytes, values over 24 in pages. */
    private static final PageCacheConfig SMALL = PageCacheBackend.smallConfig(4096);
    private static final TreeSettings TINY = new TreeSettings(160, 24);

    @AfterEach
    void disarm() {
        Failpoints.reset();
    }

    @Test
    void aFailureAtAnyIoSiteLeavesAStateTheTreeWentThrough() {
        System.out.println("TreeFailureTest seed " + SEED + " (rerun with -Dtoboggan.test.seed=" + SEED + ")");
        SplittableRandom r = new SplittableRandom(SEED);
        for (int round = 0; round < 8 * SCALE; round++) {
            for (String failpoint : FAILPOINTS) {
                run(r, () -> Failpoints.arm(failpoint, 1L << r.nextInt(40)), failpoint);
            }
            SimulatedStorage.Op op = r.nextBoolean() ? SimulatedStorage.Op.WRITE : SimulatedStorage.Op.FORCE;
            long n = r.nextLong(1, 12);
            run(r, null, op + " #" + n, disk -> disk.failAfter(n, Set.of(op), SimulatedStorage.FailMode.FOREVER));
        }
    }

    /**
     * Regression (FaultInjectionTest, seed 10497267385579, WRITE #13 and a full disk): a batch whose blob
     * write failed after its earlier changes were made in memory was sealed, so half of it became durable.
     */
    @Test
    void aBatchThatFailsHalfWayIsNeverHalfDurable() {
        SimulatedStorage disk = new SimulatedStorage();
        Store db = PageCacheBackend.openSmall(disk);
        db.insert(TestKeys.be(1), TestKeys.value(1, 10));
        db.flush();
        disk.capacity(disk.usedBytes() + 100);
        Batch batch = new Batch().insert(TestKeys.be(2), TestKeys.value(2, 10))
                .insert(TestKeys.be(3), TestKeys.value(3, 5000));
        assertThatThrownBy(() -> db.applyBatch(batch)).hasMessageContaining("No space left");
        assertThatThrownBy(() -> db.get(TestKeys.be(2))).isInstanceOf(StoreFailedException.class)
                .hasMessageContaining("failed after part of it was applied");
        db.abandon();
        disk.clearFaults();
        disk.powerLoss();
        Store reopened = PageCacheBackend.openSmall(disk);
        try {
            assertThat(TestKeys.drain(reopened.iterator()))
                    .containsExactly(TestKeys.hex(TestKeys.be(1)) + "=" + TestKeys.hex(TestKeys.value(1, 10)));
            TreeVerifier.verify(reopened);
        } finally {
            reopened.close();
        }
    }

    /**
     * The disk dies after each number of IO calls in turn while a tree several levels deep (with value pages) is
     * cleared and the clear flushed, then the power goes, part of the unforced writes kept: the tree opens whole or
     * empty, never in part, with no page leaked, and empty whenever the clear and its flush returned.
     */
    @Test
    void aDiskThatDiesAnywhereInAClearLeavesTheTreeWholeOrEmpty() {
        SimulatedStorage disk = new SimulatedStorage();
        NavigableMap<byte[], byte[]> model = entries(new SplittableRandom(SEED + 5), 1500, 7, 0);
        int whole = 0;
        int empty = 0;
        int completed = 0; // runs whose clear and flush returned: the disk died after them
        for (int n = 1; completed < 2 * SCALE; n += 1 + n / (16 * SCALE)) {
            assertThat(n).as("IO calls of a clear and its flush").isLessThan(1_000_000);
            Store db = PageCacheBackend.open(disk, SMALL, TINY);
            Tree tree = db.tree("t");
            if (tree.isEmpty()) {
                db.buildTree("t", model.entrySet().iterator());
            }
            db.insert(TestKeys.be(-n), TestKeys.be(n));
            db.flush();
            boolean flushed = flushDyingAt(disk, n, db, tree::clear);
            completed += flushed ? 1 : 0;
            try (Store reopened = PageCacheBackend.open(disk, SMALL, TINY)) {
                List<String> recovered = TestKeys.drain(reopened.tree("t").iterator());
                if (recovered.isEmpty()) {
                    empty++;
                } else {
                    assertThat(flushed).as("dying at %d: a flushed clear undone", n).isFalse();
                    assertThat(recovered).as("dying at %d", n).isEqualTo(TestKeys.show(model));
                    whole++;
                }
                assertThat(reopened.get(TestKeys.be(-n))).isEqualTo(TestKeys.be(n));
                TreeVerifier.verify(reopened);
            }
        }
        System.out.println("TreeFailureTest: the cleared tree opened whole " + whole + " times, empty " + empty + " times");
        assertThat(whole).as("cut points inside the clear").isPositive();
        assertThat(empty).as("cut points after the clear's flush").isPositive();
    }

    /**
     * The disk dies after each number of IO calls in turn while a rebuilt tree is renamed onto the one it replaces
     * and the rename flushed, then the power goes, part of the unforced writes kept: the store opens with the old
     * tree under the name and the rebuilt one beside it, or the rebuilt one under the name alone; never a mix, an
     * empty tree or both gone, and no page leaked.
     */
    @Test
    void aDiskThatDiesAnywhereInARenameLeavesTheOldTreeOrTheNewOne() {
        SimulatedStorage disk = new SimulatedStorage();
        SplittableRandom r = new SplittableRandom(SEED + 6);
        NavigableMap<byte[], byte[]> rebuilt = entries(r, 1200, 3, 0);
        int before = 0;
        int after = 0;
        int completed = 0; // runs whose rename and flush returned: the disk died after them
        for (int n = 1; completed < 2 * SCALE; n++) { // every call: the rename's own writes are a handful
            assertThat(n).as("IO calls of a rename and its flush").isLessThan(1_000_000);
            NavigableMap<byte[], byte[]> old = entries(r, 900, 5, n);
            try (Store db = PageCacheBackend.open(disk, SMALL, TINY)) {
                db.dropTree("live");
                db.dropTree("rebuilt");
                db.buildTree("live", old.entrySet().iterator());
                db.buildTree("rebuilt", rebuilt.entrySet().iterator());
            }
            Store db = PageCacheBackend.open(disk, SMALL, TINY);
            boolean flushed = flushDyingAt(disk, n, db, () -> db.renameTree("rebuilt", "live"));
            completed += flushed ? 1 : 0;
            try (Store reopened = PageCacheBackend.open(disk, SMALL, TINY)) {
                List<String> live = TestKeys.drain(reopened.tree("live").iterator());
                if (reopened.treeNames().contains("rebuilt")) {
                    assertThat(flushed).as("dying at %d: a flushed rename undone", n).isFalse();
                    assertThat(live).as("dying at %d: the old tree", n).isEqualTo(TestKeys.show(old));
                    assertThat(TestKeys.drain(reopened.tree("rebuilt").iterator())).as("dying at %d", n)
                            .isEqualTo(TestKeys.show(rebuilt));
                    before++;
                } else {
                    assertThat(live).as("dying at %d: the rebuilt tree under the name", n).isEqualTo(TestKeys.show(rebuilt));
                    after++;
                }
                TreeVerifier.verify(reopened);
            }
        }
        System.out.println("TreeFailureTest: the rename had not happened " + before + " times, had " + after + " times");
        assertThat(before).as("cut points inside the rename").isPositive();
        assertThat(after).as("cut points after the rename's flush").isPositive();
    }

    /**
     * Runs {@code change} and a flush on {@code db} with the disk dying at its {@code n}th IO call from now, abandons
     * the store, then cuts the power (part of the unforced writes kept, as drawn from {@code n}).
     *
     * @return whether the change and its flush returned
     */
    private static boolean flushDyingAt(SimulatedStorage disk, int n, Store db, Runnable change) {
        boolean[] flushed = {false};
        disk.runDyingAt(n, () -> {
            change.run();
            db.flush();
            flushed[0] = true;
        });
        db.abandon();
        disk.powerLoss(new SplittableRandom(n));
        return flushed[0];
    }

    /** Keys {@code stride * i + 1 (or 0)} for i below {@code count}, values of up to 60 bytes (some in value pages) made from {@code salt}. */
    private static NavigableMap<byte[], byte[]> entries(SplittableRandom r, int count, int stride, int salt) {
        NavigableMap<byte[], byte[]> entries = TestKeys.model();
        for (int i = 0; i < count; i++) {
            entries.put(TestKeys.be(i * stride + (salt == 0 ? 0 : 1)), TestKeys.value(i - salt, r.nextInt(60)));
        }
        return entries;
    }

    private void run(SplittableRandom r, Runnable arm, String what) {
        run(r, arm, what, disk -> { });
    }

    private void run(SplittableRandom r, Runnable arm, String what, java.util.function.Consumer<SimulatedStorage> fault) {
        SimulatedStorage disk = new SimulatedStorage();
        PageCacheConfig config = PageCacheBackend.smallConfig(4096).withConsolidationThreshold(3);
        TreeSettings settings = new TreeSettings(128, 24);
        Store db = PageCacheBackend.open(disk, config, settings);
        NavigableMap<byte[], byte[]> model = TestKeys.model();
        for (int i = 0; i < 100; i++) {
            byte[] v = TestKeys.value(i, r.nextInt(40));
            db.insert(TestKeys.be(r.nextInt(300)), v);
        }
        for (Map.Entry<byte[], byte[]> e : db) {
            model.put(e.getKey(), e.getValue());
        }
        db.flush();
        List<NavigableMap<byte[], byte[]>> candidates = new ArrayList<>();
        candidates.add(copy(model));
        if (arm != null) {
            arm.run();
        }
        fault.accept(disk);
        boolean failed = false;
        for (int step = 0; step < 400 && !failed; step++) {
            byte[] key = TestKeys.be(r.nextInt(300));
            // The state if this step takes effect; a step cut short by the failure may or may not have.
            NavigableMap<byte[], byte[]> after = copy(model);
            try {
                int roll = r.nextInt(11);
                if (roll < 5) {
                    byte[] v = TestKeys.value(step, r.nextInt(10) == 0 ? 200 : r.nextInt(40));
                    after.put(key, v);
                    db.insert(key, v);
                } else if (roll < 7) {
                    after.remove(key);
                    db.remove(key);
                } else if (roll < 9) {
                    Batch batch = new Batch();
                    for (int i = 0; i < 6; i++) {
                        byte[] k = TestKeys.be(r.nextInt(300));
                        byte[] v = TestKeys.value(step * 10 + i, r.nextInt(60));
                        batch.insert(k, v);
                        after.put(k, v);
                    }
                    db.applyBatch(batch);
                } else if (roll < 10) {
                    db.flush();
                    candidates.clear();
                } else {
                    // A new tree: a meta page write (the contents compared are the default tree's).
                    db.tree("t" + step).insert(key, new byte[3]);
                }
            } catch (StoreFailedException e) {
                failed = true;
            }
            model = after;
            candidates.add(copy(model));
        }
        if (failed) {
            assertThatThrownBy(() -> db.get(TestKeys.be(1))).as(what).isInstanceOf(StoreFailedException.class);
            assertThatThrownBy(() -> db.insert(TestKeys.be(1), new byte[1])).as(what).isInstanceOf(StoreFailedException.class);
        }
        Failpoints.reset();
        disk.clearFaults();
        disk.powerLoss();
        db.abandon();
        Store reopened = PageCacheBackend.open(disk, config, settings);
        try {
            List<String> recovered = TestKeys.drain(reopened.iterator());
            assertThat(candidates.stream().map(TestKeys::show).toList()).as("after a failure at %s", what)
                    .contains(recovered);
            TreeVerifier.verify(reopened);
        } finally {
            reopened.close();
        }
    }

    private static NavigableMap<byte[], byte[]> copy(Map<byte[], byte[]> map) {
        NavigableMap<byte[], byte[]> copy = TestKeys.model();
        copy.putAll(map);
        return copy;
    }
}
