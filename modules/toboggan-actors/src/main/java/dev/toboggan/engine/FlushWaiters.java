package dev.toboggan.engine;

import dev.toboggan.core.StoreFailedException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * The callers of {@code flushAsync} waiting for an LSN to become stable. Kept on the core side of the
 * engine, not in the Flusher actor: a restart of the actor loses the message it was handling, never a
 * caller's future. Guarded by {@code this}; touched once per flush request, never per write.
 */
final class FlushWaiters {
    /** LSN → futures waiting for the stable tip to pass it. */
    private final TreeMap<Long, List<CompletableFuture<Long>>> waiting = new TreeMap<>();
    private Throwable failure;

    /** Registers a waiter for {@code lsn}; completed at once if the store already failed. */
    synchronized CompletableFuture<Long> await(long lsn) {
        CompletableFuture<Long> f = new CompletableFuture<>();
        if (failure != null) {
            f.completeExceptionally(new StoreFailedException(failure));
        } else {
            waiting.computeIfAbsent(lsn, k -> new ArrayList<>(1)).add(f);
        }
        return f;
    }

    /** Completes, with the tip, every waiter for an LSN below {@code stableTip}. */
    void completeBelow(long stableTip) {
        List<CompletableFuture<Long>> done = new ArrayList<>();
        synchronized (this) {
            Map.Entry<Long, List<CompletableFuture<Long>>> e;
            while ((e = waiting.firstEntry()) != null && e.getKey() < stableTip) {
                done.addAll(waiting.pollFirstEntry().getValue());
            }
        }
        done.forEach(f -> f.complete(stableTip));
    }

    /** The lowest LSN anybody waits for, or -1 if nobody waits. */
    synchronized long lowest() {
        return waiting.isEmpty() ? -1 : waiting.firstKey();
    }

    /** Fails every waiter, and every later one, with {@code cause}. */
    void failAll(Throwable cause) {
        List<CompletableFuture<Long>> failed = new ArrayList<>();
        synchronized (this) {
            if (failure == null) {
                failure = cause;
            }
            waiting.values().forEach(failed::addAll);
            waiting.clear();
        }
        failed.forEach(f -> f.completeExceptionally(new StoreFailedException(cause)));
    }
}
