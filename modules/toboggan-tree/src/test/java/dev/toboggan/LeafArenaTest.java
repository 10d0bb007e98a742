package dev.toboggan;

import static dev.toboggan.TestKeys.hex;
import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.pagecache.BodyReader;
import dev.toboggan.core.pagecache.BodyWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * {@link Leaf}'s arena shared between versions (see its class notes): every version, old or new, keeps
 * reading exactly its own entries while later versions append to, rebuild, split and shrink the arena;
 * versions derived from one base by racing threads never overwrite each other's entries; and the edge
 * cases of the layout (the empty leaf, keys of the maximum length, references to value pages, a version
 * whose arena is full) read and encode as a leaf built from scratch does.
 */
class LeafArenaTest {

    /** A version and what it held when it was made. */
    private record Snapshot(Leaf leaf, NavigableMap<byte[], Object> entries) {}

    @Test
    void everyVersionKeepsItsEntriesWhileLaterVersionsAppendRebuildAndSplit() {
        SplittableRandom r = new SplittableRandom(81);
        for (int run = 0; run < 30; run++) {
            Leaf leaf = Leaf.emptyRoot();
            NavigableMap<byte[], Object> model = new TreeMap<>(Arrays::compareUnsigned);
            List<Snapshot> kept = new ArrayList<>();
            int steps = 50 + r.nextInt(600);
            for (int step = 0; step < steps; step++) {
                int action = r.nextInt(100);
                if (action < 65) {
                    byte[] key = key(r);
                    Object value = value(r, step);
                    leaf = leaf.with(key, value);
                    model.put(key, value);
                } else if (action < 90) {
                    byte[] key = model.isEmpty() || r.nextInt(4) == 0 ? key(r) : randomKeyOf(model, r);
                    leaf = leaf.without(key);
                    model.remove(key);
                } else if (action < 93 && leaf.count() >= 2) {
                    // a split: each half gets an arena of its own, and goes on changing
                    int m = 1 + r.nextInt(leaf.count() - 1);
                    byte[] separator = leaf.separator(m);
                    Leaf right = leaf.rightHalf(m, separator);
                    Leaf left = leaf.leftHalf(m, separator, 77);
                    NavigableMap<byte[], Object> rightModel = new TreeMap<>(Arrays::compareUnsigned);
                    rightModel.putAll(model.tailMap(separator, true));
                    kept.add(new Snapshot(right, rightModel));
                    model.tailMap(separator, true).clear();
                    leaf = left;
                    assertThat(left.hi).isEqualTo(separator);
                    assertThat(right.lo).isEqualTo(separator);
                }
                assertHolds(leaf, model);
                if (r.nextInt(8) == 0) {
                    NavigableMap<byte[], Object> copy = new TreeMap<>(Arrays::compareUnsigned);
                    copy.putAll(model);
                    kept.add(new Snapshot(leaf, copy));
                }
            }
            for (Snapshot s : kept) {
                assertHolds(s.leaf(), s.entries());
            }
        }
    }

    @Test
    void versionsDerivedFromOneBaseByRacingThreadsKeepTheirOwnEntries() throws Exception {
        SplittableRandom r = new SplittableRandom(82);
        for (int round = 0; round < 40; round++) {
            Leaf base = Leaf.emptyRoot();
            NavigableMap<byte[], Object> baseModel = new TreeMap<>(Arrays::compareUnsigned);
            for (int i = 0, n = r.nextInt(30); i < n; i++) {
                byte[] key = key(r);
                Object value = value(r, i);
                base = base.with(key, value);
                baseModel.put(key, value);
            }
            Leaf shared = base;
            int threads = 4;
            CountDownLatch start = new CountDownLatch(1);
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long seed = r.nextLong();
                Thread worker = new Thread(() -> {
                    try {
                        start.await();
                        SplittableRandom own = new SplittableRandom(seed);
                        // each thread derives versions from the one shared base, as racing writers do
                        for (int i = 0; i < 200; i++) {
                            byte[] key = key(own);
                            Object value = value(own, i);
                            Leaf derived = shared.with(key, value);
                            NavigableMap<byte[], Object> expected = new TreeMap<>(Arrays::compareUnsigned);
                            expected.putAll(baseModel);
                            expected.put(key, value);
                            assertHolds(derived, expected);
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                });
                worker.start();
                workers.add(worker);
            }
            start.countDown();
            for (Thread worker : workers) {
                worker.join();
            }
            assertThat(failures).isEmpty();
            assertHolds(base, baseModel);
        }
    }

    @Test
    void edgeCasesReadAndEncodeAsALeafBuiltFromScratch() {
        Leaf empty = Leaf.emptyRoot();
        assertHolds(empty, new TreeMap<>(Arrays::compareUnsigned));
        assertThat(empty.without(new byte[] {1})).isSameAs(empty);
        assertThat(empty.get(TreeNode.NO_KEY)).isNull();

        NavigableMap<byte[], Object> model = new TreeMap<>(Arrays::compareUnsigned);
        Leaf leaf = empty;
        byte[] longest = TestKeys.value(1, Tree.MAX_KEY_LENGTH);
        byte[] longestToo = longest.clone();
        longestToo[Tree.MAX_KEY_LENGTH - 1]++;
        Object[][] entries = {
            {TreeNode.NO_KEY, TestKeys.value(2, 0)}, // the empty key, an empty value
            {longest, TestKeys.value(3, 100)},
            {longestToo, new ValueRef(Long.MAX_VALUE >>> 1, Integer.MAX_VALUE)},
            {new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0}, new ValueRef(2, 0)}, // ties with the empty key's prefix
            {new byte[] {0}, TestKeys.value(4, 5000)},
        };
        for (Object[] e : entries) {
            leaf = leaf.with((byte[]) e[0], e[1]);
            model.put((byte[]) e[0], e[1]);
            assertHolds(leaf, model);
        }
        // overwrite every entry with the other kind of value, then remove them one by one
        for (Object[] e : entries) {
            Object other = e[1] instanceof ValueRef ? TestKeys.value(5, 7) : new ValueRef(9, 9);
            leaf = leaf.with((byte[]) e[0], other);
            model.put((byte[]) e[0], other);
            assertHolds(leaf, model);
        }
        for (Object[] e : entries) {
            leaf = leaf.without((byte[]) e[0]);
            model.remove((byte[]) e[0]);
            assertHolds(leaf, model);
        }
    }

    @Test
    void removesFromAMostlyDeadArenaLetItsBytesGo() {
        Leaf leaf = Leaf.emptyRoot();
        for (int i = 0; i < 200; i++) {
            leaf = leaf.with(TestKeys.be(i), TestKeys.value(i, 100));
        }
        long full = leaf.heapSize();
        for (int i = 0; i < 195; i++) {
            leaf = leaf.without(TestKeys.be(i));
        }
        assertThat(leaf.liveBytes()).isEqualTo(5 * (2 + 4 + 100));
        assertThat(leaf.heapSize()).as("5 of 200 entries left").isLessThan(full / 4);
    }

    /** {@code leaf} holds exactly {@code model}, reads as a leaf built from it, and encodes as that one does. */
    private static void assertHolds(Leaf leaf, NavigableMap<byte[], Object> model) {
        assertThat(leaf.count()).isEqualTo(model.size());
        int i = 0;
        for (Map.Entry<byte[], Object> e : model.entrySet()) {
            assertThat(leaf.key(i)).as("key %d", i).isEqualTo(e.getKey());
            assertThat(leaf.value(i)).as("value of %s", hex(e.getKey())).isEqualTo(e.getValue());
            assertThat(leaf.get(e.getKey())).isEqualTo(e.getValue());
            assertThat(leaf.ref(i)).isEqualTo(e.getValue() instanceof ValueRef ref ? ref : null);
            assertThat(leaf.prefixAt(i)).isEqualTo(TreeNode.prefix(e.getKey()));
            i++;
        }
        byte[][] keys = model.keySet().toArray(new byte[0][]);
        Leaf scratch = Leaf.of(leaf.lo, leaf.hi, leaf.next, keys, model.values().toArray());
        assertThat(leaf.size).isEqualTo(scratch.size);
        assertThat(leaf.liveBytes()).isEqualTo(scratch.liveBytes());
        assertThat(encoded(leaf)).isEqualTo(encoded(scratch));
        Leaf back = (Leaf) NodeFormat.decodePage(BodyReader.of(encoded(leaf)));
        assertThat(back.count()).isEqualTo(model.size());
    }

    private static byte[] encoded(Leaf leaf) {
        BodyWriter out = new BodyWriter();
        NodeFormat.encodePage(leaf, out);
        assertThat(out.length()).isLessThanOrEqualTo(leaf.encodedSize());
        return out.toByteArray();
    }

    /** Keys from a small space, so that they repeat and tie on their prefixes. */
    private static byte[] key(SplittableRandom r) {
        byte[] key = new byte[r.nextInt(12)];
        for (int j = 0; j < key.length; j++) {
            key[j] = (byte) (j < 8 ? r.nextInt(3) : r.nextInt(256));
        }
        return key;
    }

    /** Mostly values of the benchmark's size, sometimes empty, long or a reference to a value page. */
    private static Object value(SplittableRandom r, int seed) {
        int kind = r.nextInt(10);
        if (kind == 0) {
            return new ValueRef(r.nextLong(2, 1L << 40), r.nextInt(1 << 30));
        }
        return TestKeys.value(seed, kind == 1 ? 0 : kind == 2 ? r.nextInt(3000) : 100);
    }

    private static byte[] randomKeyOf(NavigableMap<byte[], Object> model, SplittableRandom r) {
        byte[][] keys = model.keySet().toArray(new byte[0][]);
        return keys[r.nextInt(keys.length)];
    }
}
