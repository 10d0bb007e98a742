package dev.toboggan.core.log;

import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Which slot of the log file holds which segment, and which slots are free. New segments take the
 * lowest free slot, else extend the file. Guarded by {@code this}: touched once per segment, never per
 * message.
 */
public final class SegmentSlots {
    private final TreeMap<Long, Integer> slotOfSegment = new TreeMap<>();
    private final TreeSet<Integer> free = new TreeSet<>();
    private int slotCount;

    SegmentSlots(Map<Long, Integer> used, Iterable<Integer> freeSlots, int slotCount) {
        this.slotOfSegment.putAll(used);
        freeSlots.forEach(free::add);
        this.slotCount = slotCount;
    }

    synchronized int allocate(long segmentLsn) {
        Integer slot = free.pollFirst();
        int s = slot != null ? slot : slotCount++;
        slotOfSegment.put(segmentLsn, s);
        return s;
    }

    /** Segment LSN → slot of every live segment, in LSN order. */
    public synchronized Map<Long, Integer> segments() {
        return new TreeMap<>(slotOfSegment);
    }

    public synchronized int freeSlots() {
        return free.size();
    }
}
