package dev.toboggan;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A leaf: sorted keys and their values. A value is stored as its bytes, or as a {@link ValueRef} to a
 * {@link ValuePage} when it is longer than {@code toboggan.tree.max-inline-value}.
 *
 * <p>Each entry is one array, the key and its value side by side, so that confirming a key and copying
 * its value touch one object (a lookup in a large tree is a chain of cache misses; this saves two):
 *
 * <pre>
 * +-----------------------+-----------+-------------------------------------------+
 * | ref bit | key length  | key bytes | value bytes, or (ref) pid: 8 bytes,        |
 * | 1 bit   | 15 bits     |           |                     length: 4 bytes (BE) |
 * +-----------------------+-----------+-------------------------------------------+
 *   2 bytes, big-endian
 * </pre>
 * This is the in-memory layout only; {@link NodeFormat} writes leaves with prefix-compressed keys.
 */
final class Leaf extends TreeNode {
    private static final int HEADER = 2;
    /** Where an entry's key begins in it (its end: {@link #keyEnd}). */
    static final int KEY_AT = HEADER;
    private static final int REF_BIT = 0x8000;
    private static final int REF_LENGTH = Long.BYTES + Integer.BYTES;
    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT_BE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);

    /** One array per entry, in key order; see the class notes. */
    private final byte[][] entries;

    private Leaf(byte[] lo, byte[] hi, long next, byte[][] entries, long[] prefixes, int size, long entriesHeap) {
        super(lo, hi, next, prefixes, size, entriesHeap);
        this.entries = entries;
    }

    /** A version of {@code base} with these entries. */
    private Leaf(Leaf base, byte[][] entries, long[] prefixes, int size, long entriesHeap) {
        super(base, prefixes, size, entriesHeap);
        this.entries = entries;
    }

    /**
     * A leaf with these entries; computes its size.
     *
     * @param values per key: its bytes, or a {@link ValueRef}
     */
    static Leaf of(byte[] lo, byte[] hi, long next, byte[][] keys, Object[] values) {
        byte[][] entries = new byte[keys.length][];
        for (int i = 0; i < keys.length; i++) {
            entries[i] = entry(keys[i], values[i]);
        }
        return ofEntries(lo, hi, next, entries);
    }

    /** A leaf of entries {@link #entry} made, in key order (it keeps the array); computes its size. */
    static Leaf ofEntries(byte[] lo, byte[] hi, long next, byte[][] entries) {
        int size = headerSize(lo, hi, next);
        long heap = 0;
        long[] prefixes = new long[entries.length];
        for (int i = 0; i < entries.length; i++) {
            byte[] e = entries[i];
            size += entrySize(e);
            heap += entryHeap(e);
            prefixes[i] = prefix(e, HEADER, keyLength(e));
        }
        return new Leaf(lo, hi, next, entries, prefixes, size, heap);
    }

    /** The only node of a new tree. */
    static Leaf emptyRoot() {
        return of(NO_KEY, null, NO_PID, new byte[0][], new Object[0]);
    }

    /** The value of {@code key}: a copy of its bytes, or a {@link ValueRef}; {@code null} if absent. */
    Object get(byte[] key) {
        int i = search(key);
        return i >= 0 ? value(i) : null;
    }

    /** Whether {@code key} has a value. */
    boolean contains(byte[] key) {
        return search(key) >= 0;
    }

    /** The value of entry {@code i}: a copy of its bytes, or a {@link ValueRef}. */
    Object value(int i) {
        byte[] e = entries[i];
        int at = HEADER + keyLength(e);
        if (isRef(e)) {
            return new ValueRef((long) LONG_BE.get(e, at), (int) INT_BE.get(e, at + Long.BYTES));
        }
        return Arrays.copyOfRange(e, at, e.length);
    }

    /** The reference of entry {@code i}, or {@code null} if its value is stored in the leaf. */
    ValueRef ref(int i) {
        return isRef(entries[i]) ? (ValueRef) value(i) : null;
    }

    @Override
    byte[] key(int i) {
        byte[] e = entries[i];
        return Arrays.copyOfRange(e, HEADER, HEADER + keyLength(e));
    }

    @Override
    int compareAt(int i, byte[] key) {
        byte[] e = entries[i];
        return Arrays.compareUnsigned(e, HEADER, HEADER + keyLength(e), key, 0, key.length);
    }

    /** This leaf with {@code key} set to {@code value} (bytes or a {@link ValueRef}). */
    Leaf with(byte[] key, Object value) {
        byte[] entry = entry(key, value);
        int i = search(key);
        if (i >= 0) {
            byte[][] e = entries.clone();
            e[i] = entry;
            return new Leaf(this, e, prefixes, size - entrySize(entries[i]) + entrySize(entry),
                    entriesHeap - entryHeap(entries[i]) + entryHeap(entry));
        }
        int at = -i - 1;
        int n = entries.length;
        byte[][] e = new byte[n + 1][];
        System.arraycopy(entries, 0, e, 0, at);
        e[at] = entry;
        System.arraycopy(entries, at, e, at + 1, n - at);
        return new Leaf(this, e, inserted(prefixes, at, prefix(key)), size + entrySize(entry),
                entriesHeap + entryHeap(entry));
    }

    /** This leaf without {@code key}; itself if it has no such key. */
    Leaf without(byte[] key) {
        int i = search(key);
        if (i < 0) {
            return this;
        }
        int n = entries.length;
        byte[][] e = new byte[n - 1][];
        System.arraycopy(entries, 0, e, 0, i);
        System.arraycopy(entries, i + 1, e, i, n - i - 1);
        return new Leaf(this, e, removed(prefixes, i), size - entrySize(entries[i]),
                entriesHeap - entryHeap(entries[i]));
    }

    /**
     * The shortest key {@code s} with {@code key(m - 1) < s <= key(m)}: a prefix of {@code key(m)}, so
     * index nodes keep short separators (suffix truncation).
     */
    @Override
    byte[] separator(int m) {
        byte[] left = entries[m - 1];
        byte[] right = entries[m];
        return separator(left, HEADER, HEADER + keyLength(left), right, HEADER, HEADER + keyLength(right));
    }

    /**
     * The shortest key {@code s} with {@code left < s <= right}, for the keys {@code left[leftFrom, leftTo)} and
     * {@code right[rightFrom, rightTo)}: a prefix of the right one.
     */
    static byte[] separator(byte[] left, int leftFrom, int leftTo, byte[] right, int rightFrom, int rightTo) {
        int mismatch = Arrays.mismatch(left, leftFrom, leftTo, right, rightFrom, rightTo);
        // left < right: they differ at `mismatch`, or left is a proper prefix of right (mismatch = its length)
        return Arrays.copyOfRange(right, rightFrom, rightFrom + mismatch + 1);
    }

    @Override
    Leaf leftHalf(int m, byte[] separator, long rightPid) {
        return new Leaf(lo, separator, rightPid, Arrays.copyOfRange(entries, 0, m), Arrays.copyOfRange(prefixes, 0, m),
                sizeOf(lo, separator, rightPid, 0, m), entriesHeap(0, m));
    }

    @Override
    Leaf absorb(TreeNode right) {
        Leaf r = (Leaf) right;
        return new Leaf(lo, r.hi, r.next, concat(entries, r.entries), concat(prefixes, r.prefixes), absorbedSize(r),
                entriesHeap + r.entriesHeap);
    }

    @Override
    Leaf rightHalf(int m, byte[] separator) {
        int n = entries.length;
        return new Leaf(separator, hi, next, Arrays.copyOfRange(entries, m, n), Arrays.copyOfRange(prefixes, m, n),
                sizeOf(separator, hi, next, m, n), entriesHeap(m, n));
    }

    @Override
    int minHalf() {
        return 1;
    }

    @Override
    int entrySize(int i) {
        return entrySize(entries[i]);
    }

    @Override
    long entryHeap(int i) {
        return entryHeap(entries[i]);
    }

    private static long entryHeap(byte[] entry) {
        return ENTRY_OVERHEAD + entry.length;
    }

    /** Encoded bytes of an entry, as {@link NodeFormat} writes it at most. */
    private static int entrySize(byte[] entry) {
        int keyLength = keyLength(entry);
        if (isRef(entry)) {
            int at = HEADER + keyLength;
            return refEntrySize(keyLength, (long) LONG_BE.get(entry, at), (int) INT_BE.get(entry, at + Long.BYTES));
        }
        return inlineEntrySize(keyLength, entry.length - HEADER - keyLength);
    }

    /** What {@link #entrySize(byte[])} counts for the entry of {@code key} and {@code value} (bytes or a {@link ValueRef}). */
    static int entrySize(byte[] key, Object value) {
        return value instanceof ValueRef ref ? refEntrySize(key.length, ref.pid(), ref.length())
                : inlineEntrySize(key.length, ((byte[]) value).length);
    }

    private static int inlineEntrySize(int keyLength, int valueLength) {
        return keySize(keyLength) + NodeFormat.varintLength((long) valueLength << 1) + valueLength;
    }

    private static int refEntrySize(int keyLength, long pid, int valueLength) {
        return keySize(keyLength) + NodeFormat.varintLength(pid << 1 | 1) + NodeFormat.varintLength(valueLength);
    }

    private static int keySize(int keyLength) {
        return NodeFormat.MAX_SHARED_LENGTH + NodeFormat.varintLength(keyLength) + keyLength;
    }

    /**
     * The in-memory entry of {@code key} and {@code value} (its bytes, or a {@link ValueRef}): a new array holding
     * copies of both, see the class notes.
     */
    static byte[] entry(byte[] key, Object value) {
        boolean ref = value instanceof ValueRef;
        byte[] bytes = ref ? null : (byte[]) value;
        byte[] entry = new byte[HEADER + key.length + (ref ? REF_LENGTH : bytes.length)];
        int header = key.length | (ref ? REF_BIT : 0);
        entry[0] = (byte) (header >>> 8);
        entry[1] = (byte) header;
        System.arraycopy(key, 0, entry, HEADER, key.length);
        int at = HEADER + key.length;
        if (ref) {
            LONG_BE.set(entry, at, ((ValueRef) value).pid());
            INT_BE.set(entry, at + Long.BYTES, ((ValueRef) value).length());
        } else {
            System.arraycopy(bytes, 0, entry, at, bytes.length);
        }
        return entry;
    }

    /** Where the key of {@code entry} ends in it. */
    static int keyEnd(byte[] entry) {
        return HEADER + keyLength(entry);
    }

    private static int keyLength(byte[] entry) {
        return ((entry[0] & 0x7F) << 8) | (entry[1] & 0xFF);
    }

    private static boolean isRef(byte[] entry) {
        return entry[0] < 0;
    }

    /** Writes entry {@code i}'s key from byte {@code from} on, and its value, as {@link NodeFormat} lays them out. */
    void encodeEntry(int i, int from, NodeFormat.Writer w) {
        byte[] e = entries[i];
        int keyLength = keyLength(e);
        w.putVarint(keyLength - from);
        w.putBytes(e, HEADER + from, keyLength - from);
        int at = HEADER + keyLength;
        if (isRef(e)) {
            w.putVarint((long) LONG_BE.get(e, at) << 1 | 1);
            w.putVarint((int) INT_BE.get(e, at + Long.BYTES));
        } else {
            w.putVarint((long) (e.length - at) << 1);
            w.putBytes(e, at, e.length - at);
        }
    }

    /**
     * Fills {@code shared} with how many leading key bytes each entry shares with the one before it (0 for
     * the first), after reading a byte from the start, the middle and the end of every entry in a loop of a
     * few instructions per entry, so that the CPU has many entries' cache misses in flight at once (see
     * {@link NodeFormat#encodePage}); their sum is returned for the caller to keep (a sum nobody keeps would
     * let the compiler drop those reads). Comparing keys in that same loop held a few entries' misses at a
     * time, the comparison being most of the CPU's look-ahead: a rewrite cost 4.66-4.90 µs per page that
     * way against 3.42-3.55 µs with the reads first (in one JVM, alternated).
     */
    int sharedPrefixes(int[] shared) {
        int touched = 0;
        for (byte[] e : entries) { // a few instructions per entry: many entries' misses in flight at once
            touched += e[0] + e[e.length >> 1] + e[e.length - 1];
        }
        for (int i = 0; i < entries.length; i++) {
            shared[i] = sharedWithPrevious(i);
        }
        return touched;
    }

    /** How many leading key bytes entry {@code i} shares with entry {@code i - 1} (0 for the first). */
    int sharedWithPrevious(int i) {
        if (i == 0) {
            return 0;
        }
        byte[] a = entries[i - 1];
        byte[] b = entries[i];
        int mismatch = Arrays.mismatch(a, HEADER, HEADER + keyLength(a), b, HEADER, HEADER + keyLength(b));
        return mismatch < 0 ? keyLength(b) : mismatch;
    }

    @Override
    public String toString() {
        return "Leaf[" + show(lo) + ".." + show(hi) + ", next=" + next + ", " + entries.length + " keys, ~" + size
                + " bytes]";
    }
}
