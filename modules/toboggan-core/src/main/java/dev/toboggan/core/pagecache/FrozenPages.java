package dev.toboggan.core.pagecache;

import dev.toboggan.core.log.Log;

/**
 * The page table as of one moment ({@link PageCache#freeze}), for one reader to walk while writers change the
 * live table: the tree's export reads every tree of a store as of one moment this way without holding its
 * writers for the walk.
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
 *       every segment and blob until {@link #close}. A page the copy holds paged out may be moved by the
 *       cleaner afterwards, but the bytes at the locations the copy took are neither freed nor reused, and
 *       bytes below the log's reserved tip are never written again.
 *   <li><b>Threads</b>: one reader; not thread safe. {@link #take} reads a paged-out page with the cache's own
 *       decoding and merging ({@link PageCache#readValue}) and installs nothing in the live table, and it lets
 *       the entry go, so the memory held falls as a walk goes on.
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
    private boolean closed;

    FrozenPages(PageCache<P, ?> cache, Object[][] chunks, long next, Log.Retention retention) {
        this.cache = cache;
        this.chunks = chunks;
        this.next = next;
        this.retention = retention;
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
        if (pid < PageCache.FIRST_USER_PID || pid >= next) {
            throw new IllegalArgumentException("page " + pid + " is not a user page handed out before the freeze (ids "
                    + PageCache.FIRST_USER_PID + " to " + (next - 1) + ")");
        }
        cache.checkUsable();
        if (closed) {
            throw new IllegalStateException("this frozen view of the pages is closed");
        }
        Object[] chunk = chunks[(int) (pid >>> PageTable.L2_BITS)];
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
        return (P) cache.readValue(pid, (long[]) entry);
    }

    /** Lets the segment cleaner free segments and delete blobs again; the view cannot be read after this. */
    @Override
    public void close() {
        closed = true;
        retention.close();
        for (int c = 0; c < chunks.length; c++) {
            chunks[c] = null;
        }
    }
}
