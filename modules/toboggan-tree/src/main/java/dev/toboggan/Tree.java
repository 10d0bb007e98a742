package dev.toboggan;

import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.ForkJoinPool;
import java.util.function.UnaryOperator;

/**
 * An ordered map from {@code byte[]} keys to {@code byte[]} values, kept in a Toboggan store: sled's
 * {@code Tree}. Keys are ordered as unsigned bytes (lexicographically, shorter first on a common prefix),
 * so big-endian numbers sort numerically.
 *
 * <p>Its reads are those of every {@link ReadableTree}; a {@link Snapshot} reads the store's trees as of one
 * moment instead.
 *
 * <p>Every method may be called from any thread. Single-key operations are linearizable. Iterators are
 * weakly consistent: they never miss a key that exists from the start of the iteration to its end, never
 * return a key twice, never go past their bound, and never block writers; they may or may not see changes
 * made while they run. {@link #applyBatch} is atomic for single-key reads and for writers in memory, and
 * all or nothing across a crash; an iterator reads one leaf at a time, so one that runs while a batch is
 * applied may see the batch's changes to later keys but not to earlier ones (never a change undone).
 *
 * <p>Durability: a change is in memory when its method returns and on disk at the latest after
 * {@code toboggan.flush-every}; {@link #flush()} makes everything written before it durable. After a
 * crash the store holds every change made before the last completed flush, and the changes made after
 * it up to some point in the order they were made (never a later change without an earlier one).
 *
 * <p>Arrays passed in are copied and arrays returned are copies: callers may reuse them.
 *
 * <p>Invalid input — a {@code null} key or value where one is needed, a key longer than
 * {@link #MAX_KEY_LENGTH}, a value longer than {@link #MAX_VALUE_LENGTH} — throws
 * {@link IllegalArgumentException} before anything changes. A closed store or a dropped tree throws
 * {@link IllegalStateException}; a store that failed (an IO error it could not retry) throws
 * {@link dev.toboggan.core.StoreFailedException}.
 */
public interface Tree extends ReadableTree {
    /** The longest key, in bytes: 16 KiB. The empty key is a valid key. */
    int MAX_KEY_LENGTH = 16 * 1024;
    /** The longest value, in bytes: 64 MiB. Values longer than {@code toboggan.tree.max-inline-value} are kept in pages of their own, and those larger than a quarter of a segment in blob files. */
    int MAX_VALUE_LENGTH = 64 << 20;

    /**
     * The buffer of a watch made without one: the events its subscriber may leave untaken, 65 536 (about a
     * quarter of a second of one thread writing in a loop; the buffer grows to it only while the subscriber
     * lags).
     */
    int DEFAULT_WATCH_BUFFER = 1 << 16;
    /** The largest buffer a watch may have: 1 048 576 events. */
    int MAX_WATCH_BUFFER = Watchers.MAX_BUFFER_CAPACITY;

    /**
     * Sets {@code key} to {@code value}.
     *
     * @return the previous value, or {@code null} if there was none
     */
    byte[] insert(byte[] key, byte[] value);

    /**
     * Removes {@code key}.
     *
     * @return the removed value, or {@code null} if there was none
     */
    byte[] remove(byte[] key);

    /**
     * Sets {@code key} to {@code newValue} if its value is {@code expected} now, atomically.
     *
     * @param expected the value the key must have, or {@code null}: it must have none
     * @param newValue the value to set, or {@code null}: remove the key
     * @return whether it was set, and the key's value now: {@code newValue} after a success, the value that
     *     differed from {@code expected} after a failure
     */
    SwapResult compareAndSwap(byte[] key, byte[] expected, byte[] newValue);

    /**
     * Sets {@code key} to {@code update} applied to its value, atomically (sled's {@code update_and_fetch}): a
     * compare-and-swap loop, so {@code update} runs again, on the newer value, each time another writer changed
     * the key in between, and must have no side effects. It gets a copy of the value ({@code null}: none) and
     * returns the new one ({@code null}: remove the key; the same value: no change).
     *
     * @return the key's new value, or {@code null} if it has none now
     * @throws IllegalArgumentException if {@code update} is null, or as {@link #compareAndSwap} for what it
     *     returns; nothing changed
     */
    default byte[] updateAndFetch(byte[] key, UnaryOperator<byte[]> update) {
        return update(key, update)[1];
    }

    /**
     * As {@link #updateAndFetch}, returning the value {@code update} was applied to.
     *
     * @return the key's value before the update, or {@code null} if it had none
     */
    default byte[] fetchAndUpdate(byte[] key, UnaryOperator<byte[]> update) {
        return update(key, update)[0];
    }

    private byte[][] update(byte[] key, UnaryOperator<byte[]> update) {
        if (update == null) {
            throw new IllegalArgumentException("update is null: pass a function from the current value to the new one");
        }
        byte[] current = get(key);
        while (true) {
            // a copy: an update that changes its argument in place must not change what the swap expects
            byte[] next = update.apply(current == null ? null : current.clone());
            SwapResult result = compareAndSwap(key, current, next);
            if (result.succeeded()) {
                return new byte[][] {current, result.current()};
            }
            current = result.current();
        }
    }

    /**
     * Removes the entry with the smallest key and returns it (sled's {@code pop_min}): a work queue's take.
     * Each entry goes to one caller only, however many pop at once. It is the smallest key when the call read
     * it: a key inserted below it while the call runs is not taken instead (the next call takes it).
     *
     * @return the removed entry, or {@code null} if the tree was empty
     */
    default Map.Entry<byte[], byte[]> popMin() {
        return pop(true);
    }

    /** As {@link #popMin}, for the entry with the largest key (sled's {@code pop_max}). */
    default Map.Entry<byte[], byte[]> popMax() {
        return pop(false);
    }

    private Map.Entry<byte[], byte[]> pop(boolean smallest) {
        while (true) {
            Map.Entry<byte[], byte[]> entry = smallest ? first() : last();
            if (entry == null) {
                return null;
            }
            // the entry goes to the caller whose swap removes that key with that value
            if (compareAndSwap(entry.getKey(), entry.getValue(), null).succeeded()) {
                return entry;
            }
        }
    }

    /**
     * Applies every change of {@code batch}, in order, atomically: no single-key read sees some of them
     * without the others (an iterator running meanwhile may: see the class notes), and after a crash either
     * all of them or none are there. Other writers wait while a batch is
     * applied; keep batches to what must be atomic.
     */
    void applyBatch(Batch batch);

    /**
     * The changes made to keys starting with {@code prefix} (the empty prefix: every key), as they are made
     * (sled's {@code watch_prefix}): {@link #watchPrefix(byte[], Executor, int)} on the
     * {@linkplain #defaultWatchExecutor() default executor} with a buffer of {@link #DEFAULT_WATCH_BUFFER}
     * events.
     */
    default Flow.Publisher<WatchEvent> watchPrefix(byte[] prefix) {
        return watchPrefix(prefix, WatchDelivery.APPLIED, defaultWatchExecutor(), DEFAULT_WATCH_BUFFER);
    }

    /**
     * {@link #watchPrefix(byte[], WatchDelivery, Executor, int)} on the {@linkplain #defaultWatchExecutor()
     * default executor} with a buffer of {@link #DEFAULT_WATCH_BUFFER} events.
     */
    default Flow.Publisher<WatchEvent> watchPrefix(byte[] prefix, WatchDelivery delivery) {
        return watchPrefix(prefix, delivery, defaultWatchExecutor(), DEFAULT_WATCH_BUFFER);
    }

    /**
     * Where the shorter {@code watchPrefix} forms deliver: the common {@link ForkJoinPool}, unless its
     * parallelism is under 2 (a machine or container of two cores or fewer), where one subscriber that blocks
     * would hold up every other watch and every other user of the pool; then a pool of daemon threads that
     * grows as deliveries block and lets idle threads go after a minute (as
     * {@link java.util.concurrent.SubmissionPublisher}'s own default, which starts a thread per task there,
     * but reusing them: a watch of a busy prefix delivers in many short runs).
     */
    static Executor defaultWatchExecutor() {
        return ForkJoinPool.getCommonPoolParallelism() > 1 ? ForkJoinPool.commonPool() : WatchDeliveryThreads.POOL;
    }

    /** {@link #watchPrefix(byte[], WatchDelivery, Executor, int)} of {@link WatchDelivery#APPLIED} changes. */
    default Flow.Publisher<WatchEvent> watchPrefix(byte[] prefix, Executor executor, int bufferCapacity) {
        return watchPrefix(prefix, WatchDelivery.APPLIED, executor, bufferCapacity);
    }

    /**
     * The changes made to keys starting with {@code prefix} (the empty prefix: every key), as they are made
     * (sled's {@code watch_prefix}). Each {@code subscribe} starts a watch of its own that sees every change
     * made from then on, until the subscriber cancels:
     * <ul>
     *   <li>one {@link WatchEvent} per insert, remove that found the key, or successful compare-and-swap, and
     *       one per batch, {@link Db#applyBatches} tree or transaction commit, holding its changes under the
     *       prefix together (a subscriber never sees part of a batch);
     *   <li>the changes of one key in the order they were made, and a change that returned before another
     *       began before that one (changes made side by side may come in either order); the last event of a
     *       key holds its value once writes stop;
     *   <li>with {@link WatchDelivery#APPLIED}, an event is sent once its change is in the tree (a read on
     *       receiving it sees it, or a later value), <em>not</em> once it is durable: after a crash the store
     *       may not hold the last changes such a watch reported (as for any change not yet flushed); with
     *       {@link WatchDelivery#DURABLE}, once its change is durable too, so whatever a crash leaves holds
     *       every change such a watch reported (the watch has the store flush for it, and holds a writer back
     *       until its change is durable once more than half {@code bufferCapacity} events wait for the disk);
     *   <li>delivered on {@code executor}, one signal at a time, as a {@link Flow.Subscription} requests
     *       them ({@link java.util.concurrent.SubmissionPublisher}'s rules). Writers never wait for a
     *       subscriber (only, under a durable watch, for the disk): a subscriber that leaves
     *       {@code bufferCapacity} events untaken (rounded up to a power of two), or as many (at least 64)
     *       piled up behind one change still being made, gets
     *       {@link WatchOverflowException} instead of the next event, and its watch ends; a subscriber
     *       method that throws cancels its watch;
     *   <li>the watch completes when the store closes (after the events it holds), and fails with
     *       {@link IllegalStateException} when the tree is dropped; a subscription made after either, or from
     *       inside a transaction's body, fails at once.
     * </ul>
     * A watch costs writers of keys outside its prefix a prefix comparison; with no watch, a write pays one
     * volatile read. For the state of the prefix and then its changes, {@link #watchPrefixWithState}; or subscribe
     * first and read the prefix second: every change is in the read, in an event, or in both.
     *
     * @param delivery when an event is sent: once its change is applied, or once it is durable
     * @param executor runs the subscriber's methods (Pekko: the actor system's dispatcher; a subscriber that
     *     blocks needs an executor of its own, not the common pool the shorter forms may use). One that runs
     *     them on the calling thread (a direct executor) runs them inside the write that made the event, while it
     *     holds batches back (and, for a batch's event, every writer): such a subscriber must be quick and
     *     must not call the store
     * @param bufferCapacity events a subscriber may leave untaken, from 1 to {@link #MAX_WATCH_BUFFER}
     * @throws IllegalArgumentException if {@code prefix}, {@code delivery} or {@code executor} is null, the
     *     prefix is longer than a key may be, or the capacity is out of range
     * @throws IllegalStateException if the store is closed or the tree dropped
     */
    Flow.Publisher<WatchEvent> watchPrefix(byte[] prefix, WatchDelivery delivery, Executor executor, int bufferCapacity);

    /**
     * {@link #watchPrefixWithState(byte[], WatchDelivery, Executor, int)} on the {@linkplain #defaultWatchExecutor()
     * default executor} with a buffer of {@link #DEFAULT_WATCH_BUFFER} events.
     */
    default Flow.Publisher<WatchEvent> watchPrefixWithState(byte[] prefix, WatchDelivery delivery) {
        return watchPrefixWithState(prefix, delivery, defaultWatchExecutor(), DEFAULT_WATCH_BUFFER);
    }

    /**
     * The entries under {@code prefix} as of one moment, then every change made after it: a watch as
     * {@link #watchPrefix(byte[], WatchDelivery, Executor, int)} makes, whose first event is
     * {@linkplain WatchEvent#initial() initial}: every entry under the prefix when the subscription was made, in
     * key order, each as a change to its value (none if the prefix was empty). Every later event is a change
     * made after that moment; nothing is in both, and nothing made after it is missing. What a cache or a view of
     * a prefix needs: apply the initial event, then each change, and it holds what the tree holds, never an older
     * value after a newer one. (The recipe for {@code watchPrefix}, subscribing then reading, may deliver a
     * change the read already saw, after it.)
     *
     * <p>To read the state and register the watch as one moment, {@code subscribe} holds the tree's writers
     * (and batches, transactions, other such subscriptions) while it reads the prefix, as a batch holds them,
     * and keeps the whole state in memory until the subscriber takes it: for prefixes of thousands to a few
     * million entries, not a tree of billions. Readers are not held. With {@link WatchDelivery#DURABLE} the
     * initial event, too, is sent once everything in it is durable.
     *
     * @throws IllegalArgumentException and {@link IllegalStateException} as {@code watchPrefix}
     */
    Flow.Publisher<WatchEvent> watchPrefixWithState(byte[] prefix, WatchDelivery delivery, Executor executor,
            int bufferCapacity);

    /**
     * Removes every entry, atomically: no reader sees some of them gone and others not, and after a crash
     * the tree has all of them or none (once this returns, a {@link #flush} makes the removal durable like
     * any change). Its pages, and the value pages of its long values, are freed in the same change, so the
     * store's space is reclaimed as after a {@link Db#dropTree}, while this tree, its name and its watches
     * stay. A watch of the tree gets one event, as for a batch: each removed key under its prefix, in key
     * order, as a removal.
     *
     * <p>It runs alone like a drop: it reads the whole tree first holding nothing (from the disk where evicted; value
     * pages are not read), then writers of the store wait while it checks that nothing changed meanwhile (or reads
     * the tree again), then this tree's readers wait while it frees the pages (for 1 M entries
     * of 16-byte keys and 100-byte values, 50–200 ms in all with the tree cached and 0.2–1.4 s after a reopen);
     * readers of the store's other trees go on. A writer that writes meanwhile writes before or
     * after it, never into a half-cleared tree. Not offered in a {@link Db#transaction}: remove the keys there.
     *
     * @return the number of entries removed
     * @throws IllegalStateException if the store is closed or the tree was dropped; then nothing changed
     */
    long clear();

    /**
     * Makes every change made to the store so far (in any tree) durable, together with concurrent callers
     * (group commit).
     *
     * @return the bytes this call made durable
     * @throws IllegalStateException if the store is closed, or if the calling thread is interrupted while it
     *     waits (the flag stays set; the changes may still become durable with a later flush)
     */
    long flush();

    /**
     * As {@link #flush()}, without blocking: the store's flusher does the work.
     *
     * @return completed with the log's stable position once everything written before this call is durable,
     *     or exceptionally with {@link dev.toboggan.core.StoreFailedException} if the store fails first
     */
    CompletionStage<Long> flushAsync();
}
