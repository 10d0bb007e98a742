package dev.toboggan.core.pagecache;

import java.util.Objects;

/**
 * Where a {@link Materializer} reads a page or a delta from: the body of one log message, read front to
 * back. Confined to one thread; it reads the array it wraps, without a copy.
 *
 * <p>Reading past the end of the body is an {@link IllegalArgumentException} saying how many bytes were
 * asked for and how many were left: a body is complete when its message is (the log checks length and
 * CRC), so running out means a bug or a format mismatch, never a short read.
 *
 * <p>The inverse of {@link BodyWriter}: {@link #readInt} and {@link #readLong} are little-endian,
 * {@link #readStopBit} reads the stop-bit varint.
 */
public final class BodyReader {
    private final byte[] data;
    private final int end;
    private int position;

    private BodyReader(byte[] data, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, data.length);
        this.data = data;
        this.position = offset;
        this.end = offset + length;
    }

    /** Reads all of {@code body}. */
    public static BodyReader of(byte[] body) {
        return new BodyReader(body, 0, body.length);
    }

    /** Reads {@code length} bytes of {@code body} from {@code offset}. */
    public static BodyReader of(byte[] body, int offset, int length) {
        return new BodyReader(body, offset, length);
    }

    /** The bytes not read yet. */
    public int remaining() {
        return end - position;
    }

    public byte readByte() {
        need(1, "a byte");
        return data[position++];
    }

    /** Fills {@code into}. */
    public void read(byte[] into) {
        read(into, 0, into.length);
    }

    public void read(byte[] into, int offset, int count) {
        need(count, count + " bytes");
        System.arraycopy(data, position, into, offset, count);
        position += count;
    }

    /** Four bytes, little-endian. */
    public int readInt() {
        need(4, "an int");
        int v = 0;
        for (int i = 0; i < 4; i++) {
            v |= (data[position++] & 0xFF) << (8 * i);
        }
        return v;
    }

    /** Eight bytes, little-endian. */
    public long readLong() {
        need(8, "a long");
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v |= (data[position++] & 0xFFL) << (8 * i);
        }
        return v;
    }

    /** A varint written by {@link BodyWriter#writeStopBit}. */
    public long readStopBit() {
        long v = 0;
        int shift = 0;
        while (true) {
            byte b = readByte();
            if (b >= 0) {
                if (b == 0 && shift > 0) {
                    return ~v; // a negative number's closing 0 byte
                }
                if (shift == 63 && b > 1) {
                    throw new IllegalArgumentException("a stop-bit number does not fit in 64 bits");
                }
                return v | (long) b << shift;
            }
            if (shift == 63) {
                throw new IllegalArgumentException("a stop-bit number is longer than 10 bytes");
            }
            v |= (long) (b & 0x7F) << shift;
            shift += 7;
        }
    }

    private void need(int count, String what) {
        if (count < 0 || count > end - position) {
            throw new IllegalArgumentException("reading " + what + " past the end of a body: " + (end - position)
                    + " bytes left");
        }
    }
}
