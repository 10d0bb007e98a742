package dev.toboggan.core.log;

import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Which slot of the log file holds which segment, and which slots are free. New segments take the
 * lowest free slot, else extend the file; the segment cleaner gives slots back ({@link #release}) and
 * cuts free slots off the file's end ({@link #trimFreeTail}). Guarded by {@code this}: touched once per
 * segment, never per message.
 *
 * <p>Slots are not in LSN order once the cleaner has given some back: a reused slot holds a segment
 * newer than the slots after it. Recovery orders segments by the base LSN in their headers, never by
 * slot, so this is only a matter of where the bytes are.
 */
public final class SegmentSlots {
    private final TreeMap<Long, Integer> slotOfSegment = new TreeMap<>();
    private final TreeSet<Integer> free = new TreeSet<>();
    private int slotCount;
    /** Segments holding a slot; written under the lock, read without it (the space gate, once per change). */
    private volatile int inUse;

    SegmentSlots(Map<Long, Integer> used, Iterable<Integer> freeSlots, int slotCount) {
        this.slotOfSegment.putAll(used);
        freeSlots.forEach(free::add);
        this.slotCount = slotCount;
        this.inUse = slotOfSegment.size();
    }

    synchronized int allocate(long segmentLsn) {
        Integer slot = free.pollFirst();
        int s = slot != null ? slot : slotCount++;
        slotOfSegment.put(segmentLsn, s);
        inUse = slotOfSegment.size();
        return s;
    }

    /** The slot of the segment at {@code segmentLsn}, or -1 if no slot holds it. */
    synchronized int slotOf(long segmentLsn) {
        Integer slot = slotOfSegment.get(segmentLsn);
        return slot == null ? -1 : slot;
    }

    /** Gives the slot of a segment nothing needs any more back for reuse. */
    synchronized void release(long segmentLsn) {
        Integer slot = slotOfSegment.remove(segmentLsn);
        if (slot == null) {
            throw new IllegalStateException("segment LSN " + segmentLsn + " holds no slot");
        }
        free.add(slot);
        inUse = slotOfSegment.size();
    }

    /** Segments holding a slot (a volatile read, no lock). */
    int inUse() {
        return inUse;
    }

    /**
     * Removes the free slots at the end of the file from the free list and runs {@code truncate} with the
     * new file length, all under this lock, so no writer can take one of those slots meanwhile.
     *
     * @return the number of slots cut off
     */
    synchronized int trimFreeTail(int segmentSize, Truncation truncate) throws java.io.IOException {
        int before = slotCount;
        while (slotCount > 0 && free.contains(slotCount - 1)) {
            slotCount--;
        }
        if (slotCount == before) {
            return 0;
        }
        try {
            truncate.to((long) slotCount * segmentSize);
        } catch (java.io.IOException | RuntimeException e) {
            slotCount = before; // the slots stay free inside the file; the next trim tries again
            throw e;
        }
        free.tailSet(slotCount).clear();
        return before - slotCount;
    }

    /** Cuts the log file to a length, inside {@link #trimFreeTail}. */
    @FunctionalInterface
    interface Truncation {
        void to(long length) throws java.io.IOException;
    }

    /** Segment LSN → slot of every live segment, in LSN order. */
    public synchronized Map<Long, Integer> segments() {
        return new TreeMap<>(slotOfSegment);
    }

    public synchronized int freeSlots() {
        return free.size();
    }

    /** Slots the file spans: used, free, or allocated but not written yet. */
    public synchronized int slotCount() {
        return slotCount;
    }
}
