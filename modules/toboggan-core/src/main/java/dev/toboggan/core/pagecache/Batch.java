package dev.toboggan.core.pagecache;

/**
 * An open atomic batch (from {@link PageCache#openBatch()}): every change made while it is open, by
 * any thread, survives a crash together with it or not at all. Close it (try-with-resources) as soon
 * as its changes are made, even if the caller gives up half way: what is in memory must reach the
 * disk, and no flush completes past an open batch.
 *
 * <p>Confined to the thread that opened it.
 */
public final class Batch implements AutoCloseable {
    private final PageCache<?, ?> cache;
    private final long manifestLsn;
    private final Thread owner;
    private boolean sealed;

    Batch(PageCache<?, ?> cache, long manifestLsn) {
        this.cache = cache;
        this.manifestLsn = manifestLsn;
        this.owner = Thread.currentThread();
    }

    /** The LSN of the batch's manifest. */
    public long manifestLsn() {
        return manifestLsn;
    }

    /** Seals the batch: writes its seal record. Idempotent. */
    @Override
    public void close() {
        if (sealed) {
            return;
        }
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("a batch must be closed by the thread that opened it");
        }
        sealed = true;
        cache.sealBatch(this);
    }
}
