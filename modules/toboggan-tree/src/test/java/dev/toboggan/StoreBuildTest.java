package dev.toboggan;

import static dev.toboggan.TestKeys.be;
import static dev.toboggan.TestKeys.drain;
import static dev.toboggan.TestKeys.show;
import static dev.toboggan.TestKeys.utf8;
import static dev.toboggan.TestKeys.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Toboggan#build}: a new store of trees handed over in key order, whole or not at all. */
class StoreBuildTest {
    @TempDir
    Path tmp;

    private static Config config() {
        return ConfigFactory.parseMap(Map.of("toboggan.segment-size", "64KiB", "toboggan.tree.node-split-size", "1KiB",
                "toboggan.tree.max-inline-value", "200B"));
    }

    @Test
    void aBuiltStoreHoldsEveryTreeInOrderAndChangesAsAnyStore() {
        NavigableMap<byte[], byte[]> users = TestKeys.model();
        for (int i = 0; i < 20_000; i++) {
            users.put(be(i * 3), value(i, i % 97 == 0 ? 5000 : i % 40)); // now and then a value page
        }
        NavigableMap<byte[], byte[]> plain = TestKeys.model();
        plain.put(new byte[0], utf8("the empty key"));
        plain.put(utf8("k"), utf8("v"));
        Path dir = tmp.resolve("built");
        long written = Toboggan.build(config(), dir, trees -> trees
                .tree("users", users.entrySet().iterator(), 0.75) // room for the inserts below
                .tree(Db.DEFAULT_TREE, plain.entrySet().iterator())
                .tree("empty", List.<Map.Entry<byte[], byte[]>>of().iterator()));
        assertThat(written).isEqualTo(20_002);
        try (Db db = Toboggan.open(config(), dir)) {
            assertThat(db.treeNames()).contains("users", "empty");
            assertThat(drain(db.tree("users").iterator())).isEqualTo(show(users));
            assertThat(drain(db.iterator())).isEqualTo(show(plain));
            assertThat(db.tree("empty").first()).isNull();
            TreeVerifier.verify((Store) db);
            Tree tree = db.tree("users");
            for (int i = 0; i < 3000; i++) {
                byte[] key = be(i * 7 + 1);
                byte[] v = value(-i, i % 50);
                assertThat(tree.insert(key, v)).isEqualTo(users.put(key, v));
                assertThat(tree.remove(be(i * 6))).isEqualTo(users.remove(be(i * 6)));
            }
            assertThat(drain(tree.iterator())).isEqualTo(show(users));
            TreeVerifier.verify((Store) db);
        }
        assertThat(siblings()).containsExactly("built");
    }

    /**
     * A build several times the cache's size: its pages must be paged out as it goes (each once durable, which
     * only the Flusher's periodic flushes make them here), not pile up.
     */
    @Test
    void aBuildLargerThanTheCacheCompletes() {
        Config small = ConfigFactory.parseMap(Map.of("toboggan.cache-capacity", "2MiB", "toboggan.flush-every", "20ms"))
                .withFallback(config());
        Path dir = tmp.resolve("large");
        Iterator<Map.Entry<byte[], byte[]>> entries = java.util.stream.IntStream.range(0, 100_000)
                .mapToObj(i -> (Map.Entry<byte[], byte[]>) new AbstractMap.SimpleEntry<>(be(i), value(i, 100)))
                .iterator();
        assertThat(Toboggan.build(small, dir, trees -> trees.tree("t", entries))).isEqualTo(100_000);
        try (Db db = Toboggan.open(small, dir)) {
            assertThat(db.tree("t").get(be(77_777))).isEqualTo(value(77_777, 100));
            assertThat(db.tree("t").size()).isEqualTo(100_000);
        }
    }

    /** An iterator that hands out the same two arrays every time, as a cursor over another store may. */
    @Test
    void entriesAreCopiedSoAnIteratorMayReuseItsArrays() {
        byte[] key = new byte[4];
        byte[] val = new byte[8];
        Iterator<Map.Entry<byte[], byte[]>> reusing = new Iterator<>() {
            int next;

            @Override
            public boolean hasNext() {
                return next < 5000;
            }

            @Override
            public Map.Entry<byte[], byte[]> next() {
                System.arraycopy(be(next), 0, key, 0, 4);
                System.arraycopy(value(next, 8), 0, val, 0, 8);
                next++;
                return new AbstractMap.SimpleEntry<>(key, val);
            }
        };
        Path dir = tmp.resolve("reused");
        Toboggan.build(config(), dir, trees -> trees.tree("t", reusing));
        try (Db db = Toboggan.open(config(), dir)) {
            for (int i = 0; i < 5000; i++) {
                assertThat(db.tree("t").get(be(i))).as("key %d", i).isEqualTo(value(i, 8));
            }
        }
    }

    @Test
    void badInputOrAFailingCallerLeavesNothing() {
        Path dir = tmp.resolve("store");
        refused(trees -> trees.tree("a", entries(be(1), be(3), be(2))), IllegalArgumentException.class,
                "the keys of tree 'a' must come in strictly ascending");
        refused(trees -> trees.tree("a", entries(be(1), be(1))), IllegalArgumentException.class, "strictly ascending");
        refused(trees -> trees.tree("a", entries(be(1))).tree("a", entries(be(2))), IllegalArgumentException.class,
                "was built already");
        refused(trees -> trees.tree("a", entries(new byte[Tree.MAX_KEY_LENGTH + 1])), IllegalArgumentException.class,
                "Tree.MAX_KEY_LENGTH");
        refused(trees -> trees.tree("a", List.of(new AbstractMap.SimpleEntry<>(be(1), (byte[]) null)).iterator()),
                IllegalArgumentException.class, "tree 'a' has an entry with a null value");
        refused(trees -> trees.tree("a", entries(be(1)), 0.4), IllegalArgumentException.class, "from 0.5 to 1");
        refused(trees -> {
            trees.tree("a", entries(be(1), be(2)));
            throw new IllegalStateException("the source failed");
        }, IllegalStateException.class, "the source failed");
        assertThat(siblings()).isEmpty();

        StoreBuilder[] kept = new StoreBuilder[1];
        Toboggan.build(config(), dir, trees -> kept[0] = trees.tree("a", entries(be(1))));
        assertThatThrownBy(() -> kept[0].tree("b", entries(be(1)))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("has returned");
        assertThatThrownBy(() -> Toboggan.build(config(), dir, trees -> { }))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exists already: a build");
        try (Db db = Toboggan.open(config(), dir)) {
            assertThat(drain(db.tree("a").iterator())).isEqualTo(List.of(TestKeys.hex(be(1)) + "=" + TestKeys.hex(be(1))));
        }
    }

    private void refused(Consumer<StoreBuilder> contents, Class<? extends Throwable> type, String message) {
        assertThatThrownBy(() -> Toboggan.build(config(), tmp.resolve("store"), contents)).isInstanceOf(type)
                .hasMessageContaining(message);
        assertThat(siblings()).as("left after: %s", message).isEmpty();
    }

    /** Entries whose values are their keys. */
    private static Iterator<Map.Entry<byte[], byte[]>> entries(byte[]... keys) {
        return Stream.of(keys).map(k -> (Map.Entry<byte[], byte[]>) new AbstractMap.SimpleEntry<>(k, k)).iterator();
    }

    private List<String> siblings() {
        try (Stream<Path> files = Files.list(tmp)) {
            return files.map(p -> p.getFileName().toString()).toList();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
