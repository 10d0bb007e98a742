package dev.toboggan;

import java.util.Arrays;

/**
 * An index node: sorted separator keys, each with the child page that holds the keys from it on (up to
 * the next separator, where the walk continues right through the child's siblings if the child was split
 * and this node does not know it yet).
 *
 * <p>Invariants beyond {@link TreeNode}'s: {@code keys[0]} equals {@code lo}; each child's {@code lo}
 * equals its separator (so a lookup never needs to move left); children are one level below.
 * {@link #blockFirsts} and {@link #route} are copies of {@link #prefixes} and {@link #children} laid out
 * for {@link #search}, made by each constructor (in memory only; {@link NodeFormat} writes neither).
 */
final class Index extends TreeNode {
    /** Separators per block of {@link #blockFirsts}. */
    private static final int BLOCK = 16;

    /** The separators, sorted. */
    final byte[][] keys;
    final long[] children;
    /**
     * The prefix of the first separator of each block of {@value #BLOCK} ({@code prefixes[b * BLOCK]}): what
     * {@link #search} reads first, in order, to find the block that holds a key. Not counted in
     * {@link #heapSize()} (half a byte per separator).
     */
    private final long[] blockFirsts;
    /**
     * Each separator's prefix and child side by side: {@code route[2 * i]} is {@code prefixes[i]},
     * {@code route[2 * i + 1]} is {@code children[i]}. {@link #search} scans a block here rather than in
     * {@link #prefixes}, so that the child {@link #childFor} then takes lies on a cache line the scan has
     * already loaded, where reading {@link #children} would be one more miss to wait for. 16 bytes more per
     * separator, and one more copy per version of the node (only splits make new versions).
     */
    private final long[] route;

    private Index(byte[] lo, byte[] hi, long next, byte[][] keys, long[] prefixes, long[] children, int size,
            long entriesHeap) {
        super(lo, hi, next, prefixes, size, entriesHeap);
        this.keys = keys;
        this.children = children;
        this.blockFirsts = blockFirsts(prefixes);
        this.route = route(prefixes, children);
    }

    /** A version of {@code base} with these entries. */
    private Index(Index base, byte[][] keys, long[] prefixes, long[] children, int size, long entriesHeap) {
        super(base, prefixes, size, entriesHeap);
        this.keys = keys;
        this.children = children;
        this.blockFirsts = blockFirsts(prefixes);
        this.route = route(prefixes, children);
    }

    private static long[] blockFirsts(long[] prefixes) {
        long[] firsts = new long[(prefixes.length + BLOCK - 1) / BLOCK];
        for (int b = 0; b < firsts.length; b++) {
            firsts[b] = prefixes[b * BLOCK];
        }
        return firsts;
    }

    private static long[] route(long[] prefixes, long[] children) {
        long[] route = new long[2 * prefixes.length];
        for (int i = 0; i < prefixes.length; i++) {
            route[2 * i] = prefixes[i];
            route[2 * i + 1] = children[i];
        }
        return route;
    }

    /**
     * {@link TreeNode#search}, for an index node: reads the first prefix of each block of {@value #BLOCK}
     * separators in order until one is not less than the key's, then that block in order. An index node of
     * the default size has about 400 separators, and every lookup of the tree reads one at each level: a
     * bisection of its prefixes was five or six steps, each a cache miss whose address waited for the one
     * before; these are two rounds of loads that do not depend on each other (about four cache lines of
     * block prefixes, then the four of the block in {@link #route}, which hold the children too), which the
     * processor has in flight at once.
     */
    @Override
    int search(byte[] key) {
        long prefix = prefix(key);
        long[] firsts = blockFirsts;
        int below = 0; // blocks whose first separator is less than key (as its prefix is)
        while (below < firsts.length && Long.compareUnsigned(firsts[below], prefix) < 0) {
            below++;
        }
        int tied = below; // and the blocks after them whose first prefix ties with key's: their order is unknown
        while (tied < firsts.length && firsts[tied] == prefix) {
            tied++;
        }
        int low = below == 0 ? 0 : (below - 1) * BLOCK + 1;
        int high = tied == firsts.length ? prefixes.length : tied * BLOCK;
        if (high - low > BLOCK) { // separators tie on their prefix across blocks: bisect them first
            return search(key, prefix, low, high);
        }
        return scan(route, 2, key, prefix, low, high);
    }

    /** An index node with these entries; computes its size. */
    static Index of(byte[] lo, byte[] hi, long next, byte[][] keys, long[] children) {
        int size = headerSize(lo, hi, next);
        long heap = 0;
        for (int i = 0; i < keys.length; i++) {
            size += entrySize(keys[i], children[i]);
            heap += entryHeap(keys[i]);
        }
        return new Index(lo, hi, next, keys, prefixes(keys), children, size, heap);
    }

    /** A new root above {@code left} (the first node of its level) and its right sibling. */
    static Index root(long left, byte[] separator, long right) {
        return of(NO_KEY, null, NO_PID, new byte[][] {NO_KEY, separator}, new long[] {left, right});
    }

    /** The child to descend to for {@code key}: the last whose separator is at most {@code key}. */
    long childFor(byte[] key) {
        int i = search(key);
        return route[2 * (i >= 0 ? i : -i - 2) + 1];
    }

    /**
     * The child to descend to for the keys below {@code bound}: the last whose separator is less than
     * {@code bound}, or the last child if {@code bound} is {@code null} (no bound). {@code bound} must be
     * greater than {@code lo}.
     */
    long childBefore(byte[] bound) {
        if (bound == null) {
            return children[children.length - 1];
        }
        int i = search(bound);
        return children[i >= 0 ? i - 1 : -i - 2];
    }

    boolean hasSeparator(byte[] separator) {
        return search(separator) >= 0;
    }

    /** This node with the child entry {@code separator -> child}; itself if the separator is present. */
    Index withChild(byte[] separator, long child) {
        int i = search(separator);
        if (i >= 0) {
            return this;
        }
        int at = -i - 1;
        int n = keys.length;
        byte[][] k = new byte[n + 1][];
        System.arraycopy(keys, 0, k, 0, at);
        k[at] = separator;
        System.arraycopy(keys, at, k, at + 1, n - at);
        return new Index(this, k, inserted(prefixes, at, prefix(separator)), inserted(children, at, child),
                size + entrySize(separator, child), entriesHeap + entryHeap(separator));
    }

    /** The position of child {@code pid}, whose {@code lo} is {@code childLo}; -1 if this node does not link it. */
    int positionOf(long pid, byte[] childLo) {
        int i = search(childLo);
        return i >= 0 && children[i] == pid ? i : -1;
    }

    /**
     * This node without the child entry {@code separator}; itself if it has none. The first entry
     * ({@code lo}'s) is never removed: a merge removes the right one of two children.
     */
    Index withoutChild(byte[] separator) {
        int i = search(separator);
        if (i < 0) {
            return this;
        }
        if (i == 0) {
            throw new IllegalStateException("a merge cannot remove the first child of " + this);
        }
        return withoutChild(i);
    }

    /** This node without the child entry at {@code i}, which must not be the first ({@code lo}'s). */
    private Index withoutChild(int i) {
        int n = keys.length;
        byte[][] k = new byte[n - 1][];
        System.arraycopy(keys, 0, k, 0, i);
        System.arraycopy(keys, i + 1, k, i, n - i - 1);
        return new Index(this, k, removed(prefixes, i), removed(children, i), size - entrySize(i),
                entriesHeap - entryHeap(i));
    }

    @Override
    Index absorb(TreeNode right) {
        Index r = (Index) right;
        return new Index(lo, r.hi, r.next, concat(keys, r.keys), concat(prefixes, r.prefixes),
                concat(children, r.children), absorbedSize(r), entriesHeap + r.entriesHeap);
    }

    @Override
    int compareAt(int i, byte[] key) {
        return Arrays.compareUnsigned(keys[i], key);
    }

    @Override
    byte[] key(int i) {
        return keys[i];
    }

    @Override
    byte[] separator(int m) {
        return keys[m];
    }

    @Override
    Index leftHalf(int m, byte[] separator, long rightPid) {
        return new Index(lo, separator, rightPid, Arrays.copyOfRange(keys, 0, m), Arrays.copyOfRange(prefixes, 0, m),
                Arrays.copyOfRange(children, 0, m), sizeOf(lo, separator, rightPid, 0, m), entriesHeap(0, m));
    }

    @Override
    Index rightHalf(int m, byte[] separator) {
        int n = keys.length;
        return new Index(separator, hi, next, Arrays.copyOfRange(keys, m, n), Arrays.copyOfRange(prefixes, m, n),
                Arrays.copyOfRange(children, m, n), sizeOf(separator, hi, next, m, n), entriesHeap(m, n));
    }

    @Override
    int minHalf() {
        return 2;
    }

    @Override
    int entrySize(int i) {
        return entrySize(keys[i], children[i]);
    }

    @Override
    long entryHeap(int i) {
        return entryHeap(keys[i]);
    }

    /** The separator, its prefix and slot (the overhead), its child, and both again in {@link #route}. */
    private static long entryHeap(byte[] key) {
        return ENTRY_OVERHEAD + key.length + 3L * Long.BYTES;
    }

    static int entrySize(byte[] key, long child) {
        return NodeFormat.MAX_SHARED_LENGTH + NodeFormat.varintLength(key.length) + key.length
                + NodeFormat.varintLength(child);
    }

    @Override
    public String toString() {
        return "Index[" + show(lo) + ".." + show(hi) + ", next=" + next + ", " + keys.length + " children, ~" + size
                + " bytes]";
    }
}
