package dev.toboggan.core.io;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The bytes of one simulated file, either as the page cache sees them or as the disk holds them: a
 * growable array with doubling, so that tests pushing tens of megabytes through {@link SimulatedStorage}
 * copy each byte a small constant number of times.
 *
 * <p>Invariant: every array slot at or past {@link #length()} is zero. Growing the file (a write past
 * the end) therefore zero-fills the gap for free, and {@link #truncate} clears what it cuts.
 *
 * <p>Not thread-safe: the owning {@link SimulatedInode}'s monitor guards it.
 */
final class ByteImage {

    /** The largest array the JVM reliably allocates; a simulated file cannot grow past it. */
    static final int MAX_LENGTH = Integer.MAX_VALUE - 8;

    private byte[] bytes;
    private int length;

    ByteImage() {
        this(new byte[0], 0);
    }

    private ByteImage(byte[] bytes, int length) {
        this.bytes = bytes;
        this.length = length;
    }

    int length() {
        return length;
    }

    ByteImage copy() {
        return new ByteImage(Arrays.copyOf(bytes, length), length);
    }

    byte[] toArray() {
        return Arrays.copyOf(bytes, length);
    }

    byte get(int offset) {
        return bytes[offset];
    }

    void xor(int offset, byte mask) {
        bytes[offset] ^= mask;
    }

    /**
     * Copies {@code len} bytes of {@code src} to {@code position}, growing the image (and zero-filling
     * any gap) if the write ends past the current length. The caller has checked that
     * {@code position + len <= MAX_LENGTH}.
     */
    void write(long position, byte[] src, int len) {
        if (len == 0) {
            return;
        }
        int start = Math.toIntExact(position);
        int end = Math.addExact(start, len);
        ensureCapacity(end);
        System.arraycopy(src, 0, bytes, start, len);
        length = Math.max(length, end);
    }

    /** Copies bytes from {@code position} into {@code dst} until it is full or the image ends. */
    int read(long position, ByteBuffer dst) {
        if (position >= length) {
            return 0;
        }
        int start = (int) position;
        int n = Math.min(dst.remaining(), length - start);
        dst.put(bytes, start, n);
        return n;
    }

    /** Cuts the image to {@code size} bytes; a no-op if it is not longer. */
    void truncate(long size) {
        if (size < length) {
            // Clearing the cut bytes keeps the zero-past-length invariant that gap filling relies on.
            Arrays.fill(bytes, (int) size, length, (byte) 0);
            length = (int) size;
        }
    }

    private void ensureCapacity(int needed) {
        if (needed > bytes.length) {
            long doubled = Math.max(4096L, 2L * bytes.length);
            bytes = Arrays.copyOf(bytes, (int) Math.min(MAX_LENGTH, Math.max(needed, doubled)));
        }
    }
}
