package dev.toboggan.core;

/**
 * The port through which the lock-free core hands background work out. The engine implements it with
 * messages to its actors; core tests implement it with a thread or a deterministic scheduler.
 *
 * <p>Every method is called on a writer's thread at most once per unit of batched work (a whole IO
 * buffer, never a single operation), must return at once, and must not run the work in the calling
 * thread: the caller may hold a reservation that the work waits for.
 */
public interface Background {

    /** Sealed IO buffers are waiting to be written: run the log's flush work soon. */
    void flushNeeded();

    /**
     * About {@code count} changes were logged since the last snapshot began: take one soon if that is
     * many. Told on about one change in a thousand, never on each.
     */
    default void operationsLogged(long count) {}

    /**
     * The page cache is over its capacity, or its access buffers are filling: run its eviction work
     * ({@link dev.toboggan.core.pagecache.CacheEvictor#run()}) soon. Called on reads and writes, so it
     * must coalesce (at most one request in flight) and return at once.
     *
     * @return whether somebody will run it; {@code false} (the default): the caller runs it when it must
     *     wait for room
     */
    default boolean evictionNeeded() {
        return false;
    }

    /**
     * The log filled a segment and moved on to the next: the segment cleaner may have work. Told once per
     * segment, never per message.
     */
    default void segmentFilled() {}

    /**
     * A reader that kept segments and blobs from the segment cleaner (a backup's copy, an export's walk, a
     * snapshot) let them go: what the cleaner found empty meanwhile and kept may be freed now. Told at such a
     * reader's end, only if the cleaner had kept something: a store that writes nothing more would otherwise keep
     * that space until its next filled segment.
     */
    default void retentionEnded() {}

    /** A port that schedules nothing: whoever waits for durability drives the flush work itself. */
    Background NONE = () -> {};
}
