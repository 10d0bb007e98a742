package dev.toboggan;

import dev.toboggan.core.Backup;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * An open Toboggan store (from {@link Toboggan#open}): its default tree, and the named trees it holds.
 * Every tree of a store shares its log, its flushes and its batches' isolation.
 *
 * <p>Thread-safe. {@link #close()} waits for the writes in progress, makes everything durable, completes
 * every {@link Tree#watchPrefix watch} after its last events and releases the store; every call after it, on
 * the store or any of its trees, throws {@link IllegalStateException}.
 */
public interface Db extends Tree, AutoCloseable {
    /** The name of the default tree (which this {@code Db} is). */
    String DEFAULT_TREE = "__toboggan_default";

    /**
     * The tree named {@code name}, created if it does not exist. {@link #DEFAULT_TREE} names the default
     * tree. Cheap when the tree is open already.
     *
     * @throws IllegalArgumentException if {@code name} is {@code null}
     */
    Tree tree(String name);

    /** The names of every tree in the store, the default tree's included, sorted. */
    List<String> treeNames();

    /**
     * Removes the tree named {@code name} and everything in it, atomically (also across a crash). Its
     * {@link Tree} objects throw {@link IllegalStateException} from then on; {@link #tree} creates a new,
     * empty tree of that name.
     *
     * @return whether there was such a tree
     * @throws IllegalArgumentException for the default tree, which cannot be dropped
     */
    boolean dropTree(String name);

    /**
     * Renames the tree {@code from} to {@code to}, atomically (also across a crash), as POSIX {@code rename} does
     * files: if a tree named {@code to} exists, it is replaced, its entries gone and its pages freed in the same
     * change. So a tree rebuilt under a scratch name ({@link #buildTree}, or any writes) takes the place of the one
     * readers use in one step: they see the old entries or the new ones, never a mix nor an empty tree.
     *
     * <p>{@link Tree} objects of {@code to} read the new entries from then on; those of {@code from} throw
     * {@link IllegalStateException} ({@link #tree}{@code (to)} is the tree now), and its watches end. Writers of the
     * store wait while it runs, and when it replaces a tree, that tree's readers wait while its pages are freed,
     * as for a {@link Tree#clear}.
     *
     * @return whether it replaced a tree named {@code to}
     * @throws IllegalArgumentException if {@code from} is the default tree (which always exists: build a named
     *     tree of its entries instead) or equals {@code to}, a name is {@code null} or too long, or there is no
     *     tree {@code from}; nothing changed
     * @throws IllegalStateException if the tree {@code to} has watches (cancel them first: every key under them
     *     would change at once), or the store is closed; nothing changed
     */
    boolean renameTree(String from, String to);

    /**
     * Fills the tree named {@code name} with {@code ascending}'s entries, which come in strictly ascending key
     * order (unsigned bytes), bottom-up: each leaf is written once, full, and each index level is built from the
     * one below (LMDB's append, RocksDB's ingestion of a sorted file). Several times faster than inserting the
     * same entries, and the tree takes about its entries' size in the log at once, with nothing for the segment
     * cleaner to compact. Readers and writers of other trees go on meanwhile, and see the tree empty (or absent)
     * until the call returns; then it holds every entry at once, atomically, as an atomic batch's changes appear
     * (and as durable as one: {@link Tree#flush} makes it so, or the next periodic flush). A crash while it runs
     * leaves the tree as it was: what was built is freed when the store opens next.
     *
     * <p>The tree must not exist or be empty, without watches, when the call starts and when it ends (an entry
     * written into it meanwhile ends the build with nothing changed); build one tree under a name at a time.
     * The entries are checked as they come (a null, a key or value over the limits, a key out of order) and
     * copied, so an iterator may reuse its arrays. Nodes are full: the first insert into a leaf splits it (see
     * {@link #buildTree(String, Iterator, double)} for a tree that will get inserts among its entries).
     *
     * @param name the tree to fill; created if it does not exist
     * @param ascending the entries, in strictly ascending key order
     * @return the entries written
     * @throws IllegalArgumentException if {@code name} or {@code ascending} is null, or for an entry as above:
     *     the message names it; nothing changed in the store
     * @throws IllegalStateException if the tree has entries or watches (at the start or the end), another build
     *     of it runs, or the store is closed; nothing changed. What {@code ascending} throws reaches the caller,
     *     with nothing changed
     */
    default long buildTree(String name, Iterator<? extends Map.Entry<byte[], byte[]>> ascending) {
        return buildTree(name, ascending, 1);
    }

    /**
     * As {@link #buildTree(String, Iterator)}, each node filled only to {@code fill} of {@code node-split-size}
     * (B-tree builds' fill factor: PostgreSQL's {@code fillfactor}, InnoDB's {@code innodb_fill_factor}), so that
     * inserts among the built entries find room instead of splitting every leaf they land in at once. The tree
     * takes about 1 / {@code fill} as many pages.
     *
     * @param fill from 0.5 to 1; 1 is the two-argument build
     * @throws IllegalArgumentException for a {@code fill} out of that range (nothing changed), and as the
     *     two-argument build
     */
    long buildTree(String name, Iterator<? extends Map.Entry<byte[], byte[]>> ascending, double fill);

    /**
     * Applies each batch to the tree its name maps to, all of them atomically (sled's multi-tree
     * transactions, for writes): no single-key read in any of the trees sees some of the changes without the
     * others, and after a crash all of them are there or none. A tree that does not exist is created first
     * (as {@link #tree} does, a step of its own), if its batch holds a change. Other writers wait while it
     * runs, as for {@link #applyBatch}.
     *
     * @param batches tree name → the changes to make in that tree
     * @throws IllegalArgumentException if {@code batches} is null, or maps a null or invalid tree name, or a
     *     name to a null batch; nothing changed
     */
    void applyBatches(Map<String, Batch> batches);

    /**
     * Runs {@code body} as a serializable transaction over the store's trees and returns what it returned
     * (sled's {@code transaction}): the body reads and writes through the {@link Transaction} it is given;
     * its writes are made together, as one atomic batch, only if every key it read still holds what it read;
     * if not, the body runs again. To abort, throw from the body: nothing is written, and the exception
     * reaches the caller as it was thrown (see {@link Transaction} for when an exception is dropped instead).
     *
     * <p>Bodies run optimistically: other callers read and write while a body runs, and the commit holds
     * other writers back as {@link #applyBatch} does, for as long as it takes to check the reads and make the
     * writes. A transaction whose body had to run again {@value StoreTransaction#OPTIMISTIC_RUNS} times runs
     * once more with every other caller of the store held back until it commits, so it cannot starve; keep
     * bodies short. Writes are durable as other writes are: after the next flush ({@link #flush}).
     *
     * @return what {@code body} returned from the run that committed
     * @throws IllegalArgumentException if {@code body} is null
     * @throws IllegalStateException if called inside a transaction's body, or the store is closed
     */
    <R> R transaction(java.util.function.Function<? super Transaction, ? extends R> body);

    /**
     * A new id, higher than every id this store handed out before, in this run or an earlier one (crashes
     * included). Cheap: it writes a mark only every {@code toboggan.idgen-persist-interval} ids.
     */
    long generateId();

    /** Bytes the store takes on disk (its log and blob files). */
    long sizeOnDisk();

    /**
     * The store's counters and gauges since it was opened: cache, segment cleaner, log, page cache operations,
     * batches and readers, transactions (docs/operations.md, "Metrics"). Cheap enough to poll every second.
     */
    StoreMetrics metrics();

    /** Whether the store existed before it was opened (as opposed to being created by this open). */
    boolean wasRecovered();

    /** The store's directory. */
    Path directory();

    /**
     * Copies the store, as of this call, into {@code target} while it stays open and writers go on (an
     * online backup). The copy is a store directory: it holds every change that returned before this call,
     * and of later ones a prefix in log order; an atomic batch is whole in it or absent. Open it with
     * {@link Toboggan#open(Path)} (with the store's settings) or check it with {@code toboggan verify}. While it
     * copies, the segment cleaner frees nothing the copy has yet to read, so the store may grow by what is
     * overwritten meanwhile; the copy's writes share the disk with the store's. See docs/operations.md "Backup".
     *
     * @param target a directory that does not exist yet, outside the store's directory; its parent must exist
     * @return where the copy is, the log position it holds everything below, and the bytes copied
     * @throws IllegalArgumentException if {@code target} is null or exists, its parent does not, or it lies
     *     inside the store's directory; nothing was written
     * @throws dev.toboggan.core.StorageException if reading the store or writing the copy failed (a full disk
     *     at the target, say): what was written of the copy is removed, and the store is unchanged and open
     */
    Backup backup(Path target);

    /**
     * Writes every tree of the store, with its entries in key order, and where the store's id generator
     * stands, to the file {@code dump} (sled's {@code export}): a file in a layout of its own
     * (docs/format.md, "Dump file") that {@link Toboggan#importDump} makes a new store of, with this or a later
     * version of Toboggan, whatever on-disk format the store itself has. The dump holds the store as of one
     * moment, the start of the call: every change that returned before it, nothing made after it, and no half
     * of an atomic batch. Writers (and batches, transactions, drops) wait only while the page table is copied
     * (a bulk copy of its slots: well under a millisecond for a million entries), then go on while the dump is written; reads
     * never wait. While the dump is written the segment cleaner keeps the log's segments that hold pages that
     * were paged out at the start until the dump has read them, and every replaced large value's blob file
     * (what writers free there stays on disk meanwhile; they are not slowed for it), and the pages that were in
     * memory at the start stay there until the dump has passed them. The file appears under its name only when complete and forced;
     * until then it is a hidden {@code .NAME.partial} beside it.
     *
     * @param dump a file that does not exist yet, outside the store's directory; its directory must exist
     * @return what the dump holds
     * @throws IllegalArgumentException if {@code dump} is null or exists, its directory does not, or it lies
     *     inside the store's directory; nothing was written
     * @throws java.io.UncheckedIOException if writing the dump failed (a full disk, say): no dump is left
     *     behind, and the store is unchanged and open
     * @throws IllegalStateException if the store is closed, or is closed before the dump is written: no dump
     *     is left behind
     */
    Dump export(Path dump);

    /**
     * Every tree of the store as of this call, for reads that must all see one moment (a consistent report, a
     * scan that must agree with a point read, a copy made by hand): LMDB's read transaction, RocksDB's
     * snapshot. The snapshot holds every change that returned before this call and none made after it, and no
     * half of an atomic batch, in every tree at once; its reads never wait for writers nor hold them, and any
     * number of threads may use it. Taking it holds the store's writers (and batches, transactions, drops)
     * while the page table's slots are copied in bulk, well under a millisecond per million entries; reads are not held.
     *
     * <p>Close it (try-with-resources): until then it keeps the pages of its moment that were in memory (up to
     * about a cache's worth of heap beyond {@code cache-capacity} as writers replace them), and the log
     * segments and blob files its reads may need stay on disk (writers are not slowed for that space);
     * {@link #metrics} counts the open ones. For a few keys read and written together, a {@link #transaction}
     * is the lighter tool. See {@link Snapshot} and docs/operations.md "Snapshots".
     *
     * @throws IllegalStateException if the store is closed, or the call is made inside a transaction's body
     */
    Snapshot snapshot();

    /** Waits for writes in progress, makes everything durable and releases the store. Idempotent. */
    @Override
    void close();
}
