package dev.toboggan.pekko;

import dev.toboggan.Tree;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Reads a persistence id's events out of its event runs ({@link PluginFormat#EVENT}): a forward range scan
 * from the run key of the first wanted sequence number meets the run holding it first, since runs are keyed
 * by their last sequence number. Weakly consistent like the tree's iterators: events written or deleted
 * while it runs are seen or not, a run whole or not at all.
 */
final class EventRuns {
    private EventRuns() {}

    /**
     * The events of {@code numericId} with sequence numbers from {@code fromSequenceNr} on, in increasing
     * sequence number order, each at most once.
     */
    static Iterator<PluginFormat.StoredEvent> from(Tree tree, long numericId, long fromSequenceNr) {
        Iterator<Map.Entry<byte[], byte[]>> runs = tree.range(
                PluginFormat.eventKey(numericId, Math.max(fromSequenceNr, 0)), PluginFormat.eventKeyEnd(numericId));
        return new Iterator<>() {
            private Iterator<PluginFormat.StoredEvent> run = Collections.emptyIterator();
            private PluginFormat.StoredEvent next;
            /** Only events above this are delivered: in increasing order, never one twice. */
            private long floor = Math.max(fromSequenceNr, 0) - 1;

            @Override
            public boolean hasNext() {
                while (next == null) {
                    if (run.hasNext()) {
                        PluginFormat.StoredEvent event = run.next();
                        if (event.sequenceNr() > floor) {
                            next = event;
                            floor = event.sequenceNr();
                        }
                    } else if (runs.hasNext()) {
                        run = PluginFormat.decodeEventRun(runs.next().getValue()).iterator();
                    } else {
                        return false;
                    }
                }
                return true;
            }

            @Override
            public PluginFormat.StoredEvent next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                PluginFormat.StoredEvent event = next;
                next = null;
                return event;
            }
        };
    }

    /**
     * Finds single events (those a tag's entries point to), keeping the last run it decoded of each
     * persistence id, so that the events of one run read in turn, even interleaved with other persistence
     * ids' as a tag's are, decode it once. Not thread-safe; use one per read of a bounded number of events
     * and drop it, so that what it keeps is no older than the read.
     */
    static final class Finder {
        private final Tree tree;
        private final Map<Long, List<PluginFormat.StoredEvent>> lastRuns = new HashMap<>();

        Finder(Tree tree) {
            this.tree = tree;
        }

        /** The event {@code sequenceNr} of {@code numericId}, or {@code null} if it is not stored (deleted). */
        PluginFormat.StoredEvent find(long numericId, long sequenceNr) {
            List<PluginFormat.StoredEvent> run = lastRuns.get(numericId);
            if (run == null || run.isEmpty() || sequenceNr < run.get(0).sequenceNr()
                    || sequenceNr > run.get(run.size() - 1).sequenceNr()) {
                Iterator<Map.Entry<byte[], byte[]>> runs = tree.range(
                        PluginFormat.eventKey(numericId, sequenceNr), PluginFormat.eventKeyEnd(numericId));
                run = runs.hasNext() ? PluginFormat.decodeEventRun(runs.next().getValue()) : List.of();
                lastRuns.put(numericId, run);
            }
            int low = 0;
            int high = run.size() - 1;
            while (low <= high) {
                int middle = (low + high) >>> 1;
                long found = run.get(middle).sequenceNr();
                if (found < sequenceNr) {
                    low = middle + 1;
                } else if (found > sequenceNr) {
                    high = middle - 1;
                } else {
                    return run.get(middle);
                }
            }
            return null;
        }
    }
}
