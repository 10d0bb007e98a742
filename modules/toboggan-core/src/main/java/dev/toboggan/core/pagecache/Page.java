package dev.toboggan.core.pagecache;

import java.util.Arrays;

/**
 * One immutable version of a page: what the {@link PageCache} holds in its table for a page id, and
 * the view a caller passes back to {@link PageCache#link}, {@link PageCache#replace} or
 * {@link PageCache#free} to say "the page I based this change on".
 *
 * <p>A version is one of:
 * <ul>
 *   <li><b>resident</b>: {@link #value()} is the materialized page; the fragments say where it lives
 *       in the log;
 *   <li><b>paged out</b>: only the fragments are kept; {@link PageCache#get} reads them back. Views
 *       handed to callers are never paged out;
 *   <li><b>free</b>: a tombstone left by {@link PageCache#free}; its one fragment is the free record.
 * </ul>
 *
 * <p>The fragments are a base (a full page image, or the free/meta/counter record) followed by the
 * deltas linked onto it, in LSN order, kept as one {@code long[]} of (lsn, file pointer, length)
 * triples. A paged-out page costs this object and that array, nothing else (sled #1093 found its
 * per-page shells dominating memory).
 *
 * <p>{@link #ts()} is the page's write version: it rises with every change of content (link, replace,
 * free, reallocation) and stays put when the page is only moved (relocation, consolidation), paged
 * in or paged out. A stale view's change fails only if the content really changed since the view was
 * read (seed 000, {@code cas_page}). After a restart every page starts at 0 again; views do not
 * survive a restart.
 *
 * <p>Identity matters: the table changes a slot only by a compare-and-set from the exact object a
 * caller read, so two equal-looking versions are still different views.
 *
 * @param <P> the page type of the cache
 */
public final class Page<P> {
    /** The value of a free tombstone. */
    static final Object FREE = new Object() {
        @Override
        public String toString() {
            return "FREE";
        }
    };
    /** Longs per fragment in {@link #fragments}. */
    static final int FRAGMENT_LONGS = 3;

    final long pid;
    /** The materialized page, {@link #FREE}, or {@code null} when paged out. */
    final Object value;
    /** (lsn, pointer, length) per fragment, base first; never modified after construction. */
    final long[] fragments;
    final long ts;

    Page(long pid, Object value, long[] fragments, long ts) {
        this.pid = pid;
        this.value = value;
        this.fragments = fragments;
        this.ts = ts;
    }

    /** A version whose only fragment is the message just reserved at {@code lsn}. */
    static <P> Page<P> based(long pid, Object value, long lsn, long pointer, int length, long ts) {
        return new Page<>(pid, value, new long[] {lsn, pointer, length}, ts);
    }

    /** This version with one more delta fragment: a change of content, so {@code ts + 1}. */
    Page<P> linked(Object newValue, long lsn, long pointer, int length) {
        long[] more = Arrays.copyOf(fragments, fragments.length + FRAGMENT_LONGS);
        more[fragments.length] = lsn;
        more[fragments.length + 1] = pointer;
        more[fragments.length + 2] = length;
        return new Page<>(pid, newValue, more, ts + 1);
    }

    /** The same content and locations with a different in-memory value (page-in, page-out). */
    Page<P> withValue(Object newValue) {
        return new Page<>(pid, newValue, fragments, ts);
    }

    boolean isResidentOrFree() {
        return value != null;
    }

    /** The page id this version belongs to. */
    public long pid() {
        return pid;
    }

    /**
     * The materialized page; {@code null} for a free page. Shared with other threads: never mutate
     * it.
     */
    @SuppressWarnings("unchecked")
    public P value() {
        return value == FREE ? null : (P) value;
    }

    /** Whether this version is the tombstone of a freed page. */
    public boolean isFree() {
        return value == FREE;
    }

    /** The page's write version; see the class notes. */
    public long ts() {
        return ts;
    }

    /** How many log fragments (a base and its deltas) make up this version. */
    public int fragmentCount() {
        return fragments.length / FRAGMENT_LONGS;
    }

    /** The LSN of the newest fragment: once the log is stable past it, this version survives a crash. */
    public long lastLsn() {
        return fragments[fragments.length - FRAGMENT_LONGS];
    }

    long fragmentLsn(int i) {
        return fragments[i * FRAGMENT_LONGS];
    }

    long fragmentPointer(int i) {
        return fragments[i * FRAGMENT_LONGS + 1];
    }

    @Override
    public String toString() {
        String state = value == FREE ? "free" : value == null ? "paged out" : "resident";
        return "Page[pid=" + pid + ", " + state + ", ts=" + ts + ", fragments=" + fragmentCount()
                + (fragments.length > 0 ? ", lastLsn=" + lastLsn() : "") + "]";
    }
}
