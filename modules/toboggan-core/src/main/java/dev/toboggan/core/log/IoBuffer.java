package dev.toboggan.core.log;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;

/**
 * A window of a segment's memory that writers fill concurrently and the flusher writes with one
 * positional write.
 *
 * <h2>Implementation notes</h2>
 * <b>The header word</b> packs the whole state into one {@code long}, so that every transition is one
 * CAS:
 * <pre>
 *  63      62     61..48   47..32    31..0
 *  sealed  maxed  (zero)   writers   offset (bytes reserved in this window)
 * </pre>
 * <b>States</b>: OPEN (not sealed) accepts reservations; SEALED accepts none and is written once its
 * writer count is 0. MAXED (only with SEALED) means the window is padded to the segment's end and the
 * log continues in a new segment; otherwise the log continues in a new window over the same memory.
 *
 * <p><b>Transitions</b> (each one named method, each one CAS):
 * <ul>
 *   <li>{@link #tryReserve}: OPEN, offset + n fits: offset += n, writers += 1. The linearization
 *       point of a reservation: its LSN is the window's LSN + the old offset.
 *   <li>{@link #exitWriter}: writers -= 1. The caller that takes writers to 0 in a SEALED window
 *       hands the window to the flusher.
 *   <li>{@link #seal}: OPEN → SEALED (+ MAXED). If writers was 0 the sealer hands the window over.
 * </ul>
 * Exactly one thread hands each window over: the one whose CAS moved the word to "sealed and no
 * writers", which happens once because neither bit flips back.
 *
 * <p><b>Memory</b>: a window owns one reference to its {@link SegmentMemory}, taken by whoever builds it
 * and dropped once the window is written; the segment's open chain owns one more (see SegmentMemory).
 *
 * <p><b>Visibility</b>: a writer's bytes (header, body and CRC) are written with plain puts BEFORE its
 * {@code exitWriter} CAS, and the flusher reads the word (through the hand-over, a concurrent queue)
 * after that CAS, so it never writes a message without its checksum.
 */
final class IoBuffer {
    static final long SEALED = 1L << 63;
    static final long MAXED = 1L << 62;
    static final long WRITER = 1L << 32;
    static final long WRITERS_MASK = 0xFFFFL << 32;
    static final long OFFSET_MASK = 0xFFFF_FFFFL;
    static final int MAX_WRITERS = 0xFFFF;

    private static final VarHandle HEADER;

    static {
        try {
            HEADER = MethodHandles.lookup().findVarHandle(IoBuffer.class, "header", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final SegmentMemory memory;
    /** Where this window starts in the segment. */
    final int base;
    /** LSN of the window's first byte. */
    final long lsn;
    /** LSN of the segment's first byte (its header). */
    final long segmentLsn;
    /** File offset of the window's first byte. */
    final long fileOffset;
    /** Bytes from {@link #base} to the end of the segment. */
    final int capacity;
    /** The offset at which this window's messages start: after the segment header in a first window. */
    final int dataStart;

    @SuppressWarnings("unused") // accessed through HEADER
    private volatile long header;

    IoBuffer(SegmentMemory memory, int base, long segmentLsn, long fileOffset, int segmentSize, int initialOffset) {
        this.memory = memory;
        this.base = base;
        this.segmentLsn = segmentLsn;
        this.lsn = segmentLsn + base;
        this.fileOffset = fileOffset;
        this.capacity = segmentSize - base;
        this.dataStart = initialOffset;
        this.header = initialOffset;
    }

    ByteBuffer bytes() {
        return memory.buffer();
    }

    long header() {
        return (long) HEADER.getAcquire(this);
    }

    static boolean isSealed(long h) {
        return (h & SEALED) != 0;
    }

    static boolean isMaxed(long h) {
        return (h & MAXED) != 0;
    }

    static int writers(long h) {
        return (int) ((h & WRITERS_MASK) >>> 32);
    }

    static int offset(long h) {
        return (int) (h & OFFSET_MASK);
    }

    /** Reserves {@code n} bytes after the offset in {@code expected}; fails if the word changed. */
    boolean tryReserve(long expected, int n) {
        return HEADER.compareAndSet(this, expected, expected + n + WRITER);
    }

    /** Leaves the window after writing. @return whether this caller must hand the window over */
    boolean exitWriter() {
        long h = (long) HEADER.getAndAdd(this, -WRITER) - WRITER;
        return isSealed(h) && writers(h) == 0;
    }

    /**
     * Seals the window if it is still open. A window that is not forced to the segment's end is sealed
     * only if it holds data, and is maxed anyway when less than the red zone is left after it.
     *
     * @return the header word after sealing, or 0 if it was sealed already or had nothing to seal
     */
    long seal(boolean toSegmentEnd) {
        while (true) {
            long h = header();
            if (isSealed(h) || (!toSegmentEnd && offset(h) == dataStart)) {
                return 0;
            }
            boolean maxed = toSegmentEnd || capacity - offset(h) < LogFormat.RED_ZONE;
            long sealed = h | SEALED | (maxed ? MAXED : 0);
            if (HEADER.compareAndSet(this, h, sealed)) {
                return sealed;
            }
        }
    }

    /** The LSN just past what this sealed window covers. */
    long endLsn(long sealedHeader, int segmentSize) {
        return isMaxed(sealedHeader) ? segmentLsn + segmentSize : lsn + offset(sealedHeader);
    }

    @Override
    public String toString() {
        long h = header();
        return "IoBuffer[lsn=" + lsn + ", offset=" + offset(h) + ", writers=" + writers(h) + (isSealed(h) ? ", sealed" : "")
                + (isMaxed(h) ? ", maxed" : "") + "]";
    }
}
