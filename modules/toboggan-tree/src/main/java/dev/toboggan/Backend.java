package dev.toboggan;

import dev.toboggan.core.pagecache.PageCache;
import java.nio.file.Path;
import java.util.concurrent.CompletionStage;

/**
 * What a store's trees need from the engine underneath: the page cache, durability, and the end of its
 * life. {@link EngineBackend} is the engine with its actors; tests also run the trees on a bare page
 * cache, whose flushes are deterministic.
 */
interface Backend {

    PageCache<Node, Delta> pageCache();

    Path directory();

    /** Makes everything written so far durable; returns the bytes this call made durable. */
    long flush();

    /** As {@link #flush()}, completed with the stable log position, without blocking. */
    CompletionStage<Long> flushAsync();

    /**
     * Makes the log stable past {@code lsn}, a position reserved already (a {@link #flushAsync} of at least
     * that much); completed with the stable tip then. Never blocks, not even for room in a mailbox: a durable
     * watch's drain asks it from inside writes.
     */
    CompletionStage<Long> stableAsync(long lsn);

    /** Makes everything durable and releases the store. */
    void close();

    /** Drops the store without writing anything, as if the process died (after a simulated power loss). */
    void abandon();
}
