/**
 * The page cache: a lock-free table from page id to immutable page versions, on top of the
 * {@link dev.toboggan.core.log.Log}, generic over a page type and a delta type through a
 * {@link dev.toboggan.core.pagecache.Materializer}.
 *
 * <p>The public surface is {@link dev.toboggan.core.pagecache.PageCache} (open, get, allocate, link,
 * replace, free, page-out, rewrite, roots, ids, batches, guards), the views it hands out
 * ({@link dev.toboggan.core.pagecache.Page}, {@link dev.toboggan.core.pagecache.CasResult}), its
 * settings and metrics, and the eviction work ({@link dev.toboggan.core.pagecache.CacheEvictor}) that
 * the engine's Evictor actor runs. The mechanisms are package-private: {@code PageTable} (the radix of
 * slots), {@code PageIds} (id reuse after an epoch grace period), {@code IdGenerator}, {@code TableReplay}
 * (recovery), {@code AccessBuffers} (lossy access records), {@code CachePolicy} and {@code FrequencySketch}
 * (W-TinyLFU), {@code ReadTimestamps} and {@code Meta}; each opens with its implementation notes.
 *
 * <p>References: seed 000 (sled 0.34.7 {@code pagecache/mod.rs}) and seed 001 (the pagecache crate
 * generic over a {@code Materializer}); SLED-REFERENCE.md sections 4, 6.3, 7 and 11; LLAMA (VLDB 2013).
 */
package dev.toboggan.core.pagecache;
