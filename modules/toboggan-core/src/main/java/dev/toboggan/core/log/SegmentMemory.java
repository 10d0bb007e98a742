package dev.toboggan.core.log;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The direct memory of one segment, shared by the {@link IoBuffer} windows that fill it. It goes back
 * to the {@link SegmentMemoryPool} when its last window has been written.
 *
 * <p>Writers use absolute puts only, on disjoint ranges, so the shared {@link ByteBuffer}'s position
 * and limit are never touched concurrently; IO uses duplicates.
 *
 * <p>The memory is a plain direct {@code ByteBuffer} that the garbage collector frees once the log is
 * gone, never freed explicitly: a {@code Reservation} completed after {@code close()} (a caller's bug)
 * must get an exception, not write into freed memory and crash the JVM.
 */
final class SegmentMemory {
    private final ByteBuffer buffer;
    /**
     * References: one per window of the current segment not yet written, plus one for the segment's
     * chain of windows while it is open (until a seal to the segment's end). The chain's reference keeps
     * the count above 0 while a sealer builds the next window, so a window written meanwhile can never
     * free the memory under it. The memory is free when the count drops to 0.
     */
    private final AtomicInteger references = new AtomicInteger();

    SegmentMemory(int size) {
        this.buffer = LogFormat.le(ByteBuffer.allocateDirect(size));
    }

    ByteBuffer buffer() {
        return buffer;
    }

    void retain() {
        references.incrementAndGet();
    }

    /** @return whether this was the last reference, so the memory is free again */
    boolean release() {
        return references.decrementAndGet() == 0;
    }
}
