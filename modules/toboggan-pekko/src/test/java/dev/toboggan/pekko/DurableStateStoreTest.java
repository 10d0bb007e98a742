package dev.toboggan.pekko;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.query.DeletedDurableState;
import org.apache.pekko.persistence.query.DurableStateChange;
import org.apache.pekko.persistence.query.NoOffset;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.persistence.query.UpdatedDurableState;
import org.apache.pekko.persistence.query.scaladsl.DurableStateStoreQuery;
import org.apache.pekko.persistence.state.DurableStateStoreRegistry;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.persistence.state.exception.DeleteRevisionException;
import org.apache.pekko.persistence.state.javadsl.GetObjectResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The durable state store plugin ({@code toboggan.state}): its revision contract case by case, racing writers of
 * one persistence id, objects that cannot be written or read, and a {@code DurableStateBehavior} that gets its
 * state back after its actor system restarts, a delete included.
 */
class DurableStateStoreTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(15);

    @TempDir
    Path directory;

    @Test
    void aChangeMustFollowTheStoredRevisionByOne() throws Exception {
        ActorTestKit testKit = ActorTestKit.create("state", config());
        try {
            TobogganDurableStateStore store = store(testKit);
            assertThat(get(store, "p")).isEqualTo(result(null, 0));
            await(store.upsertObject("p", 1, "one", "tag-a"));
            assertThat(get(store, "p")).isEqualTo(result("one", 1));

            assertConflict(store.upsertObject("p", 1, "one again", ""), IllegalStateException.class, "revision 1 is stored");
            assertConflict(store.upsertObject("p", 3, "three", ""), IllegalStateException.class, "revision 1 is stored");
            assertThat(get(store, "p")).as("nothing changed").isEqualTo(result("one", 1));

            await(store.upsertObject("p", 2, "two", ""));
            assertConflict(store.deleteObject("p", 2), DeleteRevisionException.class, "revision 2 is stored");
            await(store.deleteObject("p", 3));
            assertThat(get(store, "p")).as("deleted at revision 3").isEqualTo(result(null, 3));
            assertConflict(store.upsertObject("p", 1, "stale", ""), IllegalStateException.class, "revision 3 is stored");
            await(store.upsertObject("p", 4, "four", ""));
            assertThat(get(store, "p")).isEqualTo(result("four", 4));

            await(store.deleteObject("p", 0));
            assertThat(get(store, "p")).as("removed").isEqualTo(result(null, 0));
            await(store.upsertObject("p", 1, "new life", ""));
            assertThat(get(store, "p")).isEqualTo(result("new life", 1));
            assertConflict(store.deleteObject("never written", 2), DeleteRevisionException.class,
                    "revision 0 is stored");
            await(store.deleteObject("never written", 1));
            assertThat(get(store, "never written")).isEqualTo(result(null, 1));

            assertConflict(store.upsertObject("p", 0, "zero", ""), IllegalArgumentException.class, "start at 1");
            assertConflict(store.upsertObject("p", 2, null, ""), IllegalArgumentException.class, "is null");
            assertConflict(store.deleteObject("p", -1), IllegalArgumentException.class, "a delete's revision");
            assertThat(get(store, "p")).isEqualTo(result("new life", 1));
        } finally {
            testKit.shutdownTestKit();
        }
    }

    /**
     * Of writers racing to store the same revision of one persistence id, exactly one succeeds: half of them
     * untagged (a compare-and-swap when the object is untagged), half tagged (a transaction).
     */
    @Test
    void ofWritersRacingForOneRevisionExactlyOneWins() throws Exception {
        ActorTestKit testKit = ActorTestKit.create("state", config());
        try {
            TobogganDurableStateStore store = store(testKit);
            int writers = 4;
            for (int revision = 1; revision <= 50; revision++) {
                CountDownLatch start = new CountDownLatch(1);
                List<CompletableFuture<CompletionStage<?>>> calls = new ArrayList<>();
                for (int w = 0; w < writers; w++) {
                    String value = "r" + revision + "w" + w;
                    String tag = w % 2 == 0 ? "" : "race"; // compare-and-swaps and transactions both
                    long r = revision;
                    calls.add(CompletableFuture.supplyAsync(() -> {
                        awaitLatch(start);
                        return store.upsertObject("contended", r, value, tag);
                    }));
                }
                start.countDown();
                int won = 0;
                for (CompletableFuture<CompletionStage<?>> call : calls) {
                    try {
                        call.get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).toCompletableFuture()
                                .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                        won++;
                    } catch (ExecutionException e) {
                        assertThat(e.getCause()).isInstanceOf(IllegalStateException.class)
                                .hasMessageContaining("revision " + revision + " is stored");
                    }
                }
                assertThat(won).as("writers of revision %d that succeeded", revision).isEqualTo(1);
                assertThat(get(store, "contended").revision()).isEqualTo(revision);
            }
        } finally {
            testKit.shutdownTestKit();
        }
    }

    @Test
    void anObjectThatCannotBeWrittenOrReadFailsItsCallAndNamesIt() throws Exception {
        ActorTestKit testKit = ActorTestKit.create("state", config());
        try {
            TobogganDurableStateStore store = store(testKit);
            assertConflict(store.upsertObject("p", 1, new TestSerializers.Unserializable("x"), ""),
                    RuntimeException.class, "");
            assertThat(get(store, "p")).as("nothing stored").isEqualTo(result(null, 0));

            await(store.upsertObject("q", 1, new TestSerializers.Unreadable("y"), ""));
            assertThatThrownBy(() -> get(store, "q")).hasCauseInstanceOf(
                    TobogganDurableStateStore.StateUnreadableException.class)
                    .hasMessageContaining("durable state 'q' revision 1 exists but cannot be read");
        } finally {
            testKit.shutdownTestKit();
        }
    }

    /**
     * A durable state behavior persisting through the plugin gets its state back in a new actor system, and one
     * whose object was deleted meanwhile begins from its empty state, its revisions going on from the delete's.
     */
    @Test
    void aDurableStateBehaviorGetsItsStateBackAfterARestart() throws Exception {
        ActorTestKit first = ActorTestKit.create("first", config());
        try {
            ActorRef<StateCounter.Command> counter = first.spawn(StateCounter.create("counter-1"));
            TestProbe<Integer> replies = first.createTestProbe();
            for (int i = 1; i <= 30; i++) {
                counter.tell(new StateCounter.Add(i, replies.ref()));
                replies.expectMessage(TIMEOUT, i * (i + 1) / 2);
            }
            ActorRef<StateCounter.Command> other = first.spawn(StateCounter.create("counter-2"));
            other.tell(new StateCounter.Add(5, replies.ref()));
            replies.expectMessage(TIMEOUT, 5);
        } finally {
            first.shutdownTestKit();
        }

        ActorTestKit second = ActorTestKit.create("second", config());
        try {
            TestProbe<Integer> replies = second.createTestProbe();
            ActorRef<StateCounter.Command> counter = second.spawn(StateCounter.create("counter-1"));
            counter.tell(new StateCounter.Add(0, replies.ref()));
            replies.expectMessage(TIMEOUT, 30 * 31 / 2);
            TobogganDurableStateStore store = store(second);
            await(store.deleteObject("counter-2", 2)); // Pekko 1.7's Java DSL has no delete effect
            ActorRef<StateCounter.Command> deleted = second.spawn(StateCounter.create("counter-2"));
            deleted.tell(new StateCounter.Add(7, replies.ref()));
            replies.expectMessage(TIMEOUT, 7);
            assertThat(get(store, "counter-2")).as("the behavior began from its empty state at revision 2")
                    .isEqualTo(result(7, 3));
            assertThat(get(store, "counter-1").revision()).isEqualTo(31);
        } finally {
            second.shutdownTestKit();
        }
    }

    /**
     * {@code currentChanges} by tag: each object with the tag once, at its latest change (a delete included), in
     * offset order, from any offset; an object whose tag changed moves to its new tag; a hard delete leaves it.
     * And {@code currentPersistenceIds}, in pages.
     */
    @Test
    void currentChangesGiveEachObjectOfATagOnceAtItsLatestChange() throws Exception {
        ActorTestKit testKit = ActorTestKit.create("state", config());
        try {
            TobogganDurableStateStore store = store(testKit);
            await(store.upsertObject("a", 1, "a1", "t"));
            await(store.upsertObject("b", 1, "b1", "t"));
            await(store.upsertObject("c", 1, "c1", "u"));
            await(store.upsertObject("untagged", 1, "x", ""));
            await(store.upsertObject("a", 2, "a2", "t"));
            await(store.deleteObject("b", 2));
            await(store.upsertObject("d", 1, "d1", "t"));
            await(store.upsertObject("d", 2, "d2", "u"));
            await(store.upsertObject("e", 1, "e1", "t"));
            await(store.deleteObject("e", 0));

            assertThat(show(current(testKit, store, "t", NoOffset.getInstance())))
                    .containsExactly("a r2 a2 @3", "b r2 deleted @4");
            assertThat(show(current(testKit, store, "t", Sequence.apply(3)))).containsExactly("b r2 deleted @4");
            assertThat(show(current(testKit, store, "t", Sequence.apply(6)))).isEmpty();
            assertThat(show(current(testKit, store, "u", NoOffset.getInstance())))
                    .containsExactly("c r1 c1 @1", "d r2 d2 @2");
            assertThat(show(current(testKit, store, "nobody's", NoOffset.getInstance()))).isEmpty();
            assertThatThrownBy(() -> store.currentChanges("t", new org.apache.pekko.persistence.query.TimeBasedUUID(
                    java.util.UUID.fromString("00000000-0000-1000-8000-000000000000")))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("Sequence");

            DurableStateStoreQuery<Object> scalaApi = DurableStateStoreRegistry.get(Adapter.toClassic(testKit.system()))
                    .durableStateStoreFor("toboggan.state");
            assertThat(show(scala.jdk.javaapi.FutureConverters.asJava(scalaApi.currentChanges("u", Sequence.apply(1))
                    .runWith(org.apache.pekko.stream.scaladsl.Sink.seq(), Materializer.matFromSystem(testKit.system())))
                    .toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)))
                    .as("the Scala API").containsExactly("d r2 d2 @2");

            assertThat(ids(testKit, store.currentPersistenceIds(Optional.empty(), 100)))
                    .as("every stored object, a deleted one's marker included").containsExactly("a", "b", "c", "d", "untagged");
            assertThat(ids(testKit, store.currentPersistenceIds(Optional.of("b"), 2))).containsExactly("c", "d");
            assertThat(ids(testKit, store.currentPersistenceIds(Optional.of("untagged"), 2))).isEmpty();
            assertThatThrownBy(() -> store.currentPersistenceIds(Optional.empty(), 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 or more");
            assertThat(scala.jdk.javaapi.FutureConverters.asJava(((TobogganDurableStateStoreProvider.Scaladsl)
                    DurableStateStoreRegistry.get(Adapter.toClassic(testKit.system())).durableStateStoreFor(
                            "toboggan.state")).currentPersistenceIds(scala.Option.apply("c"), 10)
                    .runWith(org.apache.pekko.stream.scaladsl.Sink.seq(), Materializer.matFromSystem(testKit.system())))
                    .toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).mkString(","))
                    .as("the Scala API").isEqualTo("d,untagged");
        } finally {
            testKit.shutdownTestKit();
        }
    }

    /**
     * A live {@code changes} query reading while four writers change 40 objects of one tag: offsets only grow,
     * no object's revision goes back, and each object's last change delivered is its final one; a query resumed
     * from the last offset delivered gets nothing more.
     */
    @Test
    void aLiveQueryFollowsWritersToEveryObjectsFinalRevision() throws Exception {
        ActorTestKit testKit = ActorTestKit.create("state", ConfigFactory.parseString(
                "toboggan.state.refresh-interval = 50ms").withFallback(config()));
        try {
            TobogganDurableStateStore store = store(testKit);
            List<DurableStateChange<Object>> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
            UniqueKillSwitch stop = store.changes("t", NoOffset.getInstance())
                    .viaMat(KillSwitches.single(), Keep.right()).to(Sink.foreach(seen::add)).run(testKit.system());
            int writers = 4;
            int objects = 10;
            int revisions = 30;
            List<CompletableFuture<Void>> running = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int writer = w;
                running.add(CompletableFuture.runAsync(() -> {
                    for (int r = 1; r <= revisions; r++) {
                        for (int o = 0; o < objects; o++) {
                            try {
                                await(store.upsertObject("w" + writer + "o" + o, r, "v" + r, "t"));
                            } catch (Exception e) {
                                throw new IllegalStateException(e);
                            }
                        }
                    }
                }));
            }
            CompletableFuture.allOf(running.toArray(new CompletableFuture<?>[0])).get(60, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (finalRevisions(seen) < writers * objects && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            stop.shutdown();
            assertThat(finalRevisions(seen)).as("objects whose final revision was delivered").isEqualTo(writers * objects);
            long lastOffset = 0;
            java.util.Map<String, Long> revisionOf = new java.util.HashMap<>();
            for (DurableStateChange<Object> change : seen) {
                long offset = ((Sequence) change.offset()).value();
                assertThat(offset).as("offsets grow").isGreaterThan(lastOffset);
                lastOffset = offset;
                long revision = ((UpdatedDurableState<Object>) change).revision();
                assertThat(revision).as("revisions of " + change.persistenceId() + " grow")
                        .isGreaterThan(revisionOf.getOrDefault(change.persistenceId(), 0L));
                revisionOf.put(change.persistenceId(), revision);
            }
            assertThat(current(testKit, store, "t", Sequence.apply(lastOffset))).as("nothing after the last offset").isEmpty();
        } finally {
            testKit.shutdownTestKit();
        }
    }

    private static List<String> ids(ActorTestKit testKit, org.apache.pekko.stream.javadsl.Source<String, ?> ids)
            throws Exception {
        return ids.runWith(Sink.seq(), testKit.system()).toCompletableFuture().get(TIMEOUT.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    private static int finalRevisions(List<DurableStateChange<Object>> seen) {
        java.util.Set<String> done = new java.util.HashSet<>();
        for (DurableStateChange<Object> change : seen) {
            if (change instanceof UpdatedDurableState<Object> updated && updated.revision() == 30) {
                done.add(updated.persistenceId());
            }
        }
        return done.size();
    }

    private static List<DurableStateChange<Object>> current(ActorTestKit testKit, TobogganDurableStateStore store,
            String tag, Offset offset) throws Exception {
        return store.currentChanges(tag, offset).runWith(Sink.seq(), testKit.system()).toCompletableFuture()
                .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static List<String> show(Iterable<DurableStateChange<Object>> changes) {
        List<String> shown = new ArrayList<>();
        for (DurableStateChange<Object> change : changes) {
            long offset = ((Sequence) change.offset()).value();
            shown.add(change instanceof UpdatedDurableState<Object> u
                    ? u.persistenceId() + " r" + u.revision() + " " + u.value() + " @" + offset
                    : change.persistenceId() + " r" + ((DeletedDurableState<Object>) change).revision() + " deleted @"
                            + offset);
        }
        return shown;
    }

    private static List<String> show(scala.collection.immutable.Seq<DurableStateChange<Object>> changes) {
        return show(scala.jdk.javaapi.CollectionConverters.asJava(changes));
    }

    /**
     * A child JVM adds 1 to a counter over and over and is killed (SIGKILL) after a random number of acknowledged
     * adds: in a new actor system the counter holds at least the highest total acknowledged, and its revision is
     * its total (each add one revision, none lost or doubled).
     */
    @Test
    void aKillOfTheJvmLosesNoAcknowledgedRevision() throws Exception {
        long seed = System.nanoTime();
        int killAfter = 50 + new SplittableRandom(seed).nextInt(300);
        System.out.println("DurableStateStoreTest kill seed " + seed + ": kill after " + killAfter + " acks");
        List<String> acknowledged = ChildJvm.acknowledgementsUntilKilled(
                ChildJvm.start(StateCounterChild.class, directory), killAfter);
        assertThat(acknowledged).as("the child acknowledged adds before it was killed").hasSizeGreaterThanOrEqualTo(killAfter);
        int highest = acknowledged.stream().mapToInt(Integer::parseInt).max().orElseThrow();

        ActorTestKit after = ActorTestKit.create("after", config());
        try {
            TobogganDurableStateStore store = store(after);
            GetObjectResult<Object> stored = get(store, "counter");
            assertThat((Integer) stored.value().orElseThrow()).isGreaterThanOrEqualTo(highest);
            assertThat(stored.revision()).as("one revision per add").isEqualTo((long) (Integer) stored.value().get());
            ActorRef<StateCounter.Command> counter = after.spawn(StateCounter.create("counter"));
            TestProbe<Integer> replies = after.createTestProbe();
            counter.tell(new StateCounter.Add(1, replies.ref()));
            replies.expectMessage(TIMEOUT, (Integer) stored.value().get() + 1);
        } finally {
            after.shutdownTestKit();
        }
    }

    private Config config() {
        return ConfigFactory.parseString("pekko.persistence.state.plugin = \"toboggan.state\"")
                .withFallback(PekkoTestConfig.persistence(directory));
    }

    private static TobogganDurableStateStore store(ActorTestKit testKit) {
        return DurableStateStoreRegistry.get(Adapter.toClassic(testKit.system()))
                .getDurableStateStoreFor(TobogganDurableStateStore.class, "toboggan.state");
    }

    private static GetObjectResult<Object> get(TobogganDurableStateStore store, String persistenceId)
            throws Exception {
        return store.getObject(persistenceId).toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static GetObjectResult<Object> result(Object value, long revision) {
        return new GetObjectResult<>(Optional.ofNullable(value), revision);
    }

    private static void await(CompletionStage<?> call) throws Exception {
        call.toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static void assertConflict(CompletionStage<?> call, Class<? extends Throwable> type, String message) {
        assertThatThrownBy(() -> await(call)).isInstanceOf(ExecutionException.class).cause().isInstanceOf(type)
                .hasMessageContaining(message);
    }

    private static void awaitLatch(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
