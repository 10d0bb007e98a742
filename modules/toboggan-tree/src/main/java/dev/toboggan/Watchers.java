package dev.toboggan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The watches of one tree ({@link Tree#watchPrefix}, sled's {@code watch_prefix}): who is told of which
 * changes, in which order, and how an event reaches a subscriber without a writer ever waiting for it.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Registry</b>: {@link #watches}, a copy-on-write array. A writer reads it once per change; with no
 *       watch that is all a write pays. A watch is added under the shared side of the concurrency control
 *       (so never while a close or a drop ends the tree's watches, which hold the exclusive side) and removed
 *       from any thread (cancel, overflow, end).
 *   <li><b>Order</b>: each watch keeps a queue of <em>slots</em>, delivered strictly in queue order. A
 *       single-key writer takes a slot in each watch whose prefix its key has ({@link #reserve}) after it read
 *       the leaf version it links onto and before its CAS, fills the slot with its event once the CAS
 *       succeeded and the write's own page cache batch (a value page's) is closed, or cancels it if the CAS
 *       failed (the retry takes a new slot after reading the new version).
 *       Why that orders changes of one key as they were made: of two successful changes of a leaf, the later
 *       one linked onto a version the earlier one made (or a later one), so it read that version after the
 *       earlier CAS, which came after the earlier slot was taken; a key that moves to another leaf (a split,
 *       a merge) moves in a change linked onto a version that holds every earlier change of it, so the same
 *       chain holds. More generally, a change that returned before another began is delivered before it.
 *       Changes of different keys made side by side may be delivered in either order.
 *   <li><b>State first</b> ({@link Tree#watchPrefixWithState}): the watch is registered under the exclusive
 *       side, and while it is held the prefix is read and its entries fill the watch's first slot, as an
 *       initial event: no writer can hold a slot of it yet, and none changes the tree until the side is let
 *       go, so every change is either in the state or in a later slot, never both, never neither.
 *   <li><b>Batches</b> (and transactions' commits) run under the exclusive side, so no writer holds a slot
 *       then: the batch takes and fills one slot per watch after its last change ({@link #publish}), before
 *       it lets writers in again.
 *   <li><b>States of a slot</b>: empty (its change is being made) → filled with an event, or → cancelled;
 *       one volatile write each, by the writer that took it.
 *   <li><b>Draining</b>: whoever fills or cancels a slot then moves the queue's finished head slots to the
 *       watch's {@link SubmissionPublisher} (which buffers them for the subscriber and delivers them on the
 *       watch's executor), under the watch's {@code draining} flag; a drainer that finds the flag taken leaves
 *       the work to its holder, who looks at the head again after releasing it (each side writes its own
 *       volatile before reading the other's, so one of them sees the finished slot). The publisher is only
 *       touched under the flag: offers, and the close or error that ends the watch, never race.
 *   <li><b>Durable watches</b> ({@link WatchDelivery#DURABLE}): a slot is filled with the log's reserved tip
 *       as its <em>mark</em>, read after the change (a batch's: after its seal), so every message of the change
 *       lies at or below it; the drain hands the head on only once the log's stable tip passed its mark (a
 *       message below the stable tip survives a crash, batches included). Otherwise it asks the store to make
 *       the log stable past the mark ({@link Stability#stableAsync}: the flusher's group commit, not a flush on
 *       the writer's thread), at most one such request per watch and mark, made by the drainer (the request
 *       never waits: it raises the Flusher's coalesced signal), and drains again when it completes.
 *       Marks need not grow along the queue; each head waits for its own.
 *   <li><b>Bounds</b>: the publisher buffers at most the watch's capacity of events its subscriber has not
 *       taken, and the queue holds at most as many slots (at least {@link #MIN_WAITING_SLOTS}) waiting behind
 *       a change still being made. When either is full the watch ends with a {@link WatchOverflowException}:
 *       writers never wait for a subscriber, and a subscriber is never silently skipped past events. A
 *       durable watch's slots waiting for the disk are bounded otherwise: once more slots wait than half its
 *       buffer, a writer that fills a slot whose change is not durable yet waits until it is
 *       ({@link Watch#holdIfBehind}): writes outrunning the disk are held back, as by a flush, instead of
 *       ending the watch.
 *   <li><b>End</b>: a drop ends the tree's watches with an error, a close completes them after their last
 *       events (flushing first, so a durable watch's last events are sent too); both hold the exclusive side,
 *       so no slot is open then. A store abandoned as in a crash (tests)
 *       ends them without it: a slot filled after that is discarded.
 * </ul>
 */
final class Watchers {
    /** The fewest waiting slots a watch allows, whatever its capacity: one per writer thread running. */
    static final int MIN_WAITING_SLOTS = 64;
    /** The largest buffer a watch may ask for. */
    static final int MAX_BUFFER_CAPACITY = 1 << 20;
    private static final Watch[] NONE = {};
    /** The registry once the tree's watches ended: nothing is added to it (an array of its own, not {@link #NONE}). */
    private static final Watch[] ENDED = {};
    /** A cancelled slot's state. */
    private static final Object CANCELLED = new Object();

    private final String tree;
    private final Counters counters;
    private final Stability stability;
    private final AtomicReference<Watch[]> watches = new AtomicReference<>(NONE);
    /** What a subscription made after {@link #endAll} is told; written before {@link #ENDED} is. */
    private volatile RuntimeException whyEnded;

    Watchers(String tree, Counters counters, Stability stability) {
        this.tree = tree;
        this.counters = counters;
        this.stability = stability;
    }

    /** The store's log as durable watches see it. */
    interface Stability {
        /** A position at or past every message reserved so far. */
        long reservedTip();

        /** Every message below this survives a crash. */
        long stableTip();

        /**
         * Has the log made stable past {@code lsn}; completed once it is. Never blocks: a writer asks it from
         * inside its write.
         */
        CompletionStage<Long> stableAsync(long lsn);

        /**
         * Returns once the log is stable past {@code lsn}, flushing on this thread if nobody else is.
         *
         * @throws RuntimeException if this thread cannot wait: it is inside its own atomic batch or interrupted,
         *     or the store failed
         */
        void awaitStable(long lsn);
    }

    /** The store's counts of what its watches did ({@link StoreMetrics.Watches}). */
    static final class Counters {
        private final LongAdder events = new LongAdder();
        private final LongAdder overflowed = new LongAdder();
        private final LongAdder writersHeld = new LongAdder();

        StoreMetrics.Watches snapshot(int open) {
            return new StoreMetrics.Watches(open, events.sum(), overflowed.sum(), writersHeld.sum());
        }
    }

    /** Whether any watch is registered: a batch collects its changes only then. */
    boolean any() {
        return watches.get().length != 0;
    }

    /** Whether some watch's prefix is a prefix of {@code key}: whether a change of it is to be told. */
    boolean wants(byte[] key) {
        for (Watch watch : watches.get()) {
            if (startsWith(key, watch.prefix)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Takes a slot in every watch whose prefix {@code key} has, for a change about to be linked onto a leaf
     * version the caller has read: the caller must {@link Slots#fill} or {@link Slots#cancel} them.
     *
     * @return the slots, or {@code null} if no watch wants the change
     */
    Slots reserve(byte[] key) {
        Watch[] current = watches.get();
        if (current.length == 0) {
            return null;
        }
        Slot[] taken = null;
        int count = 0;
        for (Watch watch : current) {
            if (startsWith(key, watch.prefix)) {
                Slot slot = watch.take();
                if (slot != null) {
                    if (taken == null) {
                        taken = new Slot[current.length];
                    }
                    taken[count++] = slot;
                }
            }
        }
        return taken == null ? null : new Slots(taken, count);
    }

    /**
     * Delivers the changes of a batch just applied, each to the watches whose prefix its key has. The caller
     * holds the exclusive side, so every change before the batch has its slot already.
     */
    void publish(List<Change> changes) {
        take(changes).deliver();
    }

    /**
     * {@link #publish} in two steps, for a change sealed after its caller let go of the exclusive side (a clear, whose
     * frees run beside writers): the slots are taken now, while the caller holds it, so that each watch's event
     * comes after every change before and before every change after; {@link Taken#deliver} once the change is
     * sealed, or {@link Taken#cancel} if it failed.
     */
    Taken take(List<Change> changes) {
        List<Slot> slots = new ArrayList<>();
        List<WatchEvent> events = new ArrayList<>();
        for (Watch watch : watches.get()) {
            List<Change> under = null;
            for (Change change : changes) {
                if (change.startsWith(watch.prefix)) {
                    if (under == null) {
                        under = new ArrayList<>();
                    }
                    under.add(change);
                }
            }
            if (under != null) {
                Slot slot = watch.take();
                if (slot != null) {
                    slots.add(slot);
                    events.add(new WatchEvent(tree, under));
                }
            }
        }
        return new Taken(slots, events);
    }

    /** Slots taken for a change's events ({@link #take}), each with the event of its watch. */
    static final class Taken {
        private final List<Slot> slots;
        private final List<WatchEvent> events;

        private Taken(List<Slot> slots, List<WatchEvent> events) {
            this.slots = slots;
            this.events = events;
        }

        /** The change is sealed: each event goes to its watch in its turn. */
        void deliver() {
            for (int i = 0; i < slots.size(); i++) {
                slots.get(i).finish(events.get(i));
            }
        }

        /** The change failed: the watches go past the slots. */
        void cancel() {
            for (Slot slot : slots) {
                slot.finish(CANCELLED);
            }
        }
    }

    /**
     * Ends every watch: completes them ({@code cause == null}) after the events they hold, or fails them
     * with {@code cause}; later subscriptions fail with {@code cause} or an error saying the store closed.
     * The caller holds the exclusive side (or abandons the store, as a crash would).
     */
    void endAll(RuntimeException cause) {
        whyEnded = cause != null ? cause : new IllegalStateException("the store is closed: the tree '" + tree
                + "' cannot be watched any more");
        for (Watch watch : watches.getAndSet(ENDED)) {
            watch.endNow(cause);
        }
    }

    /**
     * A publisher of the changes under {@code prefix}; each subscription is a watch of its own, from the
     * moment of its {@code subscribe}. {@code admit} runs the watch's registration with the tree's writers'
     * side held, or throws why the tree cannot be watched (the subscriber then gets that error).
     */
    Flow.Publisher<WatchEvent> publisher(byte[] prefix, boolean durable, Executor executor, int capacity,
            Consumer<Runnable> admit) {
        return publisher(prefix, durable, executor, capacity, admit, null);
    }

    /**
     * As {@link #publisher(byte[], boolean, Executor, int, Consumer)}, each watch beginning with the prefix's
     * state.
     *
     * @param currentState {@code null} for the changes alone; else what the entries under a prefix are now, for
     *     a first, {@linkplain WatchEvent#initial() initial} event: then {@code admit} must hold the exclusive
     *     side, so that no writer holds a slot or changes the prefix between the registration and the read,
     *     and the initial event takes the queue's first slot
     */
    Flow.Publisher<WatchEvent> publisher(byte[] prefix, boolean durable, Executor executor, int capacity,
            Consumer<Runnable> admit, Function<byte[], List<Change>> currentState) {
        byte[] watched = prefix.clone();
        return subscriber -> {
            Objects.requireNonNull(subscriber, "the subscriber is null");
            Watch watch = new Watch(this, watched, durable, executor, capacity);
            // subscribed before it is registered, so the publisher has someone to buffer the first event for
            watch.publisher.subscribe(new Forwarding(subscriber, watch));
            try {
                admit.accept(() -> {
                    add(watch);
                    if (currentState != null) {
                        Slot first = watch.take();
                        if (first != null) {
                            first.finish(new WatchEvent(tree, currentState.apply(watched), true));
                        }
                    }
                });
            } catch (RuntimeException e) {
                watch.endNow(e);
            }
        };
    }

    /**
     * Adds {@code watch}, unless the tree's watches ended: a watch added before {@link #endAll} swaps the
     * registry is ended by it, one that comes after finds {@link #ENDED}.
     */
    private void add(Watch watch) {
        Watch[] current;
        Watch[] next;
        do {
            current = watches.get();
            if (current == ENDED) {
                throw whyEnded;
            }
            next = Arrays.copyOf(current, current.length + 1);
            next[current.length] = watch;
        } while (!watches.compareAndSet(current, next));
    }

    private void remove(Watch watch) {
        Watch[] current;
        Watch[] next;
        do {
            current = watches.get();
            int at = Arrays.asList(current).indexOf(watch);
            if (at < 0) {
                return;
            }
            next = new Watch[current.length - 1];
            System.arraycopy(current, 0, next, 0, at);
            System.arraycopy(current, at + 1, next, at, next.length - at);
        } while (!watches.compareAndSet(current, next));
    }

    /** The watches registered now (tests). */
    int size() {
        return watches.get().length;
    }

    static boolean startsWith(byte[] key, byte[] prefix) {
        return key.length >= prefix.length && Arrays.mismatch(key, 0, prefix.length, prefix, 0, prefix.length) < 0;
    }

    /** The slots one single-key change took. */
    static final class Slots {
        private final Slot[] slots;
        private final int count;

        private Slots(Slot[] slots, int count) {
            this.slots = slots;
            this.count = count;
        }

        /** The change was made: its event goes to the watches in its turn. */
        void fill(WatchEvent event) {
            for (int i = 0; i < count; i++) {
                slots[i].finish(event);
            }
        }

        /** The change was not made (its CAS failed, or it threw): the watches go past the slots. */
        void cancel() {
            for (int i = 0; i < count; i++) {
                slots[i].finish(CANCELLED);
            }
        }
    }

    private static final class Slot {
        private final Watch watch;
        /** {@code null} while the change is being made, then its {@link WatchEvent} or {@link #CANCELLED}. */
        private volatile Object state;
        /** A durable watch's: the log position past which the change is stable; written before {@link #state}. */
        private long mark;

        Slot(Watch watch) {
            this.watch = watch;
        }

        void finish(Object outcome) {
            if (watch.durable && outcome != CANCELLED) {
                mark = watch.owner.stability.reservedTip();
            }
            state = outcome;
            watch.drain();
            if (watch.durable && outcome != CANCELLED) {
                watch.holdIfBehind(mark);
            }
        }

        /** Whether the slot may go to the subscriber (or be dropped, if cancelled) now. */
        boolean ready() {
            Object outcome = state;
            return outcome != null && (!watch.durable || outcome == CANCELLED || watch.stable(mark));
        }
    }

    /** One subscription's watch. */
    private static final class Watch {
        private final Watchers owner;
        private final byte[] prefix;
        private final boolean durable;
        private final int waitingSlots;
        /**
         * A durable watch holds a writer back once more slots than this wait for the disk ({@link #holdIfBehind}):
         * half its buffer, so that what one flush makes durable fits into the buffer at once.
         */
        private final int holdAbove;
        /** Buffers for the subscriber and delivers on its executor. */
        private final SubmissionPublisher<WatchEvent> publisher;
        private final ConcurrentLinkedQueue<Slot> slots = new ConcurrentLinkedQueue<>();
        /** Slots in {@link #slots}: taken and not yet drained. */
        private final AtomicInteger waiting = new AtomicInteger();
        private final AtomicBoolean draining = new AtomicBoolean();
        /**
         * Why the watch must end (it fell behind, its executor refused a delivery, the store could not make a
         * change durable); acted on by the next drain.
         */
        private volatile RuntimeException failure;
        /** Written under {@link #draining} only. */
        private volatile boolean ended;
        /** The highest mark a stability request is out for ({@link #awaitStable}); under {@link #draining}. */
        private long requested = -1;

        Watch(Watchers owner, byte[] prefix, boolean durable, Executor executor, int capacity) {
            this.owner = owner;
            this.prefix = prefix;
            this.durable = durable;
            this.waitingSlots = Math.max(capacity, MIN_WAITING_SLOTS);
            this.holdAbove = Math.max(1, capacity / 2);
            this.publisher = new SubmissionPublisher<>(executor, capacity);
        }

        /** A new slot at the queue's tail, or {@code null} if the watch ended or is ending. */
        Slot take() {
            if (ended || failure != null) {
                return null;
            }
            if (waiting.incrementAndGet() > waitingSlots) {
                fail(waitingSlots + " events waiting behind a change still being made"
                        + (durable ? " or made durable" : ""));
                drain();
                return null;
            }
            Slot slot = new Slot(this);
            slots.add(slot);
            return slot;
        }

        private void fail(String what) {
            failure = new WatchOverflowException("the watch of prefix " + TreeNode.show(prefix) + " (hex) of tree '"
                    + owner.tree + "' had " + what + "; subscribe again, then read the prefix, with a larger buffer "
                    + "or a faster subscriber");
        }

        /** Hands the finished head slots to the publisher, in order; see the class notes. */
        void drain() {
            do {
                if (!draining.compareAndSet(false, true)) {
                    return;
                }
                try {
                    handOnReady();
                    Slot head = slots.peek();
                    if (!ended && failure == null && head != null && head.state instanceof WatchEvent) {
                        awaitStable(head.mark); // a durable watch's head, not stable yet
                    }
                    if (failure != null) {
                        end(failure);
                    }
                } finally {
                    draining.set(false);
                }
            } while (mayDrain());
        }

        /** Hands the ready head slots on, in order; the caller holds {@link #draining}. */
        private void handOnReady() {
            Slot head;
            while (!ended && failure == null && (head = slots.peek()) != null && head.ready()) {
                slots.poll();
                waiting.decrementAndGet();
                if (head.state instanceof WatchEvent event) {
                    offer(event);
                }
            }
        }

        boolean stable(long mark) {
            return owner.stability.stableTip() > mark;
        }

        /**
         * Holds the writer that filled a slot at {@code mark} until its change is durable, then drains, if more
         * than {@link #holdAbove} slots wait and its change is not durable yet: writes are outrunning the disk,
         * and the slots waiting for it would otherwise fill the queue and end the watch with an overflow (the
         * lag of a durable watch is the writes of one flush, which no buffer bounds). So the writer waits for
         * the disk, as a flush would, never for the subscriber; past half the buffer, so that the events one
         * flush hands on fit into it, and writers already between taking a slot and filling it into the queue.
         * (The state of the queue's head is not asked: a drain on another thread may be handing it on.) A
         * writer that cannot wait (interrupted, inside its own atomic batch, or the store failing) goes on: the
         * watch's own request ({@link #awaitStable}) still delivers the events, or ends the watch if the store
         * cannot make them durable.
         */
        void holdIfBehind(long mark) {
            // An ended watch holds nobody: its count of waiting slots is left as it was when it ended.
            if (ended || waiting.get() <= holdAbove || stable(mark)) {
                return;
            }
            owner.counters.writersHeld.increment();
            try {
                owner.stability.awaitStable(mark);
            } catch (RuntimeException cannotWait) {
                return;
            }
            drain();
        }

        /**
         * Has the store make the log stable past {@code mark} and drains again then; nothing if a request
         * already covers it. The caller holds {@link #draining}; the request never blocks, so any drainer
         * makes it (a writer, the thread completing an earlier request). A request completed at once drains
         * through the caller's loop ({@link #mayDrain}).
         */
        private void awaitStable(long mark) {
            if (mark <= requested) {
                return;
            }
            requested = mark;
            try {
                owner.stability.stableAsync(mark).whenComplete((tip, error) -> {
                    if (error != null && failure == null) {
                        failure = cannotMakeDurable(error);
                    }
                    drain();
                });
            } catch (RuntimeException e) { // the store closed or failed: the caller's drain ends the watch
                failure = cannotMakeDurable(e);
            }
        }

        private IllegalStateException cannotMakeDurable(Throwable cause) {
            return new IllegalStateException("the watch of prefix " + TreeNode.show(prefix) + " (hex) of tree '"
                    + owner.tree + "' ended: the store could not make a change durable (" + cause + ")", cause);
        }

        private void offer(WatchEvent event) {
            owner.counters.events.increment(); // before the subscriber may see it; taken back if dropped
            try {
                int lag = publisher.offer(event, (subscriber, dropped) -> {
                    fail(publisher.getMaxBufferCapacity() + " events its subscriber had not taken");
                    return false;
                });
                if (lag < 0) {
                    owner.counters.events.decrement();
                }
            } catch (RuntimeException e) { // the executor refused the delivery: the subscriber would hear nothing
                owner.counters.events.decrement();
                failure = new IllegalStateException("the watch of prefix " + TreeNode.show(prefix) + " (hex) of tree '"
                        + owner.tree + "' could not deliver an event: its executor refused it (" + e + ")", e);
            }
        }

        private boolean mayDrain() {
            if (ended) {
                return false;
            }
            Slot head = slots.peek();
            return head != null && head.ready() || failure != null;
        }

        /** Ends the watch from outside a drain: waits for the flag (a drain holds it only briefly). */
        void endNow(Throwable cause) {
            while (!draining.compareAndSet(false, true)) {
                Thread.onSpinWait();
            }
            try {
                if (cause == null) {
                    handOnReady(); // a close: the events of changes made (and made durable) before it
                }
                end(cause);
            } finally {
                draining.set(false);
            }
        }

        /** Completes ({@code cause == null}) or fails the subscription; the caller holds {@link #draining}. */
        private void end(Throwable cause) {
            if (ended) {
                return;
            }
            ended = true;
            if (cause instanceof WatchOverflowException) {
                owner.counters.overflowed.increment();
            }
            owner.remove(this);
            slots.clear();
            if (cause == null) {
                publisher.close();
            } else {
                publisher.closeExceptionally(cause);
            }
        }
    }

    /**
     * The subscriber as the publisher sees it: a cancel, or an exception thrown at the publisher (which then
     * drops the subscriber), also removes the watch, so writers stop taking slots in it.
     */
    private static final class Forwarding implements Flow.Subscriber<WatchEvent> {
        private final Flow.Subscriber<? super WatchEvent> subscriber;
        private final Watch watch;

        Forwarding(Flow.Subscriber<? super WatchEvent> subscriber, Watch watch) {
            this.subscriber = subscriber;
            this.watch = watch;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            subscriber.onSubscribe(new Flow.Subscription() {
                @Override
                public void request(long n) {
                    subscription.request(n);
                }

                @Override
                public void cancel() {
                    watch.owner.remove(watch);
                    subscription.cancel();
                }
            });
        }

        @Override
        public void onNext(WatchEvent event) {
            try {
                subscriber.onNext(event);
            } catch (RuntimeException | Error e) {
                watch.owner.remove(watch);
                throw e;
            }
        }

        @Override
        public void onError(Throwable error) {
            watch.owner.remove(watch);
            subscriber.onError(error);
        }

        @Override
        public void onComplete() {
            watch.owner.remove(watch);
            subscriber.onComplete();
        }
    }
}
