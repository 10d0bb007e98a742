package dev.toboggan;

import static dev.toboggan.TestKeys.hex;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.NavigableMap;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link TreeNode#search} (bisection down to {@link TreeNode#SCAN} entries, then an in-order scan; for index
 * nodes, first a scan of each block's first prefix) agrees with a plain binary search on nodes smaller and
 * larger than the scan and of many blocks, with keys whose 8-byte prefixes tie (long shared prefixes, keys
 * that are prefixes of others, the empty key), for present and absent keys, and on index nodes built every
 * way the tree builds them (whole, a child added at a time, the halves of a split).
 */
class NodeSearchTest {

    @Test
    void searchAgreesWithABinarySearchOnLeavesAndIndexNodes() {
        SplittableRandom r = new SplittableRandom(8);
        for (int round = 0; round < 400; round++) {
            NavigableMap<byte[], byte[]> sorted = TestKeys.model();
            int n = r.nextInt(round % 4 == 0 ? 40 * TreeNode.SCAN : 4 * TreeNode.SCAN);
            // zeros in bytes 1 to 6: most keys tie on their 8-byte prefix with others, or with zero padding
            for (int i = 0; i < n; i++) {
                sorted.put(randomKey(r), TestKeys.value(i, 1));
            }
            byte[][] keys = sorted.keySet().toArray(new byte[0][]);
            Leaf leaf = Leaf.of(TreeNode.NO_KEY, null, TreeNode.NO_PID, keys, sorted.values().toArray());
            byte[][] separators = withEmptyFirst(keys);
            Index index = Index.of(TreeNode.NO_KEY, null, TreeNode.NO_PID, separators, new long[separators.length]);
            List<byte[]> probes = probes(keys, r);
            assertAgrees(leaf, keys, probes);
            assertAgrees(index, separators, probes);
        }
    }

    @Test
    void indexSearchAgreesWithABinarySearchOnNodesGrownAChildAtATimeAndSplit() {
        SplittableRandom r = new SplittableRandom(9);
        for (int round = 0; round < 40; round++) {
            Index index = Index.of(TreeNode.NO_KEY, null, TreeNode.NO_PID, new byte[][] {TreeNode.NO_KEY}, new long[] {7});
            NavigableMap<byte[], byte[]> sorted = TestKeys.model();
            sorted.put(TreeNode.NO_KEY, TreeNode.NO_KEY);
            int n = r.nextInt(30 * TreeNode.SCAN);
            for (int i = 0; i < n; i++) {
                byte[] separator = randomKey(r);
                index = index.withChild(separator, i);
                sorted.put(separator, separator);
                if (i % 37 == 0) {
                    assertAgrees(index, sorted.keySet().toArray(new byte[0][]), r);
                }
            }
            byte[][] separators = sorted.keySet().toArray(new byte[0][]);
            assertAgrees(index, separators, r);
            if (separators.length >= 4) {
                int m = 2 + r.nextInt(separators.length - 3);
                assertAgrees(index.leftHalf(m, separators[m], 99), Arrays.copyOfRange(separators, 0, m), r);
                assertAgrees(index.rightHalf(m, separators[m]), Arrays.copyOfRange(separators, m, separators.length), r);
            }
        }
    }

    /**
     * Also that {@link Index#childFor} takes the child of the last separator at most the key, for the keys
     * the node covers (from its {@code lo}, its first separator, on).
     */
    private static void assertAgrees(Index index, byte[][] separators, SplittableRandom r) {
        List<byte[]> probes = probes(separators, r);
        assertAgrees(index, separators, probes);
        for (byte[] probe : probes) {
            int i = Arrays.binarySearch(separators, probe, Arrays::compareUnsigned);
            if (i == -1) {
                continue; // below lo: no lookup descends here
            }
            assertThat(index.childFor(probe)).as("child for key %s", hex(probe))
                    .isEqualTo(index.children[i >= 0 ? i : -i - 2]);
        }
    }

    /** {@code node}'s search of every probe against a binary search of {@code keys}, its keys in order. */
    private static void assertAgrees(TreeNode node, byte[][] keys, List<byte[]> probes) {
        for (byte[] probe : probes) {
            assertThat(node.search(probe)).as("%s of %d keys, key %s", node.getClass().getSimpleName(), keys.length,
                    hex(probe)).isEqualTo(Arrays.binarySearch(keys, probe, Arrays::compareUnsigned));
        }
    }

    /** The keys themselves and 50 random keys, most of them absent. */
    private static List<byte[]> probes(byte[][] keys, SplittableRandom r) {
        List<byte[]> probes = new ArrayList<>(Arrays.asList(keys));
        for (int i = 0; i < 50; i++) {
            probes.add(randomKey(r));
        }
        return probes;
    }

    private static byte[] randomKey(SplittableRandom r) {
        byte[] key = new byte[r.nextInt(13)];
        for (int j = 0; j < key.length; j++) {
            key[j] = (byte) (j == 0 ? r.nextInt(2) : j < 7 ? 0 : r.nextInt(3));
        }
        return key;
    }

    /** An index node's separators start with its {@code lo}, here the empty key. */
    private static byte[][] withEmptyFirst(byte[][] keys) {
        if (keys.length > 0 && keys[0].length == 0) {
            return keys;
        }
        byte[][] separators = new byte[keys.length + 1][];
        separators[0] = TreeNode.NO_KEY;
        System.arraycopy(keys, 0, separators, 1, keys.length);
        return separators;
    }
}
