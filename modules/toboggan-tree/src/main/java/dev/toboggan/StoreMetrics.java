package dev.toboggan;

import dev.toboggan.core.log.LogStats;
import dev.toboggan.core.pagecache.CacheStats;
import dev.toboggan.core.pagecache.PageCacheMetrics;
import dev.toboggan.core.pagecache.SegmentCleaning;

/**
 * A store's counters and gauges since it was opened ({@link Db#metrics}), each part read on its own (not one
 * moment for all). docs/operations.md, "Metrics", says what to watch and what each figure tells.
 *
 * @param sizeOnDisk bytes of the log and blob files now
 * @param cache the page cache's residency: capacity, resident bytes, hits, misses, evictions
 * @param cleaner the segment cleaner's counters and the gauges of its last pass (space amplification, how far
 *     the store is over its budget, writes it delayed or held)
 * @param log the log's counters: windows and bytes written, fsyncs, failed flushes, waits for an IO buffer
 * @param pageCache counts and latency histograms of the page cache's operations
 * @param concurrency how batches, structure changes and readers met ({@link Concurrency})
 * @param transactions what {@link Db#transaction} did ({@link Transactions})
 * @param watches what the trees' watches ({@link Tree#watchPrefix}) did ({@link Watches})
 * @param snapshots the snapshots ({@link Db#snapshot}) open now, and how many were taken ({@link Snapshots})
 */
public record StoreMetrics(long sizeOnDisk, CacheStats cache, SegmentCleaning.Metrics cleaner, LogStats log,
        PageCacheMetrics.Snapshot pageCache, Concurrency concurrency, Transactions transactions, Watches watches,
        Snapshots snapshots) {

    /**
     * @param batches atomic batches applied in memory ({@code applyBatch}, {@code applyBatches}, transactions'
     *     commits that wrote)
     * @param structureChanges merges of underfull nodes' passes, clears, tree drops, renames onto a tree, builds
     *     replacing an empty tree's root, and each open tree at the close: each made the readers of its tree in
     *     flight read again
     * @param readsThatWaitedForABatch reads (gets, a scan's leaf) that read a page a batch was changing and
     *     waited for it to end
     */
    public record Concurrency(long batches, long structureChanges, long readsThatWaitedForABatch) {}

    /**
     * @param committed transactions whose writes were made (or that wrote nothing and returned)
     * @param aborted transactions whose body threw, so nothing was written
     * @param runsDropped runs of a body dropped because a key it read changed before its commit (or because
     *     it threw on a view that was never current): each such run was run again
     * @param ranAlone transactions that conflicted {@value StoreTransaction#OPTIMISTIC_RUNS} times and then ran
     *     alone, holding other writers back while their body ran
     */
    public record Transactions(long committed, long aborted, long runsDropped, long ranAlone) {}

    /**
     * @param open watches registered now, over the open trees
     * @param events events handed to the watches' subscribers (each event once per watch)
     * @param overflowed watches ended with {@link WatchOverflowException}: their subscriber fell behind
     * @param writersHeld times a writer waited for its change to become durable because writes outran the disk
     *     under a {@link WatchDelivery#DURABLE durable} watch (more than half its buffer waited for a flush)
     */
    public record Watches(int open, long events, long overflowed, long writersHeld) {}

    /**
     * RocksDB's {@code num-snapshots} and {@code oldest-snapshot-time}: an open snapshot keeps its moment's pages
     * in memory and the log segments its reads may need on disk, so one that stays open is what to look for when
     * the cleaner's {@code segmentsKeptForBackups} stays up.
     *
     * @param open snapshots open now (taken, and neither closed nor ended by the store's close or as dropped)
     * @param taken snapshots taken since the store was opened
     * @param dropped snapshots that became unreachable without being closed, which the store then closed (each
     *     with a warning in the log): a count that grows is a snapshot not closed on some path of the caller
     * @param oldestOpenMillis how long the oldest open snapshot has been open, 0 if none is
     */
    public record Snapshots(int open, long taken, long dropped, long oldestOpenMillis) {}
}
