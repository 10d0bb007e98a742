package dev.toboggan;

import static dev.toboggan.TestKeys.drain;
import static dev.toboggan.TestKeys.show;
import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.io.SimulatedStorage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link BulkLoad}, the way {@link Db#buildTree}, {@link Toboggan#build} and an import build a tree: a tree built
 * bottom-up has the shape every tree must have ({@link TreeVerifier}), holds exactly what was loaded, and then
 * behaves as any tree under inserts, removes (with merges), splits, scans and a reopen. {@code TreeBuildTest}
 * has a build's concurrency, refusals and crashes.
 */
class BulkLoadTest {
    private static final long SEED = Long.getLong("toboggan.test.seed", System.nanoTime());
    private final SimulatedStorage disk = new SimulatedStorage();

    /** Tiny nodes and inline values, so that a few thousand keys make four or five levels and value pages. */
    private Store open() {
        return PageCacheBackend.open(disk, PageCacheBackend.smallConfig(4096), new TreeSettings(160, 24));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 7, 300, 6000})
    void aLoadedTreeHasEveryTreesShapeHoldsWhatWasLoadedAndThenChangesAsAnyTree(int entries) {
        System.out.println("BulkLoadTest seed " + SEED + " (rerun with -Dtoboggan.test.seed=" + SEED + "), " + entries
                + " entries");
        SplittableRandom r = new SplittableRandom(SEED + entries);
        NavigableMap<byte[], byte[]> model = TestKeys.model();
        while (model.size() < entries) {
            byte[] key = new byte[1 + r.nextInt(24)];
            r.nextBytes(key);
            model.put(key, TestKeys.value(r.nextLong(), r.nextInt(8) == 0 ? 40 + r.nextInt(200) : r.nextInt(20)));
        }
        try (Store store = open()) {
            assertThat(store.buildTree("loaded", model.entrySet().iterator())).isEqualTo(entries);
            assertThat(store.pageCache().roots().keySet()).noneMatch(root -> root.startsWith(BulkLoad.PREFIX));
            Tree tree = store.tree("loaded");
            TreeVerifier.verify(store);
            assertThat(drain(tree.iterator())).isEqualTo(show(model));
            List<String> reversed = new ArrayList<>(show(model));
            java.util.Collections.reverse(reversed);
            assertThat(drain(tree.rangeReverse(null, null))).isEqualTo(reversed);
            for (Map.Entry<byte[], byte[]> e : model.entrySet()) {
                assertThat(tree.get(e.getKey())).isEqualTo(e.getValue());
            }
            if (entries > 1000) {
                assertThat(levels(store, "loaded")).as("levels of the loaded tree").isGreaterThanOrEqualTo(3);
            }
            List<byte[]> keys = new ArrayList<>(model.keySet());
            for (int i = 0; i < 3000; i++) {
                byte[] key;
                if (!keys.isEmpty() && r.nextBoolean()) {
                    key = keys.get(r.nextInt(keys.size()));
                } else {
                    key = new byte[1 + r.nextInt(24)];
                    r.nextBytes(key);
                }
                if (r.nextInt(3) == 0) {
                    assertThat(tree.remove(key)).isEqualTo(model.remove(key));
                } else {
                    byte[] value = TestKeys.value(i, r.nextInt(6) == 0 ? 100 : r.nextInt(20));
                    assertThat(tree.insert(key, value)).isEqualTo(model.put(key, value));
                }
            }
            TreeVerifier.verify(store);
            assertThat(drain(tree.iterator())).isEqualTo(show(model));
        }
        try (Store store = open()) {
            TreeVerifier.verify(store);
            assertThat(drain(store.tree("loaded").iterator())).isEqualTo(show(model));
        }
    }

    /** The levels of tree {@code name}: its root's, and one per index level down its first children. */
    private static int levels(Store store, String name) {
        Node node = store.pageCache().get(store.pageCache().root(Store.TREE_PREFIX + name)).value();
        int levels = 1;
        while (node instanceof Index index) {
            node = store.pageCache().get(index.children[0]).value();
            levels++;
        }
        return levels;
    }
}
