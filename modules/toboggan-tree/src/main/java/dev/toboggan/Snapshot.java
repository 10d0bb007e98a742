package dev.toboggan;

import java.util.List;

/**
 * Every tree of a store as of one moment ({@link Db#snapshot}): LMDB's read transaction, RocksDB's snapshot.
 * Its reads (this object is the default tree's view; {@link #tree} another's) see every change made before
 * the moment and none made after it, in every tree at once, however long the reads take and whatever writers,
 * clears, drops and renames do meanwhile; they never wait for writers nor hold them.
 *
 * <p>What it holds until {@link #close}: the versions of the pages of its moment that were in memory then stay
 * reachable (as writers replace them, up to about the cache's worth of heap more, beyond
 * {@code cache-capacity}); the log segments holding pages paged out then, and the blob files of long values
 * replaced since, stay on disk (writers are not slowed for that space; the cleaner frees it after the close).
 * So close each snapshot, with try-with-resources; one left open keeps that memory and disk until it is closed
 * ({@link StoreMetrics.Snapshots}: how many are open, the oldest one's age). One dropped unclosed is closed by
 * the store once the garbage collector finds it unreachable, with a warning in the log (a safety net: until
 * then it keeps what it holds); holding one of its trees or iterators holds it. A page that was paged out at
 * the moment and is unchanged since is read through the cache, as a live read would (brought in once); one
 * changed since is read from the log at each read.
 *
 * <p>Taking one holds the store's writers while the page table's slots are copied in bulk (0.15–0.2 ms for a
 * million 16-byte keys with 100-byte values once warm, a few milliseconds the first time); readers are not
 * held.
 *
 * <p>Thread-safe: any number of threads may read one snapshot, each with iterators of its own. After its close,
 * or the store's (which closes the snapshots still open), every call throws {@link IllegalStateException}
 * (iterators too, at their next leaf).
 */
public interface Snapshot extends ReadableTree, AutoCloseable {
    /**
     * The tree named {@code name} as of the snapshot's moment; a tree that did not exist then reads as empty.
     *
     * @throws IllegalArgumentException if {@code name} is not a valid tree name
     * @throws IllegalStateException if the snapshot or the store is closed
     */
    ReadableTree tree(String name);

    /** The names of the trees that existed at the snapshot's moment, sorted. */
    List<String> treeNames();

    /** Lets go of what the snapshot holds (see the class notes); idempotent. */
    @Override
    void close();
}
