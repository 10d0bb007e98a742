package dev.toboggan;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A node of a B-link tree: the keys of the range {@code [lo, hi)} at its level, sorted as unsigned bytes,
 * and a link to its right sibling, the node that covers {@code [hi, ...)} (Lehman and Yao's B-link tree,
 * as sled's {@code Node}).
 *
 * <p>Invariants, which every change keeps:
 * <ul>
 *   <li>{@code lo} never changes for a page: a split keeps the left half in place and gives the right
 *       half a new page whose {@code lo} is the separator; a merge keeps the left node's page, which
 *       absorbs its right sibling's entries, {@code hi} and {@code next}, and frees the sibling's page.
 *   <li>{@code hi} of a node equals {@code lo} of its {@code next}, when it has one; the last node of a
 *       level has neither. So every level is one chain, from the node whose {@code lo} is empty (the
 *       smallest key) to the node without {@code hi}, covering every key exactly once.
 *   <li>Every key of the node lies in {@code [lo, hi)}.
 * </ul>
 *
 * <p>Immutable: arrays are shared with other versions and threads and never written to.
 */
abstract sealed class TreeNode implements Node permits Leaf, Index {
    /** The {@code next} of the last node of a level: the meta page's id, never a node's. */
    static final long NO_PID = 0;
    static final byte[] NO_KEY = new byte[0];
    /** Fixed part of {@link #heapSize()}: the object, its arrays' headers, the bounds' headers. */
    private static final int NODE_OVERHEAD = 96;
    /** Per-entry part of {@link #heapSize()}: an array's header, the entry's prefix and the slot pointing at it. */
    static final int ENTRY_OVERHEAD = 32;
    /** Entries {@link #search} reads in order rather than bisecting (two 64-byte cache lines of prefixes). */
    static final int SCAN = 16;
    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    /** The smallest key this node may hold (inclusive); empty for the first node of a level. */
    final byte[] lo;
    /** The end of the node's range (exclusive); {@code null} for the last node of a level. */
    final byte[] hi;
    /** The right sibling, or {@link #NO_PID}. */
    final long next;
    /**
     * {@link #prefix} of each key, in key order (so also the entry count): a binary search compares these
     * first and looks at a key's bytes only on a tie, so it mostly reads one small array instead of one
     * object per step (entries are scattered over the heap; each step would be a cache miss).
     */
    final long[] prefixes;
    /** {@link #prefix} of {@link #hi}: most range checks need not read {@code hi} itself. */
    private final long hiPrefix;
    /** {@link #encodedSize()}, kept up to date by each change rather than recounted. */
    final int size;
    /**
     * The sum of {@link #entryHeap} over the entries, kept up to date like {@link #size}: the page cache
     * weighs every new version of a page, and summing per version cost a fifth of an insert (and, for an
     * index node, a cache miss per separator).
     */
    final long entriesHeap;
    /**
     * {@link #heapSize()} but for the entries: the bounds' lengths with the fixed part, taken over by each
     * version like {@link #hiPrefix} (reading {@code lo} and {@code hi} to weigh a new version was two cache
     * misses per insert).
     */
    private final int boundsHeap;

    TreeNode(byte[] lo, byte[] hi, long next, long[] prefixes, int size, long entriesHeap) {
        this.lo = lo;
        this.hi = hi;
        this.next = next;
        this.prefixes = prefixes;
        this.hiPrefix = hi == null ? 0 : prefix(hi);
        this.size = size;
        this.entriesHeap = entriesHeap;
        this.boundsHeap = NODE_OVERHEAD + lo.length + (hi == null ? 0 : hi.length);
    }

    /**
     * A version of {@code base} with other entries, in the same range and with the same link. Takes
     * {@link #hiPrefix} and {@link #boundsHeap} over rather than reading {@code lo} and {@code hi} again:
     * on an insert each is a cache miss, as lookups seldom read the bounds themselves.
     */
    TreeNode(TreeNode base, long[] prefixes, int size, long entriesHeap) {
        this.lo = base.lo;
        this.hi = base.hi;
        this.next = base.next;
        this.prefixes = prefixes;
        this.hiPrefix = base.hiPrefix;
        this.size = size;
        this.entriesHeap = entriesHeap;
        this.boundsHeap = base.boundsHeap;
    }

    /** Whether {@code key} lies at or past {@code hi}: it belongs to a node further right. */
    final boolean isBeyond(byte[] key) {
        if (hi == null) {
            return false;
        }
        int c = Long.compareUnsigned(prefix(key), hiPrefix);
        return c != 0 ? c > 0 : Arrays.compareUnsigned(key, hi) >= 0;
    }

    final int count() {
        return prefixes.length;
    }

    /** Compares the key of entry {@code i} with {@code key}, as unsigned bytes. */
    abstract int compareAt(int i, byte[] key);

    /** The key of entry {@code i} (a copy for a leaf, the separator itself for an index node: do not change it). */
    abstract byte[] key(int i);

    /**
     * The index of {@code key}, or {@code -(insertion point) - 1}, as {@link Arrays#binarySearch}.
     *
     * <p>Bisects the prefixes only down to {@link #SCAN} entries, then reads them in order. In a large
     * tree the prefixes of a leaf are seldom in the cache: each bisection step is a cache miss that waits
     * for the one before (its address depends on the comparison), while the loads of an in-order scan do
     * not depend on each other, so the processor has them all in flight at once. A leaf of the default
     * size (about 30 entries of 16-byte keys and 100-byte values) costs one bisection step and a scan of
     * two cache lines instead of four or five dependent misses.
     */
    int search(byte[] key) {
        return search(key, prefix(key), 0, prefixes.length);
    }

    /**
     * {@link #search(byte[])} of a key known to lie in {@code [low, high)}: the entries below {@code low}
     * are less than {@code key}, those from {@code high} on greater.
     */
    final int search(byte[] key, long prefix, int low, int high) {
        long[] p = prefixes;
        // entries below low are less than key, entries from high on are greater
        while (high - low > SCAN) {
            int mid = (low + high) >>> 1;
            int c = Long.compareUnsigned(p[mid], prefix);
            if (c == 0) {
                c = compareAt(mid, key);
            }
            if (c < 0) {
                low = mid + 1;
            } else if (c > 0) {
                high = mid;
            } else {
                return mid;
            }
        }
        return scan(p, 1, key, prefix, low, high);
    }

    /**
     * The in-order part of {@link #search(byte[], long, int, int)}, over entries {@code [low, high)} whose
     * prefixes are {@code p[i * stride]}.
     */
    final int scan(long[] p, int stride, byte[] key, long prefix, int low, int high) {
        while (low < high && Long.compareUnsigned(p[low * stride], prefix) < 0) {
            low++;
        }
        while (low < high && p[low * stride] == prefix) {
            int c = compareAt(low, key);
            if (c == 0) {
                return low;
            }
            if (c > 0) {
                break;
            }
            low++;
        }
        return -(low + 1);
    }


    /**
     * The first 8 bytes of {@code key} as an unsigned big-endian number, zero-padded. If
     * {@code prefix(a) < prefix(b)} then {@code a < b} (at the first differing byte, a padding zero is on
     * the shorter key, which is then a prefix of the other); equal prefixes decide nothing.
     */
    static long prefix(byte[] key) {
        return prefix(key, 0, key.length);
    }

    /** {@link #prefix(byte[])} of the key in {@code bytes[offset, offset + length)}. */
    static long prefix(byte[] bytes, int offset, int length) {
        if (length >= Long.BYTES) {
            return (long) LONG_BE.get(bytes, offset);
        }
        long p = 0;
        for (int i = 0; i < length; i++) {
            p |= (bytes[offset + i] & 0xFFL) << (56 - 8 * i);
        }
        return p;
    }

    static long[] prefixes(byte[][] keys) {
        long[] prefixes = new long[keys.length];
        for (int i = 0; i < keys.length; i++) {
            prefixes[i] = prefix(keys[i]);
        }
        return prefixes;
    }

    /** {@code array} with {@code value} inserted at {@code at}. */
    static long[] inserted(long[] array, int at, long value) {
        long[] out = new long[array.length + 1];
        System.arraycopy(array, 0, out, 0, at);
        out[at] = value;
        System.arraycopy(array, at, out, at + 1, array.length - at);
        return out;
    }

    /** {@code array} without the element at {@code at}. */
    static long[] removed(long[] array, int at) {
        long[] out = new long[array.length - 1];
        System.arraycopy(array, 0, out, 0, at);
        System.arraycopy(array, at + 1, out, at, array.length - at - 1);
        return out;
    }

    /** {@code a} followed by {@code b}. */
    static long[] concat(long[] a, long[] b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** {@code a} followed by {@code b} (the arrays they hold are shared, not copied). */
    static byte[][] concat(byte[][] a, byte[][] b) {
        byte[][] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Override
    public final int encodedSize() {
        return size;
    }

    @Override
    public final long heapSize() {
        return boundsHeap + entriesHeap;
    }

    /** Heap bytes of entry {@code i}, its key included. */
    abstract long entryHeap(int i);

    /** The sum of {@link #entryHeap} over the entries {@code [from, to)}. */
    final long entriesHeap(int from, int to) {
        long bytes = 0;
        for (int i = from; i < to; i++) {
            bytes += entryHeap(i);
        }
        return bytes;
    }

    /** Encoded bytes of entry {@code i}, as {@link NodeFormat} writes it at most. */
    abstract int entrySize(int i);

    /**
     * The fewest entries each half of a split keeps. An index node keeps two: a split adds an entry to the
     * parent, so index nodes that split into single entries (possible when keys are larger than
     * {@code node-split-size}) would grow the tree by a level per split.
     */
    abstract int minHalf();

    /** Whether the node is too large: larger than {@code splitSize} and with enough entries for two halves. */
    final boolean shouldSplit(int splitSize) {
        return size > splitSize && prefixes.length >= 2 * minHalf();
    }

    /**
     * Where to split: the first entry of the right half, chosen so that the halves are about equally
     * large in bytes, each with at least {@link #minHalf()} entries.
     */
    final int splitPoint() {
        int half = (size - headerSize()) / 2;
        int sum = 0;
        int m = 0;
        while (m < prefixes.length && sum < half) {
            sum += entrySize(m++);
        }
        return Math.max(minHalf(), Math.min(prefixes.length - minHalf(), m));
    }

    /** The {@code lo} of the right half when splitting at {@code m}. */
    abstract byte[] separator(int m);

    /** The left half: entries before {@code m}, up to {@code separator}, linked to {@code rightPid}. */
    abstract TreeNode leftHalf(int m, byte[] separator, long rightPid);

    /** The right half: entries from {@code m}, from {@code separator}, linked to this node's next. */
    abstract TreeNode rightHalf(int m, byte[] separator);

    /**
     * This node followed by its right sibling {@code right} as one node: the entries of both, from this
     * node's {@code lo} to {@code right}'s {@code hi}, linked to {@code right}'s {@code next}.
     */
    abstract TreeNode absorb(TreeNode right);

    /** The encoded size of {@link #absorb absorb(right)}, without building it. */
    final int absorbedSize(TreeNode right) {
        return headerSize(lo, right.hi, right.next) + size - headerSize() + right.size - right.headerSize();
    }

    /** The bytes of the node that are not entries. */
    final int headerSize() {
        return headerSize(lo, hi, next);
    }

    static int headerSize(byte[] lo, byte[] hi, long next) {
        return 1 + NodeFormat.varintLength(next) + NodeFormat.varintLength(lo.length) + lo.length
                + NodeFormat.varintLength(hi == null ? 0 : hi.length + 1L) + (hi == null ? 0 : hi.length)
                + NodeFormat.MAX_COUNT_LENGTH;
    }

    /** The size of a node with this header and the entries {@code [from, to)} of this node. */
    final int sizeOf(byte[] newLo, byte[] newHi, long newNext, int from, int to) {
        int bytes = headerSize(newLo, newHi, newNext);
        for (int i = from; i < to; i++) {
            bytes += entrySize(i);
        }
        return bytes;
    }

    static String show(byte[] key) {
        if (key == null) {
            return "+inf";
        }
        StringBuilder s = new StringBuilder(key.length * 2);
        for (byte b : key) {
            s.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
        }
        return s.toString();
    }
}
