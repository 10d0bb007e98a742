package dev.toboggan.core.pagecache;

import java.util.List;

/**
 * What the {@link PageCache} needs to know about its pages: how a delta changes a page, how big a page
 * is in memory, and how pages and deltas look as bytes (seed 001's {@code Materializer}).
 *
 * <p>Pages and deltas are immutable values shared between threads: {@link #apply} and {@link #merge}
 * return new pages and never modify their arguments. Every method may be called from any thread,
 * concurrently, and must not call back into the page cache (it is called in the middle of its
 * operations, with the calling thread's encoding buffer in use).
 *
 * <p>The codecs work on {@link BodyWriter} and {@link BodyReader}, plain JDK code, so that opening a
 * store loads no buffer library (see docs/architecture.md, "Why the codecs are not on Chronicle Bytes").
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
     * Whether most reads pass through {@code page} on their way to other pages (a tree's inner node):
     * the cache records its resident hits for the eviction policy one time in
     * {@value CacheEvictor#PASSED_THROUGH_HIT_SAMPLE_EVERY} instead of one in
     * {@value CacheEvictor#HIT_SAMPLE_EVERY} (see {@link CacheEvictor#hit}). Such a page is read so much
     * more often than the pages below it that it still ranks far above them on fewer records, while every
     * record costs the read a buffer write and the eviction work a drain. Called on every resident hit:
     * keep it a type test. {@code false} by default.
     */
    default boolean isPassedThrough(P page) {
        return false;
    }

    /**
     * How many fragments (a base and its deltas) a version of {@code page} may have before a
     * {@link PageCache#link} onto it writes the whole page instead of one more delta, given the store's
     * {@code consolidation-threshold} ({@code configured}). Override it for pages whose deltas are tiny
     * next to the page and which are seldom read back from the log: consolidating such a page costs a
     * whole page's encoding and log bytes per few bytes of change. The page cache caps the result at
     * {@link PageCacheConfig#MAX_CONSOLIDATION_THRESHOLD}. Called on every link: keep it a type test.
     * {@code configured} by default.
     */
    default int consolidationThreshold(P page, int configured) {
        return configured;
    }

    /** An estimate of the heap bytes {@code page} keeps alive, for cache accounting. */
    long heapSize(P page);

    /** Appends {@code page} to {@code out}. */
    void encodePage(P page, BodyWriter out);

    /** Reads a page written by {@link #encodePage}; {@code in} holds exactly its bytes. */
    P decodePage(BodyReader in);

    /** Appends {@code delta} to {@code out}. */
    void encodeDelta(D delta, BodyWriter out);

    /** Reads a delta written by {@link #encodeDelta}; {@code in} holds exactly its bytes. */
    D decodeDelta(BodyReader in);
}
