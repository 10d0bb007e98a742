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
 * {@link TreeNode#search} (bisection down to {@link TreeNode#SCAN} entries, then an in-order scan) agrees
 * with a plain binary search on nodes smaller and larger than the scan, with keys whose 8-byte prefixes
 * tie (long shared prefixes, keys that are prefixes of others, the empty key), for present and absent keys.
 */
class NodeSearchTest {

    @Test
    void searchAgreesWithABinarySearchOnLeavesAndIndexNodes() {
        SplittableRandom r = new SplittableRandom(8);
        for (int round = 0; round < 400; round++) {
            NavigableMap<byte[], byte[]> sorted = TestKeys.model();
            int n = r.nextInt(4 * TreeNode.SCAN);
            // zeros in bytes 1 to 6: most keys tie on their 8-byte prefix with others, or with zero padding
            for (int i = 0; i < n; i++) {
                sorted.put(randomKey(r), TestKeys.value(i, 1));
            }
            byte[][] keys = sorted.keySet().toArray(new byte[0][]);
            Leaf leaf = Leaf.of(TreeNode.NO_KEY, null, TreeNode.NO_PID, keys, sorted.values().toArray());
            byte[][] separators = withEmptyFirst(keys);
            Index index = Index.of(TreeNode.NO_KEY, null, TreeNode.NO_PID, separators, new long[separators.length]);
            List<byte[]> probes = new ArrayList<>(Arrays.asList(keys));
            for (int i = 0; i < 50; i++) {
                probes.add(randomKey(r));
            }
            for (byte[] probe : probes) {
                assertThat(leaf.search(probe)).as("leaf of %d keys, key %s", keys.length, hex(probe))
                        .isEqualTo(Arrays.binarySearch(keys, probe, Arrays::compareUnsigned));
                assertThat(index.search(probe)).as("index of %d separators, key %s", separators.length, hex(probe))
                        .isEqualTo(Arrays.binarySearch(separators, probe, Arrays::compareUnsigned));
            }
        }
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
