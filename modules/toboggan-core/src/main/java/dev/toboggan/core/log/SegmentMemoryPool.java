package dev.toboggan.core.log;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fixed number of segment-sized direct buffers ({@code toboggan.io-buffers}), allocated on first
 * use. When all are filled and not yet written, {@link #tryAcquire()} answers {@code null} and the
 * writer that needs one helps the flusher instead: this is the log's backpressure.
 */
final class SegmentMemoryPool {
    private final int segmentSize;
    private final int capacity;
    private final AtomicInteger allocated = new AtomicInteger();
    private final ConcurrentLinkedQueue<SegmentMemory> free = new ConcurrentLinkedQueue<>();

    SegmentMemoryPool(int segmentSize, int capacity) {
        this.segmentSize = segmentSize;
        this.capacity = capacity;
    }

    /** A free buffer, or {@code null} if every buffer holds data not yet written. */
    SegmentMemory tryAcquire() {
        SegmentMemory m = free.poll();
        if (m != null) {
            return m;
        }
        while (true) {
            int n = allocated.get();
            if (n >= capacity) {
                return free.poll();
            }
            if (allocated.compareAndSet(n, n + 1)) {
                return new SegmentMemory(segmentSize);
            }
        }
    }

    void giveBack(SegmentMemory memory) {
        free.add(memory);
    }
}
