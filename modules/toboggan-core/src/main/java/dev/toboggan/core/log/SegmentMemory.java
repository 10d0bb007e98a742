package dev.toboggan.core.log;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import net.openhft.chronicle.bytes.BytesStore;

/**
 * The direct memory of one segment, shared by the {@link IoBuffer} windows that fill it. It goes back
 * to the {@link SegmentMemoryPool} when its last window has been written.
 *
 * <p>Writers use absolute puts only, on disjoint ranges, so the shared {@link ByteBuffer}'s position
 * and limit are never touched concurrently; IO uses duplicates.
 */
final class SegmentMemory {
    private final BytesStore<?, ByteBuffer> store;
    private final ByteBuffer buffer;
    /** Windows of the current segment not yet written; the memory is free when it drops to 0. */
    private final AtomicInteger unwrittenWindows = new AtomicInteger();

    SegmentMemory(int size) {
        this.store = BytesStore.wrap(ByteBuffer.allocateDirect(size));
        this.buffer = LogFormat.le(store.underlyingObject());
    }

    ByteBuffer buffer() {
        return buffer;
    }

    /** A new window of the segment now using this memory. */
    void windowOpened() {
        unwrittenWindows.incrementAndGet();
    }

    /** @return whether this was the last unwritten window, so the memory is free again */
    boolean windowWritten() {
        return unwrittenWindows.decrementAndGet() == 0;
    }

    void release() {
        store.releaseLast();
    }
}
