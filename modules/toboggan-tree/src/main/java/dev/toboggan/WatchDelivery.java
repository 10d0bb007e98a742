package dev.toboggan;

/** When a {@link Tree#watchPrefix watch} sends the event of a change. */
public enum WatchDelivery {
    /**
     * Once the change is in the tree: a read sees it. The store may still lose it in a crash, as any change
     * made after the last flush; the quickest, and what costs writers least.
     */
    APPLIED,
    /**
     * Once the change is durable: it survives a crash (with {@code toboggan.durability = fsync}, a power loss).
     * The watch asks the store's flusher to make its events' changes durable, so a stream of changes under a
     * durable watch is flushed about as often as the disk allows (group commit), and each event waits for its
     * flush. When writes outrun the disk (more than half the watch's buffer waits for a flush), the writer
     * whose change is past that waits until it is durable, as a flush would, instead of the watch overflowing:
     * the one way a watch holds writers back.
     */
    DURABLE
}
