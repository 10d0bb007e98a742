package dev.toboggan;

import static dev.toboggan.TestKeys.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.Failpoints;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.Jitter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link Tree#watchPrefix}: which changes a watch reports, in which order, and how it ends. */
@Timeout(60)
class WatchTest {
    private final SimulatedStorage disk = new SimulatedStorage();
    private final Store db = PageCacheBackend.openSmall(disk);
    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void close() {
        Failpoints.reset();
        Jitter.activate(false);
        db.close();
        pool.shutdownNow();
    }

    /** A subscriber that takes every event as it comes and records how its watch ended. */
    static class Recorder implements Flow.Subscriber<WatchEvent> {
        final BlockingQueue<WatchEvent> events = new LinkedBlockingQueue<>();
        final CompletableFuture<Void> end = new CompletableFuture<>();
        final AtomicReference<Flow.Subscription> subscription = new AtomicReference<>();
        private final long initialDemand;

        Recorder() {
            this(Long.MAX_VALUE);
        }

        Recorder(long initialDemand) {
            this.initialDemand = initialDemand;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription.set(s);
            if (initialDemand > 0) {
                s.request(initialDemand);
            }
        }

        @Override
        public void onNext(WatchEvent event) {
            events.add(event);
        }

        @Override
        public void onError(Throwable error) {
            end.completeExceptionally(error);
        }

        @Override
        public void onComplete() {
            end.complete(null);
        }

        WatchEvent next() throws InterruptedException {
            WatchEvent event = events.poll(10, TimeUnit.SECONDS);
            assertThat(event).as("an event within 10 s (the watch: %s)", end).isNotNull();
            return event;
        }

        /** Each event as "key=value" or "key removed", one string per event, changes joined by ", ". */
        List<String> take(int count) throws InterruptedException {
            List<String> shown = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                shown.add(show(next()));
            }
            return shown;
        }

        void expectNoMore() throws InterruptedException {
            assertThat(events.poll(200, TimeUnit.MILLISECONDS)).as("no further event").isNull();
        }
    }

    static String show(WatchEvent event) {
        List<String> changes = new ArrayList<>();
        for (Change change : event.changes()) {
            String key = text(change.key());
            changes.add(change.isRemoval() ? key + " removed" : key + "=" + text(change.value()));
        }
        return String.join(", ", changes);
    }

    private static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** The default tree's registered watches. */
    private int watches() {
        return ((BLinkTree) db.tree(Db.DEFAULT_TREE)).watchCount();
    }

    private Recorder watch(Tree tree, String prefix) {
        Recorder recorder = new Recorder();
        tree.watchPrefix(utf8(prefix)).subscribe(recorder);
        return recorder;
    }

    @Test
    void eachSingleKeyChangeUnderThePrefixIsOneEventInTheOrderTheyWereMade() throws Exception {
        Recorder users = watch(db, "user/");
        Recorder all = watch(db, "");
        db.insert(utf8("user/1"), utf8("ann"));
        db.insert(utf8("order/1"), utf8("book"));
        db.insert(utf8("user/2"), utf8("bo"));
        db.remove(utf8("user/1"));
        db.remove(utf8("user/9")); // absent: nothing changed, nothing reported
        assertThat(db.compareAndSwap(utf8("user/2"), utf8("bo"), utf8("bob")).succeeded()).isTrue();
        assertThat(db.compareAndSwap(utf8("user/2"), utf8("bo"), utf8("x")).succeeded()).isFalse();
        assertThat(db.compareAndSwap(utf8("user/3"), null, null).succeeded()).isTrue(); // no change
        db.updateAndFetch(utf8("user/2"), v -> utf8(text(v) + "!"));
        db.compareAndSwap(utf8("user/2"), utf8("bob!"), null);
        assertThat(users.take(6)).containsExactly("user/1=ann", "user/2=bo", "user/1 removed", "user/2=bob",
                "user/2=bob!", "user/2 removed");
        users.expectNoMore();
        assertThat(all.take(7)).containsExactly("user/1=ann", "order/1=book", "user/2=bo", "user/1 removed",
                "user/2=bob", "user/2=bob!", "user/2 removed");
    }

    @Test
    void anEventsArraysAreCopiesAndNamesItsTree() throws Exception {
        Tree accounts = db.tree("accounts");
        Recorder recorder = watch(accounts, "");
        byte[] key = utf8("k");
        byte[] value = utf8("v1");
        accounts.insert(key, value);
        key[0] = 'x';
        value[1] = '9';
        WatchEvent event = recorder.next();
        assertThat(event.tree()).isEqualTo("accounts");
        Change change = event.changes().get(0);
        assertThat(change.key()).as("the caller's array changed after the insert").isEqualTo(utf8("k"));
        change.value()[0] = 'z';
        assertThat(change.value()).isEqualTo(utf8("v1"));
        assertThat(change).isEqualTo(new Change(utf8("k"), utf8("v1")));
        assertThat(change.toString()).isEqualTo("set 6b to 2 bytes");
        assertThatThrownBy(() -> event.changes().add(change)).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void aBatchOrATransactionIsOneEventWithItsChangesUnderThePrefix() throws Exception {
        db.insert(utf8("user/gone"), utf8("x"));
        Recorder users = watch(db, "user/");
        Recorder orders = watch(db.tree("orders"), "");
        db.applyBatch(new Batch().insert(utf8("user/1"), utf8("a")).insert(utf8("other"), utf8("o"))
                .remove(utf8("user/absent")).remove(utf8("user/gone")).insert(utf8("user/1"), utf8("b")));
        assertThat(users.take(1)).containsExactly("user/1=a, user/gone removed, user/1=b");
        db.applyBatch(new Batch().insert(utf8("other"), utf8("p")).remove(utf8("user/absent")));
        db.applyBatches(Map.of(Db.DEFAULT_TREE, new Batch().insert(utf8("user/2"), utf8("c")),
                "orders", new Batch().insert(utf8("o1"), utf8("pen")).insert(utf8("o2"), utf8("ink"))));
        assertThat(users.take(1)).as("the batch without a change under the prefix sent nothing")
                .containsExactly("user/2=c");
        assertThat(orders.take(1)).containsExactly("o1=pen, o2=ink");
        db.transaction(tx -> {
            byte[] count = tx.get(utf8("user/2"));
            tx.insert(utf8("user/3"), count);
            tx.remove(utf8("user/1"));
            tx.tree("orders").insert(utf8("o3"), utf8("cap"));
            return null;
        });
        assertThat(users.take(1)).containsExactly("user/1 removed, user/3=c");
        assertThat(orders.take(1)).containsExactly("o3=cap");
        assertThatThrownBy(() -> db.transaction(tx -> {
            tx.insert(utf8("user/4"), utf8("d"));
            throw new IllegalStateException("abort");
        })).hasMessage("abort");
        db.insert(utf8("user/5"), utf8("e"));
        assertThat(users.take(1)).as("the aborted transaction sent nothing").containsExactly("user/5=e");
    }

    @Test
    void aClearIsOneEventWithEveryRemovedKeyUnderThePrefixInKeyOrder() throws Exception {
        Tree tree = db.tree("t");
        for (int i = 0; i < 300; i++) { // several leaves
            tree.insert(utf8("user/" + (1000 + i)), utf8("u"));
            tree.insert(utf8("order/" + i), utf8("o"));
        }
        Recorder users = watch(tree, "user/");
        Recorder all = watch(tree, "");
        Recorder defaults = watch(db, "");
        assertThat(tree.clear()).isEqualTo(600);
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            expected.add("user/" + (1000 + i) + " removed");
        }
        assertThat(users.take(1)).containsExactly(String.join(", ", expected));
        assertThat(all.next().changes()).hasSize(600);
        assertThat(tree.clear()).as("an empty tree").isZero();
        tree.insert(utf8("user/new"), utf8("n"));
        assertThat(users.take(1)).as("the empty tree's clear sent nothing; the watch goes on").containsExactly("user/new=n");
        defaults.expectNoMore();
    }

    /**
     * A clear's pages are freed after writers go on again: a write of the tree made meanwhile comes after the clear's
     * event, in both kinds of delivery (the clear's slots are taken before the writers go on, its event sent after
     * its batch is sealed).
     */
    @Test
    void aWriteMadeWhileAClearsPagesAreFreedComesAfterItsEvent() throws Exception {
        for (WatchDelivery delivery : WatchDelivery.values()) {
            Tree tree = db.tree("t-" + delivery);
            for (int i = 0; i < 300; i++) {
                tree.insert(utf8("user/" + (1000 + i)), utf8("u"));
            }
            Recorder users = new Recorder();
            tree.watchPrefix(utf8("user/"), delivery).subscribe(users);
            Thread clearing = Thread.currentThread();
            // its first free comes after the structure change: the frees start there
            AtomicBoolean firstFree = new AtomicBoolean(true);
            AtomicReference<Throwable> beside = new AtomicReference<>();
            Failpoints.callback("pagecache.reserve.free", () -> {
                if (Thread.currentThread() == clearing && firstFree.compareAndSet(true, false)) {
                    try {
                        CompletableFuture.runAsync(() -> tree.insert(utf8("user/after"), utf8("a")))
                                .get(10, TimeUnit.SECONDS);
                    } catch (Exception e) {
                        beside.set(e);
                    }
                }
            });
            try {
                assertThat(tree.clear()).isEqualTo(300);
            } finally {
                Failpoints.reset();
            }
            assertThat(beside.get()).as("%s: the write beside the frees", delivery).isNull();
            assertThat(users.next().changes()).as("%s: the clear's event first", delivery).hasSize(300);
            assertThat(users.take(1)).as(delivery.toString()).containsExactly("user/after=a");
            assertThat(tree.get(utf8("user/after"))).isEqualTo(utf8("a"));
        }
    }

    @Test
    void anEventComesOnceItsChangeCanBeRead() throws Exception {
        List<String> seen = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(200);
        db.watchPrefix(utf8("")).subscribe(new Recorder() {
            @Override
            public void onNext(WatchEvent event) {
                for (Change change : event.changes()) {
                    byte[] now = db.get(change.key());
                    long reported = Long.parseLong(text(change.value()));
                    if (now == null || Long.parseLong(text(now)) < reported) {
                        seen.add(text(change.key()) + " reported " + reported + ", read " + (now == null ? null : text(now)));
                    }
                }
                done.countDown();
            }
        });
        for (int i = 1; i <= 100; i++) {
            db.insert(utf8("k" + i % 7), utf8(Long.toString(i)));
            db.applyBatch(new Batch().insert(utf8("k" + i % 5), utf8(Long.toString(i))));
        }
        assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(seen).as("events whose change a read did not see").isEmpty();
    }

    /**
     * Writers on four threads increment counters (compare-and-swap loops) on a few keys, while another one
     * inserts and removes filler keys among them, so leaves split and merge under the counters (tiny nodes);
     * the page cache's jitter varies the interleavings. Every successful increment is an event, and a key's
     * events must count 1, 2, 3, ... in order: any two changes of a key reported out of order break the run.
     */
    @Test
    void aWatchWithStateBeginsWithThePrefixAsItWasThenEveryLaterChange() throws Exception {
        db.insert(utf8("user/2"), utf8("bo"));
        db.insert(utf8("order/1"), utf8("book"));
        db.insert(utf8("user/1"), utf8("ann"));
        Recorder users = new Recorder();
        db.watchPrefixWithState(utf8("user/"), WatchDelivery.APPLIED).subscribe(users);
        Recorder none = new Recorder();
        db.tree("empty").watchPrefixWithState(utf8(""), WatchDelivery.APPLIED).subscribe(none);
        db.insert(utf8("user/3"), utf8("cy"));
        db.insert(utf8("order/2"), utf8("pen"));
        db.remove(utf8("user/1"));
        db.applyBatch(new Batch().insert(utf8("user/2"), utf8("bob")).insert(utf8("user/4"), utf8("di")));
        WatchEvent state = users.next();
        assertThat(state.initial()).isTrue();
        assertThat(state.tree()).isEqualTo(Db.DEFAULT_TREE);
        assertThat(show(state)).as("in key order").isEqualTo("user/1=ann, user/2=bo");
        List<WatchEvent> changes = List.of(users.next(), users.next(), users.next());
        assertThat(changes).noneMatch(WatchEvent::initial);
        assertThat(changes.stream().map(WatchTest::show)).containsExactly("user/3=cy", "user/1 removed",
                "user/2=bob, user/4=di");
        users.expectNoMore();
        WatchEvent empty = none.next();
        assertThat(empty.initial()).isTrue();
        assertThat(empty.changes()).as("a prefix that held nothing").isEmpty();
        none.expectNoMore();
    }

    /**
     * Watches with state subscribed while writers count keys up by one: after the initial event, each key's
     * events count on from the state's value one by one (none repeated, none missed), and each watch's view
     * ends at the tree's counts once the writers stop.
     */
    @Test
    void watchesWithStateSubscribedWhileWritersWriteNeverGoBackAndEndAtTheTreesState() throws Exception {
        Jitter.activate(true);
        int keys = 40;
        AtomicBoolean stop = new AtomicBoolean();
        List<Future<?>> writers = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            writers.add(pool.submit(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                while (!stop.get()) {
                    byte[] key = utf8("n/" + random.nextInt(keys));
                    if (random.nextInt(4) == 0) {
                        // a batch's event: the commit of a transaction, which counts up atomically as well
                        db.transaction(tx -> {
                            tx.insert(key, count(tx.get(key)));
                            return null;
                        });
                    } else {
                        db.updateAndFetch(key, WatchTest::count);
                    }
                }
                return null;
            }));
        }
        List<Map<String, Long>> views = new ArrayList<>();
        List<Recorder> recorders = new ArrayList<>();
        List<AtomicReference<String>> wrongs = new ArrayList<>();
        for (int w = 0; w < 12; w++) {
            Thread.sleep(5);
            Map<String, Long> view = new java.util.concurrent.ConcurrentHashMap<>();
            AtomicReference<String> wrong = new AtomicReference<>();
            Recorder recorder = new Recorder() {
                private boolean first = true;

                @Override
                public void onNext(WatchEvent event) {
                    if (event.initial() != first) {
                        wrong.compareAndSet(null, "event initial=" + event.initial() + " where first=" + first);
                    }
                    for (Change change : event.changes()) {
                        long n = ByteBuffer.wrap(change.value()).getLong();
                        Long before = view.put(text(change.key()), n);
                        // Each change counts its key up by one: after the state, every change comes once, in order
                        // (a change the state held, again, or one missed, breaks the run of counts).
                        long expected = before == null ? 1 : before + 1;
                        if (!first && n != expected) {
                            wrong.compareAndSet(null, text(change.key()) + " went from " + before + " to " + n);
                        }
                    }
                    first = false;
                    super.onNext(event);
                }

                @Override
                public void onError(Throwable error) {
                    wrong.compareAndSet(null, error.toString());
                    super.onError(error);
                }
            };
            (w % 2 == 0 ? db.watchPrefixWithState(utf8("n/"), WatchDelivery.APPLIED, pool, 1 << 16)
                    : db.watchPrefixWithState(utf8("n/"), WatchDelivery.DURABLE, pool, 1 << 16)).subscribe(recorder);
            views.add(view);
            recorders.add(recorder);
            wrongs.add(wrong);
        }
        Thread.sleep(50);
        stop.set(true);
        for (Future<?> writer : writers) {
            writer.get(30, TimeUnit.SECONDS);
        }
        db.flush(); // the durable watches' last events
        Map<String, Long> tree = new HashMap<>();
        for (Map.Entry<byte[], byte[]> e : (Iterable<Map.Entry<byte[], byte[]>>) () -> db.scanPrefix(utf8("n/"))) {
            tree.put(text(e.getKey()), ByteBuffer.wrap(e.getValue()).getLong());
        }
        for (int w = 0; w < views.size(); w++) {
            Map<String, Long> view = views.get(w);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!view.equals(tree) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(wrongs.get(w).get()).as("watch %d", w).isNull();
            assertThat(view).as("watch %d's view once the writers stopped", w).isEqualTo(tree);
            assertThat(recorders.get(w).end).as("watch %d still runs", w).isNotDone();
        }
    }

    private static byte[] count(byte[] value) {
        return ByteBuffer.allocate(8).putLong(value == null ? 1 : ByteBuffer.wrap(value).getLong() + 1).array();
    }

    @Test
    void changesOfAKeyArriveInTheOrderTheyWereMadeAcrossThreadsSplitsAndMerges() throws Exception {
        Jitter.activate(true);
        int threads = 4;
        int increments = 1500;
        int counters = 6;
        Map<String, List<Long>> counts = new HashMap<>();
        CompletableFuture<Void> allSeen = new CompletableFuture<>();
        int expected = threads * increments;
        db.watchPrefix(utf8("c/"), pool, 1 << 16).subscribe(new Recorder() {
            private int increments;

            @Override
            public void onNext(WatchEvent event) {
                for (Change change : event.changes()) {
                    String key = text(change.key());
                    if (key.endsWith("/n")) {
                        counts.computeIfAbsent(key, k -> new ArrayList<>()).add(ByteBuffer.wrap(change.value()).getLong());
                        if (++increments == expected) {
                            allSeen.complete(null);
                        }
                    }
                }
            }

            @Override
            public void onError(Throwable error) {
                allSeen.completeExceptionally(error);
            }
        });
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> writers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            writers.add(pool.submit(() -> {
                start.await();
                ThreadLocalRandom random = ThreadLocalRandom.current();
                for (int i = 0; i < increments; i++) {
                    db.updateAndFetch(utf8("c/" + random.nextInt(counters) + "/n"), v -> ByteBuffer.allocate(8)
                            .putLong(v == null ? 1 : ByteBuffer.wrap(v).getLong() + 1).array());
                }
                return null;
            }));
        }
        Future<?> filler = pool.submit(() -> {
            start.await();
            ThreadLocalRandom random = ThreadLocalRandom.current();
            while (!Thread.currentThread().isInterrupted() && !writers.stream().allMatch(Future::isDone)) {
                String key = "c/" + random.nextInt(counters) + "/f" + random.nextInt(20);
                if (random.nextInt(3) != 0) {
                    db.insert(utf8(key), new byte[16]);
                } else {
                    db.remove(utf8(key));
                }
            }
            return null;
        });
        start.countDown();
        for (Future<?> writer : writers) {
            writer.get(50, TimeUnit.SECONDS);
        }
        filler.get(10, TimeUnit.SECONDS);
        allSeen.get(20, TimeUnit.SECONDS);
        long total = 0;
        for (int c = 0; c < counters; c++) {
            String key = "c/" + c + "/n";
            List<Long> values = counts.getOrDefault(key, List.of());
            for (int i = 0; i < values.size(); i++) {
                assertThat(values.get(i)).as("event %d of %s", i, key).isEqualTo(i + 1);
            }
            byte[] stored = db.get(utf8(key));
            assertThat(stored == null ? 0 : ByteBuffer.wrap(stored).getLong()).as("the last event of %s is its value", key)
                    .isEqualTo(values.size());
            total += values.size();
        }
        assertThat(total).isEqualTo(expected);
    }

    /**
     * Watches come and go while writers write: two threads subscribe (applied and durable watches of random
     * prefixes), take a few events and cancel, over and over, while three threads write (inserts, removes,
     * batches) under the page cache's jitter. No write fails, every watch that took an event got events under
     * its prefix only, and once all are cancelled none is left registered.
     */
    @Test
    void watchesSubscribedAndCancelledWhileWritersWriteLeaveNothingBehind() throws Exception {
        Jitter.activate(true);
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        List<Future<?>> writers = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            int thread = t;
            writers.add(pool.submit(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                while (!stop.get()) {
                    String key = (char) ('a' + random.nextInt(4)) + "/" + thread + "/" + random.nextInt(50);
                    int roll = random.nextInt(10);
                    if (roll < 6) {
                        db.insert(utf8(key), utf8("v" + random.nextInt(1000)));
                    } else if (roll < 9) {
                        db.remove(utf8(key));
                    } else {
                        db.applyBatch(new Batch().insert(utf8(key), utf8("b")).remove(utf8(key + "x")));
                    }
                }
                return null;
            }));
        }
        List<String> wrong = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.atomic.AtomicInteger withEvents = new java.util.concurrent.atomic.AtomicInteger();
        List<Future<?>> watchers = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            watchers.add(pool.submit(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                for (int round = 0; round < 150; round++) {
                    String prefix = random.nextBoolean() ? "" : String.valueOf((char) ('a' + random.nextInt(4)));
                    Recorder recorder = new Recorder();
                    db.watchPrefix(utf8(prefix), random.nextBoolean() ? WatchDelivery.APPLIED : WatchDelivery.DURABLE,
                            pool, 64).subscribe(recorder);
                    WatchEvent event = recorder.events.poll(random.nextInt(1, 20), TimeUnit.MILLISECONDS);
                    if (event != null) {
                        withEvents.incrementAndGet();
                        for (Change change : event.changes()) {
                            if (!text(change.key()).startsWith(prefix)) {
                                wrong.add(text(change.key()) + " under prefix '" + prefix + "'");
                            }
                        }
                    }
                    for (int wait = 0; wait < 1000 && recorder.subscription.get() == null && !recorder.end.isDone(); wait++) {
                        Thread.sleep(1);
                    }
                    if (recorder.subscription.get() != null) {
                        recorder.subscription.get().cancel();
                    }
                }
                return null;
            }));
        }
        for (Future<?> watcher : watchers) {
            watcher.get(50, TimeUnit.SECONDS);
        }
        stop.set(true);
        for (Future<?> writer : writers) {
            writer.get(10, TimeUnit.SECONDS);
        }
        assertThat(wrong).as("changes outside a watch's prefix").isEmpty();
        assertThat(withEvents.get()).as("watches that got an event before they were cancelled").isPositive();
        assertThat(watches()).as("watches left registered after all were cancelled or ended").isZero();
    }

    /**
     * One writer is held inside its change's link (a page cache failpoint) after it took its slot; the changes
     * other writers make meanwhile wait behind it and are not delivered, then arrive once it is done.
     * When more than a watch's waiting bound pile up, that watch ends with an overflow, and every write
     * still succeeds.
     */
    @Test
    void eventsWaitBehindAChangeStillBeingMadeAndAPileBeyondTheBoundEndsTheWatch() throws Exception {
        Recorder recorder = watch(db, "k");
        CountDownLatch release = new CountDownLatch(1);
        Thread writer = insertHeldInItsLink("k0", "first", release);
        for (int i = 1; i <= 10; i++) {
            db.insert(utf8("k" + i), utf8("v" + i));
        }
        recorder.expectNoMore();
        release.countDown();
        writer.join(10_000);
        List<String> events = recorder.take(11);
        List<String> others = new ArrayList<>(events);
        others.remove("k0=first");
        assertThat(others).as("the changes made while one was held, in order").containsExactly("k1=v1", "k2=v2",
                "k3=v3", "k4=v4", "k5=v5", "k6=v6", "k7=v7", "k8=v8", "k9=v9", "k10=v10");
        // first if its CAS went through after the hold; last if it failed (the others changed its leaf) and the
        // retry, made after all of them, took a new slot
        assertThat(List.of(events.get(0), events.get(10))).as("the held change, first or last").contains("k0=first");

        Recorder small = new Recorder();
        db.watchPrefix(utf8("k"), pool, Watchers.MIN_WAITING_SLOTS).subscribe(small);
        CountDownLatch releaseAgain = new CountDownLatch(1);
        Thread second = insertHeldInItsLink("k0", "second", releaseAgain);
        int pile = Watchers.MIN_WAITING_SLOTS + 10;
        for (int i = 1; i <= pile; i++) {
            db.insert(utf8("k" + i), utf8("w" + i));
        }
        releaseAgain.countDown();
        second.join(10_000);
        assertThat(small.end).failsWithin(10, TimeUnit.SECONDS).withThrowableOfType(Exception.class)
                .havingRootCause().isInstanceOf(WatchOverflowException.class)
                .withMessageContaining("had 64 events waiting behind a change still being made");
        assertThat(small.events).as("nothing of the pile delivered: it waited behind the held change").isEmpty();
        assertThat(db.get(utf8("k" + pile))).isEqualTo(utf8("w" + pile));
        assertThat(db.get(utf8("k0"))).isEqualTo(utf8("second"));
        assertThat(recorder.take(pile + 1)).as("the watch with room for them all").hasSize(pile + 1);
        assertThat(watches()).as("the ended watch is gone, the other one stays").isEqualTo(1);
    }

    /**
     * Starts a thread inserting {@code key}, held at its first link (after it took its watch slots) until
     * {@code release} opens; returns once it is held.
     */
    private Thread insertHeldInItsLink(String key, String value, CountDownLatch release) throws InterruptedException {
        CountDownLatch held = new CountDownLatch(1);
        Thread writer = new Thread(() -> db.insert(utf8(key), utf8(value)), "held-writer");
        Failpoints.callback("pagecache.reserve.link", () -> {
            if (Thread.currentThread() == writer && held.getCount() > 0) {
                held.countDown();
                try {
                    release.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        writer.start();
        assertThat(held.await(10, TimeUnit.SECONDS)).as("the writer held in its link").isTrue();
        return writer;
    }

    /** What a test runs under the engine, with its actor system and settings. */
    private interface EngineTest {
        void run(org.apache.pekko.actor.typed.ActorSystem<Void> system, dev.toboggan.engine.EngineSettings settings)
                throws Exception;
    }

    /**
     * Runs {@code test} with an actor system of its own and engine settings of segments of {@code segmentSize}
     * and a periodic flush an hour apart (so only what asks for a flush gets one), then stops the system.
     */
    private static void underTheEngine(String segmentSize, EngineTest test) throws Exception {
        org.apache.pekko.actor.typed.ActorSystem<Void> system = org.apache.pekko.actor.typed.ActorSystem.create(
                org.apache.pekko.actor.typed.javadsl.Behaviors.empty(), "watch-engine");
        try {
            test.run(system, dev.toboggan.engine.EngineSettings.fromConfig(com.typesafe.config.ConfigFactory.parseMap(
                    Map.of("toboggan.segment-size", segmentSize, "toboggan.flush-every", "1h")),
                    java.nio.file.Path.of("/store")));
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    /** Makes every fsync of the log take {@code millis} longer (a slow disk); {@link #close} resets it. */
    private static void slowForces(long millis) {
        Failpoints.callback("log.force", () -> {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    /**
     * A durable watch sends an event only once its change would survive a crash. Under the engine (its
     * periodic flush an hour apart, so only the watch's own requests make anything durable), one thread
     * writes keys once each in order (a fifth with values kept in pages of their own, each such write a page
     * cache batch, and now and then an eight-key batch); then the disk loses power and the store is abandoned.
     * Every key an event reported must be in the store as reopened. The events arrive without any flush of
     * the writer's. With {@link WatchDelivery#APPLIED} the check fails: nothing was flushed.
     */
    @Test
    void aDurableWatchReportsOnlyWhatSurvivesAPowerLoss() throws Exception {
        underTheEngine("16KiB", (system, settings) -> {
            SimulatedStorage engineDisk = new SimulatedStorage();
            TreeSettings trees = new TreeSettings(128, 24);
            Store store = Toboggan.open(settings, trees, system, engineDisk);
            java.util.Set<String> reported = java.util.concurrent.ConcurrentHashMap.newKeySet();
            Recorder watch = new Recorder() {
                @Override
                public void onNext(WatchEvent event) {
                    for (Change change : event.changes()) {
                        reported.add(TestKeys.hex(change.key()) + "=" + TestKeys.hex(change.value()));
                    }
                }
            };
            store.watchPrefix(new byte[0], WatchDelivery.DURABLE).subscribe(watch);
            int written = 0;
            for (int i = 0; i < 3000; i++) {
                store.insert(TestKeys.be(i), TestKeys.value(i, i % 5 == 0 ? 60 : 10));
                written++;
                if (i % 400 == 399) {
                    Batch batch = new Batch();
                    for (int k = 0; k < 8; k++) {
                        batch.insert(utf8("batch" + i + "/" + k), TestKeys.value(i + k, k % 2 == 0 ? 4 : 40));
                    }
                    store.applyBatch(batch);
                    written += 8;
                }
                if (i == 1500) {
                    int seen = written;
                    for (int wait = 0; wait < 1000 && reported.size() < seen; wait++) {
                        Thread.sleep(10);
                    }
                    assertThat(reported).as("events of changes the writer never flushed, half-way (the watch: %s)",
                            watch.end).hasSize(seen);
                }
            }
            List<String> before = new ArrayList<>(reported);
            engineDisk.powerLoss();
            store.abandon();
            Store reopened = Toboggan.open(settings, trees, system, engineDisk);
            try {
                List<String> lost = new ArrayList<>();
                for (String entry : before) {
                    String[] kv = entry.split("=");
                    byte[] value = reopened.get(TestKeys.hex(kv[0]));
                    if (value == null || !TestKeys.hex(value).equals(kv[1])) {
                        lost.add(entry);
                    }
                }
                assertThat(lost).as("changes reported durable that the power loss took (of %d reported)", before.size())
                        .isEmpty();
                TreeVerifier.verify(reopened);
            } finally {
                reopened.close();
            }
        });
    }

    /**
     * A writer far faster than the disk (each fsync 20 ms; the watch's buffer and queue hold 128): the watch
     * holds it back instead of overflowing, and every change still reaches it, in order.
     */
    @Test
    void aWriterOutrunningTheDiskIsHeldBackInsteadOfEndingADurableWatch() throws Exception {
        slowForces(20);
        Recorder watch = new Recorder();
        // delivered inside the drain: on a busy machine a subscriber thread of its own could fall 128 behind
        db.watchPrefix(utf8(""), WatchDelivery.DURABLE, Runnable::run, 128).subscribe(watch);
        int writes = 2000;
        List<String> made = new ArrayList<>();
        for (int i = 0; i < writes; i++) {
            byte[] value = TestKeys.value(i, i % 7 == 0 ? 200 : 8); // some in value pages of their own
            db.insert(utf8("k" + (i % 300)), value);
            made.add("k" + (i % 300) + "=" + text(value));
        }
        assertThat(watch.take(writes)).as("every change, in order").isEqualTo(made);
        assertThat(watch.end).as("the watch goes on").isNotDone();
        StoreMetrics.Watches metrics = db.metrics().watches();
        assertThat(metrics.writersHeld()).as("the writer was held for the disk").isPositive();
        assertThat(metrics.overflowed()).isZero();
        assertThat(metrics.events()).isEqualTo(writes);
    }

    /**
     * Under the engine, with the Flusher's fsyncs slowed to 5 ms: four writers and a batch writer behind a
     * durable watch of 128 events are held for the disk (while they hold the shared side, and the batch the exclusive
     * one), never wait for each other for good, and the watch neither overflows nor misses a key's last value.
     */
    @Test
    void writersAndBatchesHeldByADurableWatchUnderTheEngineAllFinishAndEveryKeyEndsAtItsLastValue()
            throws Exception {
        slowForces(5);
        underTheEngine("64KiB", (system, settings) -> {
            Store store = Toboggan.open(settings, new TreeSettings(128, 24), system, new SimulatedStorage());
            try {
                Map<String, String> last = new java.util.concurrent.ConcurrentHashMap<>();
                Recorder watch = new Recorder() {
                    @Override
                    public void onNext(WatchEvent event) {
                        for (Change change : event.changes()) {
                            last.put(text(change.key()), change.isRemoval() ? "removed" : text(change.value()));
                        }
                    }
                };
                // Delivered inside the drain: on a busy machine a subscriber thread of its own could fall the buffer
                // behind. 128 rather than less: a writer descheduled between its slot and its change lets the others
                // pile slots behind it (a pile the hold does not stop), about 80 ms of it to overflow this queue.
                store.watchPrefix(utf8(""), WatchDelivery.DURABLE, Runnable::run, 128).subscribe(watch);
                List<Future<?>> writers = new ArrayList<>();
                for (int w = 0; w < 4; w++) {
                    int writer = w;
                    writers.add(pool.submit(() -> {
                        for (int i = 0; i < 3000; i++) {
                            store.insert(utf8("w" + writer + "/" + (i % 200)), utf8("v" + i));
                        }
                    }));
                }
                writers.add(pool.submit(() -> {
                    for (int i = 0; i < 300; i++) {
                        Batch batch = new Batch();
                        batch.insert(utf8("b/" + (i % 20)), utf8("v" + i));
                        batch.remove(utf8("b/" + ((i + 7) % 20)));
                        store.applyBatch(batch);
                    }
                }));
                for (Future<?> writer : writers) {
                    writer.get(60, TimeUnit.SECONDS);
                }
                store.flush();
                Map<String, String> expected = new HashMap<>();
                store.range(null, null).forEachRemaining(e -> expected.put(text(e.getKey()), text(e.getValue())));
                for (int i = 0; i < 20; i++) {
                    expected.putIfAbsent("b/" + i, "removed");
                }
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!last.equals(expected) && System.nanoTime() < deadline && !watch.end.isDone()) {
                    Thread.sleep(10);
                }
                assertThat(watch.end).as("the watch goes on").isNotDone();
                assertThat(last).as("each key's last event is its value in the store").isEqualTo(expected);
                StoreMetrics.Watches metrics = store.metrics().watches();
                assertThat(metrics.writersHeld()).as("writers were held for the disk").isPositive();
                assertThat(metrics.overflowed()).isZero();
            } finally {
                store.close();
            }
        });
    }

    /** On a machine of two cores the common pool has one thread: the shorter forms must not share it. */
    @Test
    void aBlockedSubscriberOnTheDefaultExecutorDoesNotHoldUpAnotherWatch() throws Exception {
        CountDownLatch blocked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        db.watchPrefix(utf8("a/")).subscribe(new Recorder() {
            @Override
            public void onNext(WatchEvent event) {
                blocked.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        });
        Recorder other = watch(db, "b/");
        try {
            db.insert(utf8("a/1"), utf8("x"));
            assertThat(blocked.await(10, TimeUnit.SECONDS)).as("the first subscriber blocks").isTrue();
            db.insert(utf8("b/1"), utf8("y"));
            assertThat(show(other.next())).as("common pool parallelism %d", ForkJoinPool.getCommonPoolParallelism())
                    .isEqualTo("b/1=y");
        } finally {
            release.countDown();
        }
    }

    /** On the bare page cache too (its flushes on another thread), including values in pages of their own. */
    @Test
    void aDurableWatchSendsItsEventsOnceTheyAreStableWithoutAFlushOfTheWriters() throws Exception {
        List<Long> stableAtDelivery = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Long> reservedAfterWrite = new ArrayList<>();
        CountDownLatch all = new CountDownLatch(40);
        db.watchPrefix(utf8(""), WatchDelivery.DURABLE).subscribe(new Recorder() {
            @Override
            public void onNext(WatchEvent event) {
                stableAtDelivery.add(db.pageCache().log().stableTip());
                all.countDown();
            }
        });
        for (int i = 0; i < 40; i++) {
            db.insert(utf8("k" + i), new byte[i % 2 == 0 ? 8 : 100]);
            reservedAfterWrite.add(db.pageCache().log().maxReservedLsn());
        }
        assertThat(all.await(10, TimeUnit.SECONDS)).as("all 40 events, with no flush of the writer's").isTrue();
        for (int i = 0; i < 40; i++) {
            assertThat(stableAtDelivery.get(i)).as("the stable tip when event %d was sent", i)
                    .isGreaterThan(reservedAfterWrite.get(i));
        }
        assertThat(db.metrics().watches().events()).isEqualTo(40);
    }

    /** A close completes both kinds of watch after their events ({@link WatchersTest} holds a durable one's back). */
    @Test
    void aCloseSendsADurableWatchsLastEventsBeforeItCompletes() throws Exception {
        Recorder durable = new Recorder();
        db.watchPrefix(utf8(""), WatchDelivery.DURABLE).subscribe(durable);
        Recorder applied = new Recorder();
        db.watchPrefix(utf8(""), WatchDelivery.APPLIED).subscribe(applied);
        for (int i = 0; i < 100; i++) {
            db.insert(utf8("k" + i), utf8("v" + i));
        }
        db.close();
        assertThat(durable.end).succeedsWithin(10, TimeUnit.SECONDS);
        assertThat(durable.events).hasSize(100);
        assertThat(applied.end).succeedsWithin(10, TimeUnit.SECONDS);
        assertThat(applied.events).hasSize(100);
        assertThatThrownBy(() -> db.watchPrefix(utf8(""), null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aSubscriberThatTakesNothingEndsWithAnOverflowAndWritersGoOn() throws Exception {
        Recorder idle = new Recorder(0);
        db.watchPrefix(utf8(""), pool, 4).subscribe(idle);
        Recorder busy = watch(db, "");
        for (int i = 0; i < 50; i++) {
            db.insert(utf8("k" + i), utf8("v"));
        }
        assertThat(idle.end).failsWithin(10, TimeUnit.SECONDS).withThrowableOfType(Exception.class)
                .havingRootCause().isInstanceOf(WatchOverflowException.class)
                .withMessageContaining("had 4 events its subscriber had not taken");
        assertThat(busy.take(50)).hasSize(50);
        assertThat(watches()).isEqualTo(1);
        StoreMetrics.Watches metrics = db.metrics().watches();
        assertThat(metrics.open()).isEqualTo(1);
        assertThat(metrics.overflowed()).isEqualTo(1);
        assertThat(metrics.events()).as("the busy watch's 50 and the 4 the idle one buffered").isEqualTo(54);
    }

    @Test
    void aCancelledWatchStopsAndIsForgotten() throws Exception {
        Recorder recorder = watch(db, "");
        db.insert(utf8("a"), utf8("1"));
        assertThat(recorder.take(1)).containsExactly("a=1");
        recorder.subscription.get().cancel();
        assertThat(watches()).isZero();
        db.insert(utf8("b"), utf8("2"));
        recorder.expectNoMore();
    }

    @Test
    void aSubscriberThatThrowsIsDroppedAndItsWatchForgotten() throws Exception {
        CountDownLatch called = new CountDownLatch(1);
        db.watchPrefix(utf8("")).subscribe(new Recorder() {
            @Override
            public void onNext(WatchEvent event) {
                called.countDown();
                throw new IllegalStateException("subscriber bug");
            }
        });
        db.insert(utf8("a"), utf8("1"));
        assertThat(called.await(10, TimeUnit.SECONDS)).isTrue();
        for (int i = 0; i < 3000 && watches() != 0; i++) { // forgotten on the delivery thread
            Thread.sleep(10);
        }
        assertThat(watches()).isZero();
        assertThat(db.insert(utf8("b"), utf8("2"))).isNull();
    }

    @Test
    void closeCompletesWatchesAfterTheirEventsAndADropFailsThem() throws Exception {
        Tree scratch = db.tree("scratch");
        Recorder dropped = watch(scratch, "");
        Recorder closed = watch(db, "");
        scratch.insert(utf8("s"), utf8("1"));
        assertThat(dropped.take(1)).containsExactly("s=1");
        db.dropTree("scratch");
        assertThat(dropped.end).failsWithin(10, TimeUnit.SECONDS).withThrowableOfType(Exception.class)
                .havingRootCause().isInstanceOf(IllegalStateException.class).withMessageContaining("'scratch' was dropped");
        Recorder afterDrop = new Recorder();
        Flow.Publisher<WatchEvent> publisher = db.watchPrefix(utf8(""));
        for (int i = 0; i < 20; i++) {
            db.insert(utf8("k" + i), utf8("v" + i));
        }
        db.close();
        assertThat(closed.end).succeedsWithin(10, TimeUnit.SECONDS);
        assertThat(closed.events).hasSize(20);
        publisher.subscribe(afterDrop);
        assertThat(afterDrop.end).failsWithin(10, TimeUnit.SECONDS).withThrowableOfType(Exception.class)
                .havingRootCause().isInstanceOf(IllegalStateException.class).withMessageContaining("is closed");
        assertThatThrownBy(() -> db.watchPrefix(utf8(""))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed");
    }

    @Test
    void badArgumentsAreRefusedAndAWatchCannotBeMadeInsideATransaction() throws Exception {
        assertThatThrownBy(() -> db.watchPrefix(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the prefix is null");
        assertThatThrownBy(() -> db.watchPrefix(new byte[Tree.MAX_KEY_LENGTH + 1]))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no key is longer");
        assertThatThrownBy(() -> db.watchPrefix(utf8(""), null, 16)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("the executor is null");
        assertThatThrownBy(() -> db.watchPrefix(utf8(""), pool, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("from 1 to 1048576");
        assertThatThrownBy(() -> db.watchPrefix(utf8(""), pool, Tree.MAX_WATCH_BUFFER + 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> db.watchPrefix(utf8("")).subscribe(null)).isInstanceOf(NullPointerException.class);
        Flow.Publisher<WatchEvent> publisher = db.watchPrefix(utf8(""));
        Recorder insideBody = new Recorder();
        assertThatThrownBy(() -> db.transaction(tx -> db.watchPrefix(utf8("")))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("inside a transaction's body");
        db.transaction(tx -> {
            publisher.subscribe(insideBody);
            return null;
        });
        assertThat(insideBody.end).failsWithin(10, TimeUnit.SECONDS).withThrowableOfType(Exception.class)
                .havingRootCause().withMessageContaining("inside a transaction's body");
        assertThat(watches()).isZero();
    }
}
