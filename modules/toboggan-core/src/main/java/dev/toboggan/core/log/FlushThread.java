package dev.toboggan.core.log;

import dev.toboggan.core.Background;
import dev.toboggan.core.LazyLogger;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A plain thread that runs the log's flush work: when writers hand over sealed buffers, and every
 * {@code flush-every} (sealing the current buffer first, so idle data becomes durable on time). The
 * simplest {@link Background}; the engine's Flusher actor does the same job under supervision.
 *
 * <p>A failed flush attempt is retried with exponential backoff (10 ms to 1 s); the log itself fails
 * for good after {@code max-flush-retries} consecutive failures.
 */
public final class FlushThread implements Background, AutoCloseable {
    private static final LazyLogger LOG = LazyLogger.of(FlushThread.class);
    private static final long MIN_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final Thread thread;
    private final long everyNanos;
    private volatile Log log;
    private volatile boolean signalled;
    private volatile boolean stopping;

    public FlushThread(String name, Duration every) {
        this.everyNanos = every.isZero() ? Long.MAX_VALUE : every.toNanos();
        this.thread = new Thread(this::run, name);
        this.thread.setDaemon(true);
    }

    /** Starts flushing {@code log}; the log must have been opened with this as its background. */
    public void start(Log log) {
        this.log = log;
        thread.start();
    }

    @Override
    public void flushNeeded() {
        signalled = true;
        LockSupport.unpark(thread);
    }

    private void run() {
        long nextPeriodic = System.nanoTime() + everyNanos;
        long backoff = 0;
        while (!stopping) {
            long now = System.nanoTime();
            long wait = backoff > 0 ? backoff : Math.max(0, nextPeriodic - now);
            if (!signalled && wait > 0) {
                LockSupport.parkNanos(this, Math.min(wait, everyNanos));
            }
            if (stopping) {
                break;
            }
            signalled = false;
            Log target = log;
            if (target.failure() != null || target.isClosed()) {
                break;
            }
            try {
                if (System.nanoTime() - nextPeriodic >= 0) {
                    nextPeriodic = System.nanoTime() + everyNanos;
                    target.requestStable(target.maxReservedLsn());
                }
                target.flushWork().doWork();
                backoff = 0;
            } catch (LogWriteException e) {
                backoff = backoff == 0 ? MIN_BACKOFF_NANOS : Math.min(MAX_BACKOFF_NANOS, backoff * 2);
                LOG.get().warn("flush failed, retrying in {} ms: {}", backoff / 1_000_000, e.getMessage());
            } catch (RuntimeException e) {
                if (target.failure() == null && !target.isClosed()) {
                    LOG.get().error("flush thread stopped by an unexpected error", e);
                    target.fail(e);
                }
                break;
            }
        }
    }

    /** Stops the thread and waits for it; close the log afterwards (its close flushes the rest). */
    @Override
    public void close() {
        stopping = true;
        LockSupport.unpark(thread);
        if (thread.isAlive() && Thread.currentThread() != thread) {
            try {
                thread.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
