package dev.toboggan.core.pagecache;

import java.util.Arrays;

/**
 * One immutable, materialized version of a page: what the {@link PageCache} holds in its table for a
 * resident page id, and the view a caller passes back to {@link PageCache#link}, {@link PageCache#replace}
 * or {@link PageCache#free} to say "the page I based this change on".
 *
 * <h2>Slot states</h2>
 * A table slot ({@link PageTable}) holds one of:
 * <ul>
 *   <li><b>nothing</b> ({@code null}): the id was never written;
 *   <li><b>resident</b>: a {@code Page} whose {@link #value()} is the materialized page;
 *   <li><b>free</b>: a {@code Page} whose value is {@link #FREE}, a tombstone left by
 *       {@link PageCache#free}; its one fragment is the free record;
 *   <li><b>paged out</b>: NOT a {@code Page} but its bare <em>locations</em> array: no shell object
 *       (sled #1093 found per-page shells dominating memory), 16 + 8 × (3n + 1) bytes for n fragments
 *       (48 bytes for one). Views handed to callers are never paged out.
 * </ul>
 *
 * <p>Locations: a {@code long[]} of (lsn, file pointer, length) triples, one per fragment (a base — a
 * full page image, or the free/meta/counter record — then the deltas linked onto it, in LSN order),
 * followed by ONE trailing long, the page's {@code ts}. A resident page shares its locations array with
 * the paged-out entry it came from or becomes, so page-out and page-in allocate nothing but the
 * {@code Page}. Arrays are never modified after they are published. The same array can reappear in a
 * slot (paged out, in, out again); that is not an ABA hazard, because an array determines the slot's
 * whole logical state (locations and ts): a CAS that expects it is based on exactly that state.
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
    /** Longs per fragment in a locations array. */
    static final int FRAGMENT_LONGS = 3;
    /**
     * Heap bytes of a {@code Page} object with compressed oops (12 header + 8 pid + 4 value + 4
     * locations + 4 weight), counted in a resident page's weight.
     */
    static final int SHELL_BYTES = 32;

    final long pid;
    /** The materialized page, or {@link #FREE}; never {@code null}. */
    final Object value;
    /** Locations and ts (see the class notes); never modified after construction. */
    final long[] fragments;
    /**
     * Estimated heap bytes this version keeps alive beyond its locations (value, shell, cache policy
     * entry): what the cache's capacity is counted in. 0 for free and reserved pages.
     */
    final int weight;

    Page(long pid, Object value, long[] fragments, int weight) {
        this.pid = pid;
        this.value = value;
        this.fragments = fragments;
        this.weight = weight;
    }

    /** Locations of one fragment, the message at {@code lsn}, with write version {@code ts}. */
    static long[] locations(long lsn, long pointer, long length, long ts) {
        return new long[] {lsn, pointer, length, ts};
    }

    /** {@code old} (a locations array) with one more fragment and the given ts. */
    static long[] appended(long[] old, long lsn, long pointer, long length, long ts) {
        long[] more = Arrays.copyOf(old, old.length + FRAGMENT_LONGS);
        int at = old.length - 1;
        more[at] = lsn;
        more[at + 1] = pointer;
        more[at + 2] = length;
        more[more.length - 1] = ts;
        return more;
    }

    /** The locations of a slot's entry: a {@code Page}'s, or the paged-out array itself. */
    static long[] locationsOf(Object entry) {
        return entry instanceof Page<?> p ? p.fragments : (long[]) entry;
    }

    /** The write version of a slot's entry. */
    static long tsOf(Object entry) {
        long[] locations = locationsOf(entry);
        return locations[locations.length - 1];
    }

    /** The weight of a slot's entry: 0 unless it is a resident page. */
    static int weightOf(Object entry) {
        return entry instanceof Page<?> p ? p.weight : 0;
    }

    /** Whether a slot's entry is a free tombstone. */
    static boolean isFree(Object entry) {
        return entry instanceof Page<?> p && p.value == FREE;
    }

    static int fragmentCount(long[] locations) {
        return locations.length / FRAGMENT_LONGS;
    }

    static long lastLsn(long[] locations) {
        return locations[locations.length - 1 - FRAGMENT_LONGS];
    }

    static long fragmentLsn(long[] locations, int i) {
        return locations[i * FRAGMENT_LONGS];
    }

    static long fragmentPointer(long[] locations, int i) {
        return locations[i * FRAGMENT_LONGS + 1];
    }

    /** Bytes fragment {@code i} takes in the log (its header and inline body). */
    static int fragmentLength(long[] locations, int i) {
        return (int) locations[i * FRAGMENT_LONGS + 2];
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
        return fragments[fragments.length - 1];
    }

    /** How many log fragments (a base and its deltas) make up this version. */
    public int fragmentCount() {
        return fragmentCount(fragments);
    }

    /** The LSN of the newest fragment: once the log is stable past it, this version survives a crash. */
    public long lastLsn() {
        return lastLsn(fragments);
    }

    /** Estimated heap bytes of this version's value and shell (0 when free): its share of the cache's capacity. */
    public long weight() {
        return weight;
    }

    @Override
    public String toString() {
        return "Page[pid=" + pid + ", " + (value == FREE ? "free" : "resident") + ", ts=" + ts() + ", fragments="
                + fragmentCount() + ", lastLsn=" + lastLsn() + "]";
    }

    /** A slot's entry for messages: a page's own string, or a paged-out entry's locations. */
    static String describe(long pid, Object entry) {
        if (entry == null || entry instanceof Page<?>) {
            return String.valueOf(entry);
        }
        long[] locations = (long[]) entry;
        return "Page[pid=" + pid + ", paged out, ts=" + tsOf(locations) + ", fragments=" + fragmentCount(locations)
                + ", lastLsn=" + lastLsn(locations) + "]";
    }
}
