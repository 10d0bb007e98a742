package dev.toboggan.core.pagecache;

/**
 * A pinned section, from {@link PageCache#pin()} to {@link #close()}: while any guard that was open when
 * a page was freed stays open, that page's id is not handed out again. A caller that reads page ids out
 * of pages (a tree following child links) holds one across the whole traversal, so an id it read can
 * never come to mean a different page before it is done.
 *
 * <p>Guards nest: {@link PageCache#pin()} inside a pinned section only counts. A guard belongs to the
 * thread that opened it and must be closed by that thread, once.
 */
public interface Guard extends AutoCloseable {

    /** Leaves the pinned section (the outermost close unpins the thread). */
    @Override
    void close();
}
