package dev.toboggan.core.pagecache;

import dev.toboggan.core.log.Log;
import java.util.HashMap;
import java.util.Map;

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
 *       every segment and blob, so a page the copy holds paged out may be moved by the cleaner afterwards, but
 *       the bytes at the locations the copy took are neither freed nor reused (and bytes below the log's
 *       reserved tip are never written again). Only the paged-out entries' fragments are ever read, so the
 *       first {@link #take} (after the caller has let its writers go) counts, per segment, the fragments of
 *       paged-out entries in it and narrows the retention to those segments; each take of a paged-out entry
 *       counts its fragments off, and a segment whose count reaches zero is released. A store whose pages were
 *       all resident keeps no segment from then on; blobs stay kept until {@link #close}.
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
    /** Per segment (base LSN), fragments of paged-out entries not taken yet; {@code null} before the first take. */
    private Map<Long, int[]> fragmentsBySegment;
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
        if (fragmentsBySegment == null) {
            keepOnlyWhatIsPagedOut();
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
        long[] locations = (long[]) entry;
        P value = (P) cache.readValue(pid, locations);
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

    /** Narrows the retention to the segments that hold fragments of the paged-out entries (see the notes). */
    private void keepOnlyWhatIsPagedOut() {
        Map<Long, int[]> counts = new HashMap<>();
        for (Object[] chunk : chunks) {
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
