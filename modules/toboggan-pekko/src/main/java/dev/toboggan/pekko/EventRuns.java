package dev.toboggan.pekko;

import dev.toboggan.Tree;
import java.util.Collections;
import java.util.Iterator;
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

    /** The event {@code sequenceNr} of {@code numericId}, or {@code null} if it is not stored (deleted). */
    static PluginFormat.StoredEvent find(Tree tree, long numericId, long sequenceNr) {
        Iterator<PluginFormat.StoredEvent> events = from(tree, numericId, sequenceNr);
        if (events.hasNext()) {
            PluginFormat.StoredEvent event = events.next();
            if (event.sequenceNr() == sequenceNr) {
                return event;
            }
        }
        return null;
    }
}
