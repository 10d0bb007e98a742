package dev.toboggan;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A leaf: sorted keys and their values. A value is stored as its bytes, or as a {@link ValueRef} to a
 * {@link ValuePage} when it is longer than {@code toboggan.tree.max-inline-value}.
 *
 * <p>A point read in a large tree is a chain of dependent cache misses (the page table slot, the page,
 * the node, its search data, the entry); this layout keeps the leaf's part of it to two objects after the
 * node: the {@link #table}, whose cache line that decides the search also says where the entry is, and
 * the {@link #arena}, where the entry's key and value lie side by side.
 *
 * <pre>
 * table (long[], per entry two longs, in key order, one copy per version):
 *   [2i]     the key's {@link #prefix}: what the search compares first
 *   [2i + 1] offset (high 32 bits) and length (low 32 bits) of the entry's bytes in the arena
 *
 * arena (byte[], shared by the versions of a page), an entry at its offset:
 * +-----------------------+-----------+-------------------------------------------+
 * | ref bit | key length  | key bytes | value bytes, or (ref) pid: 8 bytes,        |
 * | 1 bit   | 15 bits     |           |                     length: 4 bytes (BE) |
 * +-----------------------+-----------+-------------------------------------------+
 *   2 bytes, big-endian
 * </pre>
 * This is the in-memory layout only; {@link NodeFormat} writes leaves with prefix-compressed keys.
 *
 * <h2>Implementation notes: the shared arena</h2>
 * <ul>
 *   <li><b>Append only</b>: a change ({@link #with}) writes its new entry into spare room at the end of
 *       the arena and makes a new table; the bytes of the base's entries are neither copied nor changed.
 *       So an insert copies the table (16 bytes per entry), not the leaf's entries (a whole-leaf copy per
 *       insert cost a fifth more writer CPU when it was measured). Overwritten and removed entries stay
 *       in the arena as dead bytes until it is rebuilt.
 *   <li><b>Claims</b>: {@link #claimed} (shared by every version on the arena) counts the bytes handed
 *       out; a change claims its entry's room with a CAS from the count it read to the count plus the
 *       entry's length, so two changes derived from one version (racing writers, of which at most one
 *       wins the page table CAS) never write the same bytes. Room is claimed before it is written, and
 *       a claim is never given back: a losing change's bytes are dead from the start.
 *   <li><b>Visibility</b>: every byte a version's table points at was written before that version was
 *       built, and is never written again; versions are published by the page table's CAS (release) and
 *       read through it (acquire), so a reader that sees a version sees its entries. Readers never read
 *       {@link #claimed}.
 *   <li><b>Rebuilds</b>: when the arena has no room for an entry, the change copies the live entries of
 *       its base (in key order) and the new one into a new arena with spare room ({@link #spare}), with
 *       a claim count of its own; splits give each half a new arena, and a remove that leaves the arena
 *       mostly dead rebuilds it too. Old versions keep the old arena alive until they are dropped.
 *   <li><b>Weight</b>: {@link #heapSize()} counts the whole arena, dead bytes and spare room included:
 *       it is what the page keeps alive.
 * </ul>
 */
final class Leaf extends TreeNode {
    private static final int HEADER = 2;
    private static final int REF_BIT = 0x8000;
    private static final int KEY_LENGTH_MASK = 0x7FFF;
    private static final int REF_LENGTH = Long.BYTES + Integer.BYTES;
    /** Heap bytes per entry besides its bytes in the arena: its two longs in the table. */
    private static final int TABLE_BYTES = 2 * Long.BYTES;
    /** The least spare room a new arena gets: a few entries of the usual size. */
    private static final int MIN_SPARE = 256;
    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle INT_BE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);

    /** Per entry its key's prefix and its bytes' place in {@link #arena}; see the class notes. */
    private final long[] table;
    /** The entries' bytes, shared with other versions of this page; see the class notes. */
    private final byte[] arena;
    /** Bytes of {@link #arena} handed out, shared like it; read and claimed by writers only. */
    private final AtomicInteger claimed;

    private Leaf(byte[] lo, byte[] hi, long next, long[] table, byte[] arena, AtomicInteger claimed, int size) {
        super(lo, hi, next, size, weight(table, arena));
        this.table = table;
        this.arena = arena;
        this.claimed = claimed;
    }

    /** A version of {@code base} with these entries. */
    private Leaf(Leaf base, long[] table, byte[] arena, AtomicInteger claimed, int size) {
        super(base, size, weight(table, arena));
        this.table = table;
        this.arena = arena;
        this.claimed = claimed;
    }

    private static long weight(long[] table, byte[] arena) {
        return (long) table.length * Long.BYTES + arena.length;
    }

    /**
     * A leaf with these entries; computes its size.
     *
     * @param values per key: its bytes, or a {@link ValueRef}
     */
    static Leaf of(byte[] lo, byte[] hi, long next, byte[][] keys, Object[] values) {
        int live = 0;
        for (int i = 0; i < keys.length; i++) {
            live += entryLength(keys[i], values[i]);
        }
        byte[] arena = new byte[live + spare(live)];
        long[] table = new long[2 * keys.length];
        int size = headerSize(lo, hi, next);
        int at = 0;
        for (int i = 0; i < keys.length; i++) {
            int length = write(arena, at, keys[i], values[i]);
            table[2 * i] = prefix(keys[i]);
            table[2 * i + 1] = slot(at, length);
            size += entrySize(arena, at, length);
            at += length;
        }
        return new Leaf(lo, hi, next, table, arena, new AtomicInteger(at), size);
    }

    /** The only node of a new tree. */
    static Leaf emptyRoot() {
        return of(NO_KEY, null, NO_PID, new byte[0][], new Object[0]);
    }

    @Override
    int count() {
        return table.length >> 1;
    }

    @Override
    long prefixAt(int i) {
        return table[2 * i];
    }

    @Override
    int search(byte[] key) {
        return search(table, 2, key, prefix(key), 0, table.length >> 1);
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
        long slot = table[2 * i + 1];
        int at = offset(slot);
        byte[] a = arena;
        int header = header(a, at);
        int valueAt = at + HEADER + (header & KEY_LENGTH_MASK);
        if ((header & REF_BIT) != 0) {
            return new ValueRef((long) LONG_BE.get(a, valueAt), (int) INT_BE.get(a, valueAt + Long.BYTES));
        }
        return Arrays.copyOfRange(a, valueAt, at + length(slot));
    }

    /** The reference of entry {@code i}, or {@code null} if its value is stored in the leaf. */
    ValueRef ref(int i) {
        return (header(arena, offset(table[2 * i + 1])) & REF_BIT) != 0 ? (ValueRef) value(i) : null;
    }

    @Override
    byte[] key(int i) {
        int at = offset(table[2 * i + 1]);
        return Arrays.copyOfRange(arena, at + HEADER, at + HEADER + keyLength(arena, at));
    }

    @Override
    int compareAt(int i, byte[] key) {
        int at = offset(table[2 * i + 1]);
        byte[] a = arena;
        return Arrays.compareUnsigned(a, at + HEADER, at + HEADER + keyLength(a, at), key, 0, key.length);
    }

    /** This leaf with {@code key} set to {@code value} (bytes or a {@link ValueRef}). */
    Leaf with(byte[] key, Object value) {
        int i = search(key);
        int at = i >= 0 ? i : -i - 1;
        long[] t;
        int size = this.size;
        if (i >= 0) {
            t = table.clone();
            size -= entrySize(i);
        } else {
            t = new long[table.length + 2];
            System.arraycopy(table, 0, t, 0, 2 * at);
            System.arraycopy(table, 2 * at, t, 2 * at + 2, table.length - 2 * at);
            t[2 * at] = prefix(key);
        }
        int length = entryLength(key, value);
        int offset = claim(length);
        if (offset >= 0) {
            write(arena, offset, key, value);
            t[2 * at + 1] = slot(offset, length);
            return new Leaf(this, t, arena, claimed, size + entrySize(arena, offset, length));
        }
        // no room: the live entries and the new one into a new arena (the new entry's slot is filled by the rebuild)
        t[2 * at + 1] = slot(0, length);
        byte[] fresh = new byte[liveBytes(t) + spare(liveBytes(t))];
        int end = 0;
        for (int j = 0; j < t.length >> 1; j++) {
            int n;
            if (j == at) {
                n = write(fresh, end, key, value);
                size += entrySize(fresh, end, n);
            } else {
                n = length(t[2 * j + 1]);
                System.arraycopy(arena, offset(t[2 * j + 1]), fresh, end, n);
            }
            t[2 * j + 1] = slot(end, n);
            end += n;
        }
        return new Leaf(this, t, fresh, new AtomicInteger(end), size);
    }

    /** This leaf without {@code key}; itself if it has no such key. */
    Leaf without(byte[] key) {
        int i = search(key);
        if (i < 0) {
            return this;
        }
        long[] t = new long[table.length - 2];
        System.arraycopy(table, 0, t, 0, 2 * i);
        System.arraycopy(table, 2 * i + 2, t, 2 * i, t.length - 2 * i);
        int size = this.size - entrySize(i);
        int live = liveBytes(t);
        if (arena.length > 4 * (live + MIN_SPARE)) { // mostly dead: let the dead bytes go
            return compacted(this, lo, hi, next, t, size);
        }
        return new Leaf(this, t, arena, claimed, size);
    }

    /**
     * The shortest key {@code s} with {@code key(m - 1) < s <= key(m)}: a prefix of {@code key(m)}, so
     * index nodes keep short separators (suffix truncation).
     */
    @Override
    byte[] separator(int m) {
        int left = offset(table[2 * m - 1]);
        int right = offset(table[2 * m + 1]);
        byte[] a = arena;
        int mismatch = Arrays.mismatch(a, left + HEADER, left + HEADER + keyLength(a, left), a, right + HEADER,
                right + HEADER + keyLength(a, right));
        // left < right: they differ at `mismatch`, or left is a proper prefix of right (mismatch = its length)
        return Arrays.copyOfRange(a, right + HEADER, right + HEADER + mismatch + 1);
    }

    @Override
    Leaf leftHalf(int m, byte[] separator, long rightPid) {
        return compacted(null, lo, separator, rightPid, Arrays.copyOfRange(table, 0, 2 * m),
                sizeOf(lo, separator, rightPid, 0, m));
    }

    @Override
    Leaf rightHalf(int m, byte[] separator) {
        return compacted(null, separator, hi, next, Arrays.copyOfRange(table, 2 * m, table.length),
                sizeOf(separator, hi, next, m, count()));
    }

    /**
     * A leaf with the entries of {@code t} (slots into this leaf's arena; rewritten) copied into a new arena
     * of their own; a version of {@code base} if given (same range and link), else a new node.
     */
    private Leaf compacted(Leaf base, byte[] newLo, byte[] newHi, long newNext, long[] t, int size) {
        int live = liveBytes(t);
        byte[] fresh = new byte[live + spare(live)];
        int end = 0;
        for (int j = 1; j < t.length; j += 2) {
            int n = length(t[j]);
            System.arraycopy(arena, offset(t[j]), fresh, end, n);
            t[j] = slot(end, n);
            end += n;
        }
        AtomicInteger claims = new AtomicInteger(end);
        return base != null ? new Leaf(base, t, fresh, claims, size) : new Leaf(newLo, newHi, newNext, t, fresh, claims, size);
    }

    /** Claims {@code length} bytes of the arena (see the class notes): their offset, or -1 if there is no room. */
    private int claim(int length) {
        while (true) {
            int at = claimed.get();
            if (at > arena.length - length) {
                return -1;
            }
            if (claimed.compareAndSet(at, at + length)) {
                return at;
            }
        }
    }

    /** Spare room of a new arena for {@code live} bytes of entries: half as much again, for the inserts to come. */
    private static int spare(int live) {
        return Math.max(live / 2, MIN_SPARE);
    }

    /** The bytes of the entries {@code t} points at. */
    private static int liveBytes(long[] t) {
        int bytes = 0;
        for (int j = 1; j < t.length; j += 2) {
            bytes += length(t[j]);
        }
        return bytes;
    }

    /** The bytes of this leaf's entries in its arena (dead bytes and spare room not counted). */
    int liveBytes() {
        return liveBytes(table);
    }

    @Override
    int minHalf() {
        return 1;
    }

    @Override
    int entrySize(int i) {
        long slot = table[2 * i + 1];
        return entrySize(arena, offset(slot), length(slot));
    }

    /** Encoded bytes of the entry at {@code at}, as {@link NodeFormat} writes it at most. */
    private static int entrySize(byte[] a, int at, int length) {
        int header = header(a, at);
        int keyLength = header & KEY_LENGTH_MASK;
        int valueSize;
        if ((header & REF_BIT) != 0) {
            int valueAt = at + HEADER + keyLength;
            valueSize = NodeFormat.varintLength((long) LONG_BE.get(a, valueAt) << 1 | 1)
                    + NodeFormat.varintLength((int) INT_BE.get(a, valueAt + Long.BYTES));
        } else {
            int valueLength = length - HEADER - keyLength;
            valueSize = NodeFormat.varintLength((long) valueLength << 1) + valueLength;
        }
        return NodeFormat.MAX_SHARED_LENGTH + NodeFormat.varintLength(keyLength) + keyLength + valueSize;
    }

    /** The arena bytes of the entry for {@code key} and {@code value} (bytes or a {@link ValueRef}). */
    private static int entryLength(byte[] key, Object value) {
        return HEADER + key.length + (value instanceof ValueRef ? REF_LENGTH : ((byte[]) value).length);
    }

    /** Writes the entry for {@code key} and {@code value} at {@code at}; returns its length. */
    private static int write(byte[] a, int at, byte[] key, Object value) {
        boolean ref = value instanceof ValueRef;
        int header = key.length | (ref ? REF_BIT : 0);
        a[at] = (byte) (header >>> 8);
        a[at + 1] = (byte) header;
        System.arraycopy(key, 0, a, at + HEADER, key.length);
        int valueAt = at + HEADER + key.length;
        if (ref) {
            LONG_BE.set(a, valueAt, ((ValueRef) value).pid());
            INT_BE.set(a, valueAt + Long.BYTES, ((ValueRef) value).length());
            return valueAt + REF_LENGTH - at;
        }
        byte[] bytes = (byte[]) value;
        System.arraycopy(bytes, 0, a, valueAt, bytes.length);
        return valueAt + bytes.length - at;
    }

    private static long slot(int offset, int length) {
        return (long) offset << 32 | (length & 0xFFFFFFFFL);
    }

    private static int offset(long slot) {
        return (int) (slot >>> 32);
    }

    private static int length(long slot) {
        return (int) slot;
    }

    private static int header(byte[] a, int at) {
        return ((a[at] & 0xFF) << 8) | (a[at + 1] & 0xFF);
    }

    private static int keyLength(byte[] a, int at) {
        return header(a, at) & KEY_LENGTH_MASK;
    }

    /** Writes entry {@code i}'s key from byte {@code from} on, and its value, as {@link NodeFormat} lays them out. */
    void encodeEntry(int i, int from, NodeFormat.Writer w) {
        long slot = table[2 * i + 1];
        int at = offset(slot);
        byte[] a = arena;
        int header = header(a, at);
        int keyLength = header & KEY_LENGTH_MASK;
        w.putVarint(keyLength - from);
        w.putBytes(a, at + HEADER + from, keyLength - from);
        int valueAt = at + HEADER + keyLength;
        if ((header & REF_BIT) != 0) {
            w.putVarint((long) LONG_BE.get(a, valueAt) << 1 | 1);
            w.putVarint((int) INT_BE.get(a, valueAt + Long.BYTES));
        } else {
            int end = at + length(slot);
            w.putVarint((long) (end - valueAt) << 1);
            w.putBytes(a, valueAt, end - valueAt);
        }
    }

    /** How many leading key bytes entry {@code i} shares with entry {@code i - 1} (0 for the first). */
    int sharedWithPrevious(int i) {
        if (i == 0) {
            return 0;
        }
        int left = offset(table[2 * i - 1]);
        int right = offset(table[2 * i + 1]);
        byte[] a = arena;
        int rightLength = keyLength(a, right);
        int mismatch = Arrays.mismatch(a, left + HEADER, left + HEADER + keyLength(a, left), a, right + HEADER,
                right + HEADER + rightLength);
        return mismatch < 0 ? rightLength : mismatch;
    }

    @Override
    public String toString() {
        return "Leaf[" + show(lo) + ".." + show(hi) + ", next=" + next + ", " + count() + " keys, ~" + size
                + " bytes, arena " + claimed.get() + " of " + arena.length + " bytes]";
    }
}
