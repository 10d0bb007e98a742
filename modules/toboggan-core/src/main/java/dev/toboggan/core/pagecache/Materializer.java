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
