package dev.toboggan;

import static dev.toboggan.TestKeys.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.pagecache.BodyReader;
import dev.toboggan.core.pagecache.BodyWriter;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Nodes and deltas survive encoding; damaged bytes are refused with a message, never misread. */
class NodeFormatTest {

    private static Node roundTrip(Node node) {
        BodyWriter out = new BodyWriter();
        NodeFormat.encodePage(node, out);
        assertThat(out.length()).as("the size estimate bounds the encoding").isLessThanOrEqualTo(node.encodedSize());
        return NodeFormat.decodePage(BodyReader.of(out.toByteArray()));
    }

    private static Delta roundTrip(Delta delta) {
        BodyWriter out = new BodyWriter();
        NodeFormat.encodeDelta(delta, out);
        return NodeFormat.decodeDelta(BodyReader.of(out.toByteArray()));
    }

    @Test
    void leavesRoundTripWithSharedPrefixesAndBothKindsOfValues() {
        SplittableRandom r = new SplittableRandom(3);
        for (int round = 0; round < 200; round++) {
            int n = r.nextInt(40);
            java.util.NavigableMap<byte[], byte[]> sorted = TestKeys.model();
            for (int i = 0; i < n; i++) {
                byte[] key = new byte[r.nextInt(6)];
                for (int j = 0; j < key.length; j++) {
                    key[j] = (byte) r.nextInt(3);
                }
                sorted.put(key, TestKeys.value(i, r.nextInt(20)));
            }
            byte[][] keys = sorted.keySet().toArray(new byte[0][]);
            Object[] values = new Object[keys.length];
            for (int i = 0; i < keys.length; i++) {
                values[i] = r.nextInt(4) == 0 ? new ValueRef(r.nextLong(2, 1L << 32), r.nextInt(1 << 30)) : sorted.get(keys[i]);
            }
            byte[] lo = r.nextBoolean() ? TreeNode.NO_KEY : new byte[] {0};
            byte[] hi = r.nextBoolean() ? null : new byte[] {5, 5};
            Leaf leaf = Leaf.of(lo, hi, r.nextBoolean() ? TreeNode.NO_PID : r.nextLong(2, 1L << 32), keys, values);
            Leaf back = (Leaf) roundTrip(leaf);
            assertThat(back.lo).isEqualTo(leaf.lo);
            assertThat(back.hi).isEqualTo(leaf.hi);
            assertThat(back.next).isEqualTo(leaf.next);
            assertThat(back.count()).isEqualTo(keys.length);
            for (int i = 0; i < keys.length; i++) {
                assertThat(back.key(i)).isEqualTo(keys[i]);
                assertThat(back.value(i)).isEqualTo(values[i]);
            }
            assertThat(back.size).isEqualTo(leaf.size);
        }
    }

    @Test
    void indexNodesValuePagesAndDeltasRoundTrip() {
        Index index = Index.of(TreeNode.NO_KEY, new byte[] {9}, 77, new byte[][] {{}, {1}, {1, 2}, {3}}, new long[] {2, 3, 4, 1L << 33});
        Index back = (Index) roundTrip(index);
        assertThat(back.keys).isEqualTo(index.keys);
        assertThat(back.children).containsExactly(index.children);
        assertThat(back.hi).containsExactly(9);
        assertThat(back.next).isEqualTo(77);

        assertThat(((ValuePage) roundTrip(new ValuePage(TestKeys.value(1, 1000)))).value).isEqualTo(TestKeys.value(1, 1000));

        Delta.Put put = (Delta.Put) roundTrip(new Delta.Put(new byte[] {1, 2}, new byte[] {3}));
        assertThat(put.key()).containsExactly(1, 2);
        assertThat((byte[]) put.value()).containsExactly(3);
        assertThat(((Delta.Put) roundTrip(new Delta.Put(new byte[0], new ValueRef(12, 34)))).value()).isEqualTo(new ValueRef(12, 34));
        assertThat(((Delta.Remove) roundTrip(new Delta.Remove(new byte[] {7}))).key()).containsExactly(7);
        Delta.AddChild add = (Delta.AddChild) roundTrip(new Delta.AddChild(new byte[] {8}, 99));
        assertThat(add.separator()).containsExactly(8);
        assertThat(add.child()).isEqualTo(99);
        assertThat(((Delta.RemoveChild) roundTrip(new Delta.RemoveChild(new byte[] {8, 9}))).separator())
                .containsExactly(8, 9);
    }

    @Test
    void aRemovedChildLeavesItsParentAsIfItWasNeverAdded() {
        Index parent = Index.of(TreeNode.NO_KEY, null, TreeNode.NO_PID, new byte[][] {TreeNode.NO_KEY, {5}},
                new long[] {10, 11});
        Index grown = (Index) NodeMaterializer.INSTANCE.apply(parent, new Delta.AddChild(new byte[] {7}, 12));
        Index shrunk = (Index) NodeMaterializer.INSTANCE.apply(grown, new Delta.RemoveChild(new byte[] {7}));
        assertThat(shrunk.children).containsExactly(10, 11);
        assertThat(shrunk.size).isEqualTo(parent.size);
        assertThat(shrunk.heapSize()).isEqualTo(parent.heapSize());
        assertThat(NodeMaterializer.INSTANCE.apply(shrunk, new Delta.RemoveChild(new byte[] {7}))).isSameAs(shrunk);
        assertThatThrownBy(() -> NodeMaterializer.INSTANCE.apply(parent, new Delta.RemoveChild(TreeNode.NO_KEY)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("first child");
    }

    @Test
    void damagedBytesAreRefusedWithAMessage() {
        assertThatThrownBy(() -> NodeFormat.decodePage(BodyReader.of(new byte[] {9}))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown kind 9");
        assertThatThrownBy(() -> NodeFormat.decodeDelta(BodyReader.of(new byte[] {0}))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown tag 0");
        // a leaf whose lo claims 100 bytes in a 3-byte body
        assertThatThrownBy(() -> NodeFormat.decodePage(BodyReader.of(new byte[] {NodeFormat.LEAF, 0, 100})))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("lo of length 100");
        // a key longer than keys may be
        byte[] longKey = new byte[5 + 3 + 20_000 + 1];
        longKey[0] = NodeFormat.LEAF;
        longKey[4] = 1;
        longKey[6] = (byte) (20_000 & 0x7F | 0x80);
        longKey[7] = (byte) (20_000 >>> 7 & 0x7F | 0x80);
        longKey[8] = (byte) (20_000 >>> 14);
        assertThatThrownBy(() -> NodeFormat.decodePage(BodyReader.of(longKey))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("keys are at most");
        // an entry that shares more bytes than the previous key has
        assertThatThrownBy(() -> NodeFormat.decodePage(BodyReader.of(new byte[] {NodeFormat.LEAF, 0, 0, 0, 1, 5, 0, 0})))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("shares 5 bytes");
    }

    @Test
    void aLeafSeparatorIsTheShortestKeyBetweenTheHalves() {
        Leaf leaf = Leaf.of(TreeNode.NO_KEY, null, TreeNode.NO_PID,
                new byte[][] {{1, 2, 3}, {1, 2, 3, 0}, {1, 5, 9, 9}, {2}},
                new Object[] {new byte[0], new byte[0], new byte[0], new byte[0]});
        assertThat(hex(leaf.separator(1))).isEqualTo("01020300");
        assertThat(hex(leaf.separator(2))).isEqualTo("0105");
        assertThat(hex(leaf.separator(3))).isEqualTo("02");
        Leaf left = leaf.leftHalf(2, leaf.separator(2), 42);
        Leaf right = leaf.rightHalf(2, leaf.separator(2));
        assertThat(left.count()).isEqualTo(2);
        assertThat(left.next).isEqualTo(42);
        assertThat(hex(left.hi)).isEqualTo("0105");
        assertThat(hex(right.lo)).isEqualTo("0105");
        assertThat(right.hi).isNull();
        assertThat(left.size).isEqualTo(TreeVerifier.rebuilt(left).size);
        assertThat(right.size).isEqualTo(TreeVerifier.rebuilt(right).size);
    }

    @Test
    void splitsKeepEnoughEntriesOnEachSide() {
        byte[] big = new byte[500];
        Index index = Index.of(TreeNode.NO_KEY, null, TreeNode.NO_PID, new byte[][] {{}, big, {2}}, new long[] {2, 3, 4});
        assertThat(index.shouldSplit(64)).as("three entries cannot split into halves of two").isFalse();
        Index four = index.withChild(new byte[] {3}, 5);
        assertThat(four.shouldSplit(64)).isTrue();
        assertThat(four.splitPoint()).isEqualTo(2);
        Leaf leaf = Leaf.of(TreeNode.NO_KEY, null, TreeNode.NO_PID, new byte[][] {{1}, {2}},
                new Object[] {big, new byte[1]});
        assertThat(leaf.shouldSplit(64)).isTrue();
        assertThat(leaf.splitPoint()).isEqualTo(1);
    }
}
