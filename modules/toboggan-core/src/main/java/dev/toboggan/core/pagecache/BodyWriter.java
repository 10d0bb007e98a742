package dev.toboggan.core.pagecache;

import java.util.Arrays;

/**
 * Where a {@link Materializer} writes a page or a delta: a growable array that becomes the body of one
 * log message. Confined to one thread.
 *
 * <p>The page cache keeps one per thread and clears it before each encoding, so encoding allocates
 * nothing once the array has grown to the largest body the thread writes. Plain JDK code on purpose: the
 * first open of a store in a JVM must not wait for a buffer library to initialize (Chronicle Bytes took
 * 0.25–0.35 s of it, see docs/architecture.md).
 *
 * <p>Numbers: {@link #writeInt} and {@link #writeLong} are little-endian; {@link #writeStopBit} is the
 * stop-bit (LEB128) varint, for which {@link BodyReader#readStopBit} is the inverse.
 */
public final class BodyWriter {
    private static final int INITIAL = 256;

    private byte[] buffer;
    private int length;

    public BodyWriter() {
        this(INITIAL);
    }

    BodyWriter(int capacity) {
        buffer = new byte[capacity];
    }

    /** Writes the low 8 bits of {@code b}. */
    public void writeByte(int b) {
        ensure(1);
        buffer[length++] = (byte) b;
    }

    public void write(byte[] bytes) {
        write(bytes, 0, bytes.length);
    }

    public void write(byte[] bytes, int offset, int count) {
        ensure(count);
        System.arraycopy(bytes, offset, buffer, length, count);
        length += count;
    }

    /** Four bytes, little-endian. */
    public void writeInt(int v) {
        ensure(4);
        for (int i = 0; i < 4; i++) {
            buffer[length++] = (byte) (v >>> (8 * i));
        }
    }

    /** Eight bytes, little-endian. */
    public void writeLong(long v) {
        ensure(8);
        for (int i = 0; i < 8; i++) {
            buffer[length++] = (byte) (v >>> (8 * i));
        }
    }

    /**
     * A stop-bit varint: 7 bits per byte, low bits first, the high bit set on every byte but the last (1
     * byte below 128, at most 10). A negative {@code v} is written as {@code ~v} whose last byte carries the
     * high bit too, followed by a 0 byte; the layout Chronicle Bytes' {@code writeStopBit} used, so bodies
     * written before are read alike.
     */
    public void writeStopBit(long v) {
        ensure(11);
        long rest = v < 0 ? ~v : v;
        while ((rest & ~0x7FL) != 0) {
            buffer[length++] = (byte) (rest | 0x80);
            rest >>>= 7;
        }
        if (v < 0) {
            buffer[length++] = (byte) (rest | 0x80);
            buffer[length++] = 0;
        } else {
            buffer[length++] = (byte) rest;
        }
    }

    /** The bytes written since the writer was made or cleared. */
    public int length() {
        return length;
    }

    /** A copy of the bytes written. */
    public byte[] toByteArray() {
        return Arrays.copyOf(buffer, length);
    }

    /** The backing array: its first {@link #length()} bytes are the body. Valid until the next write. */
    byte[] array() {
        return buffer;
    }

    int capacity() {
        return buffer.length;
    }

    void clear() {
        length = 0;
    }

    private void ensure(int more) {
        if (more > buffer.length - length) {
            long wanted = Math.max(2L * buffer.length, (long) length + more);
            if (wanted > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("a page or delta of more than " + (Integer.MAX_VALUE - 8)
                        + " bytes cannot be encoded; " + length + " bytes were written and " + more + " more asked for");
            }
            buffer = Arrays.copyOf(buffer, (int) wanted);
        }
    }
}
