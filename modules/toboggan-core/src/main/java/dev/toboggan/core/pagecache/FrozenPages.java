package dev.toboggan.core.pagecache;

import dev.toboggan.core.log.Log;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The page table as of one moment, read while writers change the live table. Two uses: a walk
 * ({@link PageCache#freeze}), one reader taking each page once, which lets what it passed go (the tree's
 * export reads every tree of a store as of one moment this way without holding its writers for the walk);
 * and shared reads ({@link PageCache#freezeShared}), any number of threads reading any page any number of
 * times until the view is closed (the tree's snapshots).
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>What is held</b>: each page id's entry as the freeze read it (a resident {@link Page} or a paged-out
 *       locations array), for every id handed out by then. Entries are immutable, so holding one is holding
 *       that version: a resident page's value stays in memory until it is taken, a paged-out one names its
 *       fragments in the log.
 *   <li><b>One moment</b>: the freeze reads the slots one after another, so the copy is of one moment only if
 *       no page's content changes while it reads: the caller's duty. The page cache's own moves may run
 *       meanwhile (the cleaner's relocation, the Evictor's page-out, a reader's page-in): they change where a
 *       version is or whether it is resident, never its content, so whichever entry the copy took holds that
 *       page's content of the moment.
 *   <li><b>Locations stay readable</b>: the {@link Log.Retention} taken before the first slot is read keeps
 *       every segment and blob, so a page the copy holds paged out may be moved by the cleaner afterwards, but
 *       the bytes at the locations the copy took are neither freed nor reused (and bytes below the log's
 *       reserved tip are never written again). Only the paged-out entries' fragments are ever read, so the
 *       first read (after the caller has let its writers go) counts, per segment, the fragments of
 *       paged-out entries in it and narrows the retention to those segments. In a walk each take of a
 *       paged-out entry counts its fragments off, and a segment whose count reaches zero is released; shared
 *       reads keep those segments until {@link #close}. A store whose pages were all resident keeps no segment
 *       from then on; blobs stay kept until {@link #close}.
 *   <li><b>Reading</b>: a resident page's value is returned as held. A walk reads a paged-out page with the
 *       cache's own decoding and merging ({@link PageCache#readValue}) and installs it nowhere (an export of a
 *       cold store must not sweep the cache). Shared reads of a page paged out at the freeze go through the
 *       cache while the live slot still holds that version ({@link PageCache#readFrozen}: paged in as a
 *       {@code get} would, so an unchanged page, an index node say, is read from the log once); a page changed
 *       or moved since is read from the log at each read, installed nowhere.
 *   <li><b>Threads</b>: a walk has one reader and is not thread safe; {@link #take} lets the entry go, so the
 *       memory held falls as the walk goes on. Shared reads run on any threads: the slots are written only
 *       before the view is published (final fields) and by {@link #close}, which empties them. A read of a
 *       resident entry takes no lock (it sees the entry or the emptied slot, and refuses then); a read from the
 *       log holds the read side of {@code logReads}, whose write side {@link #close} takes before it lets the
 *       retention go, so no read of the log runs once the cleaner may free what it reads.
 * </ul>
 *
 * @param <P> the page type of the cache
 */
public final class FrozenPages<P> implements AutoCloseable {
    /** What a slot holds once its page was taken. */
    private static final Object TAKEN = new Object();

    private final PageCache<P, ?> cache;
    private final Object[][] chunks;
    private final long next;
    private final Log.Retention retention;
    /** Whether this view is read by {@link #read} (shared) rather than walked by {@link #take}. */
    private final boolean shared;
    /** Read side: a read from the log; write side: {@link #close} (see the class notes). */
    private final ReentrantReadWriteLock logReads = new ReentrantReadWriteLock();
    /**
     * Per segment (base LSN), fragments of paged-out entries not taken yet; {@code null} before the first read.
     * Written under {@code this} (by the first read), read by the thread that wrote it or, for shared reads,
     * only tested for {@code null} after a volatile read of it.
     */
    private volatile Map<Long, int[]> fragmentsBySegment;
    private volatile boolean closed;

    FrozenPages(PageCache<P, ?> cache, Object[][] chunks, long next, Log.Retention retention, boolean shared) {
        this.cache = cache;
        this.chunks = chunks;
        this.next = next;
        this.retention = retention;
        this.shared = shared;
    }

    /**
     * The page {@code pid} as it was at the freeze, read from the log if it was paged out; each page once.
     *
     * @return its value, or {@code null} if it was free or never written then
     * @throws IllegalArgumentException if {@code pid} is reserved or was not handed out by the freeze
     * @throws IllegalStateException if the page was taken already, the view is closed, or the store was closed
     *     since the freeze
     * @throws dev.toboggan.core.StorageException if reading it from the log failed
     */
    @SuppressWarnings("unchecked")
    public P take(long pid) {
        if (shared) {
            throw new IllegalStateException("this frozen view is read by many (freezeShared): read pages, do not take them");
        }
        Object[] chunk = chunkOf(pid);
        int slot = (int) (pid & (PageTable.L2_SIZE - 1));
        Object entry = chunk[slot];
        if (entry == TAKEN) {
            throw new IllegalStateException("page " + pid + " was taken from this frozen view already");
        }
        chunk[slot] = TAKEN;
        if (entry == null || Page.isFree(entry)) {
            return null;
        }
        if (entry instanceof Page<?> page) {
            return (P) page.value;
        }
        long[] locations = (long[]) entry;
        P value = readLogged(pid, locations);
        for (int i = 0; i < Page.fragmentCount(locations); i++) {
            long segment = log().segmentOf(Page.fragmentLsn(locations, i));
            int[] left = fragmentsBySegment.get(segment);
            if (--left[0] == 0) {
                fragmentsBySegment.remove(segment);
                retention.release(segment);
            }
        }
        return value;
    }

    /**
     * The page {@code pid} as it was at the freeze, read from the log if it was paged out then (again at each
     * read: nothing read from the log is kept); from any thread, any number of times, until the view is closed.
     *
     * @return its value, or {@code null} if it was free or never written then
     * @throws IllegalArgumentException if {@code pid} is reserved or was not handed out by the freeze
     * @throws IllegalStateException if this view is a walk ({@link PageCache#freeze}), is closed, or the store
     *     was closed since the freeze
     * @throws dev.toboggan.core.StorageException if reading it from the log failed
     */
    @SuppressWarnings("unchecked")
    public P read(long pid) {
        if (!shared) {
            throw new IllegalStateException("this frozen view is a walk (freeze): take each page once, do not read it");
        }
        Object entry = chunkOf(pid)[(int) (pid & (PageTable.L2_SIZE - 1))];
        if (entry == null || Page.isFree(entry)) {
            return null;
        }
        if (entry instanceof Page<?> page) {
            return (P) page.value;
        }
        return readLogged(pid, (long[]) entry);
    }

    /** The chunk of slots that holds {@code pid}, once the ids, the store and the view are checked. */
    private Object[] chunkOf(long pid) {
        if (pid < PageCache.FIRST_USER_PID || pid >= next) {
            throw new IllegalArgumentException("page " + pid + " is not a user page handed out before the freeze (ids "
                    + PageCache.FIRST_USER_PID + " to " + (next - 1) + ")");
        }
        cache.checkUsable();
        Object[] chunk = closed ? null : chunks[(int) (pid >>> PageTable.L2_BITS)];
        if (chunk == null) { // emptied by a close that raced with the check
            throw closedView();
        }
        if (fragmentsBySegment == null) {
            keepOnlyWhatIsPagedOut();
        }
        return chunk;
    }

    private static IllegalStateException closedView() {
        return new IllegalStateException("this frozen view of the pages is closed");
    }

    /**
     * A paged-out page's value, read while the retention is certainly held (see the notes): by a walk from the
     * log; by shared reads through the cache while the page is unchanged ({@link PageCache#readFrozen}).
     */
    @SuppressWarnings("unchecked")
    private P readLogged(long pid, long[] locations) {
        logReads.readLock().lock();
        try {
            if (closed) {
                throw closedView();
            }
            return (P) (shared ? cache.readFrozen(pid, locations) : cache.readValue(pid, locations));
        } finally {
            logReads.readLock().unlock();
        }
    }

    /** Narrows the retention to the segments that hold fragments of the paged-out entries (see the notes). */
    private synchronized void keepOnlyWhatIsPagedOut() {
        if (fragmentsBySegment != null || closed) {
            return;
        }
        Map<Long, int[]> counts = new HashMap<>();
        for (Object[] chunk : chunks) {
            if (chunk == null) {
                return; // closed meanwhile: nothing will be read
            }
            for (Object entry : chunk) {
                if (entry instanceof long[] locations) {
                    for (int i = 0; i < Page.fragmentCount(locations); i++) {
                        counts.computeIfAbsent(log().segmentOf(Page.fragmentLsn(locations, i)), s -> new int[1])[0]++;
                    }
                }
            }
        }
        retention.keepOnly(counts.keySet());
        fragmentsBySegment = counts;
    }

    private Log log() {
        return cache.log();
    }

    /**
     * Lets the segment cleaner free segments and delete blobs again, once reads from the log in progress have
     * ended; the view cannot be read after this, and what it held is let go. Idempotent.
     */
    @Override
    public void close() {
        logReads.writeLock().lock();
        try {
            closed = true;
            retention.close();
        } finally {
            logReads.writeLock().unlock();
        }
        for (int c = 0; c < chunks.length; c++) {
            chunks[c] = null;
        }
    }
}
