package dev.toboggan.core.pagecache;

/**
 * The outcome of a change based on a view ({@link PageCache#link}, {@link PageCache#replace},
 * {@link PageCache#free}).
 *
 * @param succeeded whether the change was made
 * @param page on success, the new version (a free tombstone after {@code free}); on failure, the
 *     current version, materialized, which changed since the caller's view: re-derive the change from
 *     it and try again. A failure's page may be a free tombstone: the page was freed meanwhile.
 * @param <P> the page type
 */
public record CasResult<P>(boolean succeeded, Page<P> page) {}
