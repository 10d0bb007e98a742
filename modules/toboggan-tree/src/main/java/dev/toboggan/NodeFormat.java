package dev.toboggan;

import dev.toboggan.core.pagecache.BodyReader;
import dev.toboggan.core.pagecache.BodyWriter;
import java.util.Arrays;

/**
 * The bytes of tree pages and deltas: the bodies of the log's node and link messages. Numbers are
 * unsigned LEB128 varints (7 bits per byte, low bits first, the high bit set on every byte but the last).
 * Part of the on-disk format: kinds and tags are only ever added.
 *
 * <pre>
 * leaf or index node (kind 1 = leaf, 2 = index)
 * +------+-------+--------------+-------------------+-------+----------------------------------------+
 * | kind | next  | lo           | hi                | count | count entries                          |
 * | byte | pid   | len, bytes   | len + 1, bytes    |       | shared, suffix len, suffix, payload    |
 * +------+-------+--------------+-------------------+-------+----------------------------------------+
 *   next: 0 = none (the last node of its level); hi: 0 = none (no upper bound)
 *   an entry's key = the first `shared` bytes of the previous key + the suffix (prefix compression)
 *   leaf payload:  len << 1, then len value bytes        (a value stored in the leaf)
 *              or  pid << 1 | 1, then len               (a value in a page of its own)
 *   index payload: child pid
 *
 * value page (kind 3)
 * +------+-----+-------------+
 * | kind | len | value bytes |
 * +------+-----+-------------+
 *
 * delta (tag 1 = put, 2 = remove, 3 = add child, 4 = remove child)
 * +-----+------------+--------------------------------------+
 * | tag | key        | put: leaf payload; add child: pid     |
 * |     | len, bytes | remove, remove child: nothing         |
 * +-----+------------+--------------------------------------+
 *   add child, remove child: the key is the child's separator
 *
 * meta page roots the trees name
 *   tree/&lt;name&gt;            the root node of tree &lt;name&gt;
 *   build/&lt;level&gt;/&lt;name&gt;  the first node of level &lt;level&gt; (0 = leaves) of a build of &lt;name&gt;
 *                          in progress ({@link BulkLoad}); a store that opens with one frees that level
 * </pre>
 *
 * <p>A page or delta is complete when its log message is (the log checks length and CRC), so decoding
 * only guards against a bug or a format mismatch: every length is checked against the bytes left, and a
 * violation is an {@link IllegalArgumentException} naming it.
 *
 * <p>Nodes and deltas are encoded into a thread's own array and handed to the page cache's
 * {@link BodyWriter} in one write (and decoded from one read).
 */
final class NodeFormat {
    static final byte LEAF = 1;
    static final byte INDEX = 2;
    static final byte VALUE = 3;
    static final byte PUT = 1;
    static final byte REMOVE = 2;
    static final byte ADD_CHILD = 3;
    static final byte REMOVE_CHILD = 4;

    /** At most the bytes of an entry's shared-prefix length: keys are at most {@link Tree#MAX_KEY_LENGTH}. */
    static final int MAX_SHARED_LENGTH = 3;
    /** At most the bytes of a node's entry count. */
    static final int MAX_COUNT_LENGTH = 5;
    /** A thread's encoding array larger than this is dropped after use rather than kept. */
    private static final int KEEP_BUFFER = 1 << 20;
    private static final ThreadLocal<Writer> WRITERS = ThreadLocal.withInitial(Writer::new);

    private NodeFormat() {}

    // ---------------------------------------------------------------- pages

    static void encodePage(Node node, BodyWriter out) {
        Writer w = writer();
        if (node instanceof ValuePage v) {
            w.putByte(VALUE);
            w.putVarint(v.value.length);
            w.flushTo(out);
            out.write(v.value);
            return;
        }
        TreeNode n = (TreeNode) node;
        w.putByte(n instanceof Leaf ? LEAF : INDEX);
        w.putVarint(n.next);
        w.putKey(n.lo);
        if (n.hi == null) {
            w.putVarint(0);
        } else {
            w.putVarint(n.hi.length + 1L);
            w.putBytes(n.hi, 0, n.hi.length);
        }
        w.putVarint(n.count());
        if (n instanceof Leaf leaf) {
            // Every entry's shared prefix first, then the entries: a leaf being consolidated or moved by the
            // cleaner is seldom in cache, and the first touch of each entry's array is a cache miss. A loop
            // that only compares keys (and reads a byte of each value) lets the CPU have many of those misses
            // in flight at once; encoding entry by entry (a varint, a copy, a varint, a copy) paid them one
            // after another.
            int count = leaf.count();
            int[] shared = w.sharedLengths(count);
            w.touched = leaf.sharedPrefixes(shared);
            for (int i = 0; i < count; i++) {
                w.putVarint(shared[i]);
                leaf.encodeEntry(i, shared[i], w);
            }
        } else {
            Index index = (Index) n;
            byte[] previous = TreeNode.NO_KEY;
            for (int i = 0; i < index.count(); i++) {
                byte[] key = index.keys[i];
                int shared = Math.max(0, Arrays.mismatch(previous, key));
                w.putVarint(shared);
                w.putVarint(key.length - shared);
                w.putBytes(key, shared, key.length - shared);
                w.putVarint(index.children[i]);
                previous = key;
            }
        }
        w.flushTo(out);
    }

    static Node decodePage(BodyReader in) {
        byte kind = in.readByte();
        if (kind == VALUE) {
            // One copy of a possibly large value: its length from the stream, its bytes in one read.
            long length = 0;
            for (int shift = 0; ; shift += 7) {
                byte b = in.readByte();
                length |= (long) (b & 0x7F) << shift;
                if (b >= 0 || shift > 56) {
                    break;
                }
            }
            if (length < 0 || length > in.remaining()) {
                throw new IllegalArgumentException("tree page: value of length " + length + " with " + in.remaining()
                        + " bytes left");
            }
            byte[] value = new byte[(int) length];
            in.read(value);
            return new ValuePage(value);
        }
        if (kind != LEAF && kind != INDEX) {
            throw new IllegalArgumentException("tree page: unknown kind " + kind);
        }
        Reader r = new Reader(in);
        long next = r.varint();
        byte[] lo = r.bytes(r.varint(), "lo");
        long hiLength = r.varint();
        byte[] hi = hiLength == 0 ? null : r.bytes(hiLength - 1, "hi");
        int count = r.length(r.varint(), "entry count");
        byte[][] keys = new byte[count][];
        Object[] values = kind == LEAF ? new Object[count] : null;
        long[] children = kind == INDEX ? new long[count] : null;
        byte[] previous = TreeNode.NO_KEY;
        for (int i = 0; i < count; i++) {
            long shared = r.varint();
            if (shared < 0 || shared > previous.length) {
                throw new IllegalArgumentException("tree page: entry " + i + " shares " + shared
                        + " bytes with a previous key of " + previous.length);
            }
            int suffix = r.length(r.varint(), "key");
            if (shared + suffix > Tree.MAX_KEY_LENGTH) {
                throw new IllegalArgumentException("tree page: entry " + i + " has a key of " + (shared + suffix)
                        + " bytes; keys are at most " + Tree.MAX_KEY_LENGTH);
            }
            byte[] key = Arrays.copyOf(previous, (int) shared + suffix);
            r.read(key, (int) shared, suffix);
            keys[i] = key;
            if (values != null) {
                values[i] = r.value();
            } else {
                children[i] = r.varint();
            }
            previous = key;
        }
        return values != null ? Leaf.of(lo, hi, next, keys, values) : Index.of(lo, hi, next, keys, children);
    }

    // ---------------------------------------------------------------- deltas

    static void encodeDelta(Delta delta, BodyWriter out) {
        Writer w = writer();
        if (delta instanceof Delta.Put put) {
            w.putByte(PUT);
            w.putKey(put.key());
            w.putValue(put.value());
        } else if (delta instanceof Delta.Remove remove) {
            w.putByte(REMOVE);
            w.putKey(remove.key());
        } else if (delta instanceof Delta.AddChild add) {
            w.putByte(ADD_CHILD);
            w.putKey(add.separator());
            w.putVarint(add.child());
        } else {
            w.putByte(REMOVE_CHILD);
            w.putKey(((Delta.RemoveChild) delta).separator());
        }
        w.flushTo(out);
    }

    static Delta decodeDelta(BodyReader in) {
        byte tag = in.readByte();
        Reader r = new Reader(in);
        return switch (tag) {
            case PUT -> new Delta.Put(r.bytes(r.varint(), "key"), r.value());
            case REMOVE -> new Delta.Remove(r.bytes(r.varint(), "key"));
            case ADD_CHILD -> new Delta.AddChild(r.bytes(r.varint(), "separator"), r.varint());
            case REMOVE_CHILD -> new Delta.RemoveChild(r.bytes(r.varint(), "separator"));
            default -> throw new IllegalArgumentException("tree delta: unknown tag " + tag);
        };
    }

    // ---------------------------------------------------------------- parts

    /** Bytes of the varint of {@code v} (non-negative). */
    static int varintLength(long v) {
        return Math.max(1, (64 - Long.numberOfLeadingZeros(v) + 6) / 7);
    }

    private static Writer writer() {
        Writer w = WRITERS.get();
        if (w.buffer.length > KEEP_BUFFER) {
            w = new Writer();
            WRITERS.set(w);
        }
        w.position = 0;
        return w;
    }

    /** A growable array that encodings are written into. Confined to its thread. */
    static final class Writer {
        byte[] buffer = new byte[256];
        int position;
        private int[] shared = new int[64];
        /** What {@link Leaf#sharedPrefixes} read to bring entries into cache, kept so that those reads stay. */
        int touched;

        /** A scratch array for the shared prefix lengths of a leaf's {@code count} entries. */
        int[] sharedLengths(int count) {
            if (shared.length < count) {
                shared = new int[Math.max(count, shared.length * 2)];
            }
            return shared;
        }

        void ensure(int more) {
            if (position + more > buffer.length) {
                buffer = Arrays.copyOf(buffer, Math.max(buffer.length * 2, position + more));
            }
        }

        void putByte(byte b) {
            ensure(1);
            buffer[position++] = b;
        }

        void putVarint(long v) {
            ensure(10);
            long rest = v;
            while ((rest & ~0x7FL) != 0) {
                buffer[position++] = (byte) (rest | 0x80);
                rest >>>= 7;
            }
            buffer[position++] = (byte) rest;
        }

        void putBytes(byte[] bytes, int offset, int length) {
            ensure(length);
            System.arraycopy(bytes, offset, buffer, position, length);
            position += length;
        }

        void putKey(byte[] key) {
            putVarint(key.length);
            putBytes(key, 0, key.length);
        }

        void putValue(Object value) {
            if (value instanceof byte[] bytes) {
                putVarint((long) bytes.length << 1);
                putBytes(bytes, 0, bytes.length);
            } else {
                ValueRef ref = (ValueRef) value;
                putVarint(ref.pid() << 1 | 1);
                putVarint(ref.length());
            }
        }

        void flushTo(BodyWriter out) {
            out.write(buffer, 0, position);
        }
    }

    /** The rest of a body, read in one go and parsed. */
    private static final class Reader {
        private final byte[] data;
        private int position;

        Reader(BodyReader in) {
            data = new byte[in.remaining()];
            in.read(data);
        }

        long varint() {
            long v = 0;
            for (int shift = 0; ; shift += 7) {
                if (position == data.length) {
                    throw new IllegalArgumentException("tree page: a number runs past the end of the body");
                }
                byte b = data[position++];
                v |= (long) (b & 0x7F) << shift;
                if (b >= 0) {
                    return v;
                }
                if (shift > 56) {
                    throw new IllegalArgumentException("tree page: a number is longer than 10 bytes");
                }
            }
        }

        /** {@code length} if the bytes left can hold it. */
        int length(long length, String what) {
            return length(length, what, data.length - position);
        }

        int length(long length, String what, long limit) {
            if (length < 0 || length > limit) {
                throw new IllegalArgumentException("tree page: " + what + " of length " + length + " with "
                        + (data.length - position) + " bytes left");
            }
            return (int) length;
        }

        byte[] bytes(long length, String what) {
            byte[] bytes = new byte[length(length, what)];
            read(bytes, 0, bytes.length);
            return bytes;
        }

        void read(byte[] into, int offset, int length) {
            System.arraycopy(data, position, into, offset, length);
            position += length;
        }

        Object value() {
            long head = varint();
            if ((head & 1) == 0) {
                return bytes(head >>> 1, "value");
            }
            return new ValueRef(head >>> 1, length(varint(), "referenced value", Integer.MAX_VALUE));
        }
    }
}
