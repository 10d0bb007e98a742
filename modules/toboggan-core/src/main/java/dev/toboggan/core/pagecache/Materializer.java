package dev.toboggan.core.pagecache;

import java.util.List;
import net.openhft.chronicle.bytes.Bytes;

/**
 * What the {@link PageCache} needs to know about its pages: how a delta changes a page, how big a page
 * is in memory, and how pages and deltas look as bytes (seed 001's {@code Materializer}).
 *
 * <p>Pages and deltas are immutable values shared between threads: {@link #apply} and {@link #merge}
 * return new pages and never modify their arguments. Every method may be called from any thread,
 * concurrently, and must not call back into the page cache (it is called in the middle of its
 * operations, with the calling thread's encoding buffer in use).
 *
 * @param <P> the page type
 * @param <D> the delta type
 */
public interface Materializer<P, D> {

    /** The page that results from applying {@code delta} to {@code page}. */
    P apply(P page, D delta);

    /**
     * The page that results from applying {@code deltas}, in order, to {@code base}: used when a page is
     * read back from its fragments. Override it when applying many deltas at once is cheaper than one by
     * one.
     */
    default P merge(P base, List<D> deltas) {
        P page = base;
        for (D delta : deltas) {
            page = apply(page, delta);
        }
        return page;
    }

    /**
     * Asked when a link finds its page with {@code consolidation-threshold} fragments or more: whether this
     * link writes the whole merged page instead of one more delta. By default it does. A materializer whose
     * deltas are small next to its pages may wait until they add up (fewer bytes written, more fragments to
     * read back); the page cache consolidates regardless at
     * {@value PageCacheConfig#MAX_CONSOLIDATION_THRESHOLD} fragments.
     *
     * @param fragments the page's fragments: its base and the deltas since
     * @param threshold {@code consolidation-threshold}
     * @param baseBytes the log bytes of the base
     * @param deltaBytes the log bytes of the deltas together
     */
    default boolean consolidates(int fragments, int threshold, long baseBytes, long deltaBytes) {
        return true;
    }

    /** An estimate of the heap bytes {@code page} keeps alive, for cache accounting. */
    long heapSize(P page);

    /** Writes {@code page} at the write position of {@code out}. */
    void encodePage(P page, Bytes<?> out);

    /** Reads a page written by {@link #encodePage} from the read position of {@code in}. */
    P decodePage(Bytes<?> in);

    /** Writes {@code delta} at the write position of {@code out}. */
    void encodeDelta(D delta, Bytes<?> out);

    /** Reads a delta written by {@link #encodeDelta} from the read position of {@code in}. */
    D decodeDelta(Bytes<?> in);
}
