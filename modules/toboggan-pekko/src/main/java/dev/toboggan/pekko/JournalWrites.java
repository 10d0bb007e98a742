package dev.toboggan.pekko;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the read journal needs to know of the journal's write batches: which of them are durable, so that
 * a query delivers only durable events without forcing a flush of its own, when new ones become durable,
 * so that a live query reads again at once instead of polling, and up to which ordering every batch is
 * applied, so that a query by slices scans only entries that can no longer be joined by earlier ones. One per
 * journal tree and actor system ({@link PekkoStores#journalWrites}); the journal reports once per write call,
 * never per event.
 *
 * <p>Implementation notes (lock-free). Batches are numbered 1, 2, … in the order the journal applies them
 * (one thread, the journal actor's). State: {@code started}, the number of the last batch the journal
 * began to apply, incremented BEFORE the batch is applied; {@code durable}, a number up to which every
 * batch is durable, only ever raised (a flush that covers batch {@code n} covers every earlier one, since
 * the log is written in order); and the set of waiting queries.
 *
 * <ul>
 *   <li>A query that read something from the tree and THEN reads {@link #started()} = {@code s} read only
 *       batches numbered at most {@code s} (any batch it saw had been counted before it was applied): what
 *       it read is durable once {@link #durable()} reaches {@code s}.
 *   <li>A query that found nothing new after reading {@code durable = d} beforehand waits for
 *       {@code d + 1}: any batch applied after its read is numbered above {@code d} and is delivered only
 *       once durable anyway.
 * </ul>
 *
 * {@link #durable(long)} raises {@code durable} (its linearization point) and then completes every waiter
 * whose number it reached; {@link #awaitDurable} adds its waiter to the set and only then compares, so a
 * raise between a query's read and its wait either sees the waiter or is seen by the comparison: no
 * wake-up is lost. A waiter nothing wakes completes after its timeout; a completed waiter removes itself.
 *
 * <p>{@code applied}: an ordering such that every batch holding an ordering at or below it has been applied
 * whole. It starts at an id the store's generator gave when this object was made (every ordering stored
 * before is below it, and none was being applied: the journal gets this object before it writes), and the
 * journal raises it to a batch's highest ordering once {@code applyBatch} has returned. The journal gives
 * out orderings in increasing order and applies each batch before it prepares the next, so a batch still
 * being applied holds only orderings above {@code applied}: a scan of the tree up to {@code applied},
 * read before the scan, sees every entry it passes (a tree iterator may see a batch's later keys without
 * its earlier ones while it is applied; {@link PluginFormat}, "for the read journal").
 */
final class JournalWrites {
    private final AtomicLong started = new AtomicLong();
    private final AtomicLong durable = new AtomicLong();
    private final AtomicLong applied;
    private final Set<Waiter> waiters = ConcurrentHashMap.newKeySet();

    private record Waiter(long batch, CompletableFuture<Void> done) {}

    /** @param applied an id the store's generator gave now: above every ordering stored so far */
    JournalWrites(long applied) {
        this.applied = new AtomicLong(applied);
    }

    /** Every batch holding an ordering up to this has been applied whole. */
    long applied() {
        return applied.get();
    }

    /** A batch whose highest ordering is {@code ordering} has been applied (journal actor only). */
    void applied(long ordering) {
        applied.accumulateAndGet(ordering, Math::max);
    }

    /** The journal begins to apply a batch: its number. Call it before applying. */
    long startBatch() {
        return started.incrementAndGet();
    }

    /** The number of the last batch the journal began to apply. */
    long started() {
        return started.get();
    }

    /** A number up to which every batch is durable. */
    long durable() {
        return durable.get();
    }

    /** Batch {@code batch}, and so every earlier one, is durable. */
    void durable(long batch) {
        long now = durable.accumulateAndGet(batch, Math::max);
        for (Waiter waiter : waiters) {
            if (waiter.batch() <= now) {
                waiter.done().complete(null);
            }
        }
    }

    /** Completes once batch {@code batch} is durable (at once if it is), or after {@code timeout} at the latest. */
    CompletionStage<Void> awaitDurable(long batch, Duration timeout) {
        if (durable.get() >= batch) {
            return CompletableFuture.completedFuture(null);
        }
        Waiter waiter = new Waiter(batch, new CompletableFuture<>());
        waiters.add(waiter);
        waiter.done().whenComplete((done, failure) -> waiters.remove(waiter));
        if (durable.get() >= batch) {
            waiter.done().complete(null);
        } else {
            waiter.done().completeOnTimeout(null, timeout.toNanos(), TimeUnit.NANOSECONDS);
        }
        return waiter.done();
    }
}
