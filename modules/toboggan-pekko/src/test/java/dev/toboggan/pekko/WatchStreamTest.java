package dev.toboggan.pekko;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.Batch;
import dev.toboggan.Change;
import dev.toboggan.Db;
import dev.toboggan.Tree;
import dev.toboggan.WatchEvent;
import dev.toboggan.WatchOverflowException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.JavaFlowSupport;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tree's watch as a Pekko Streams source, on the store the plugins share ({@link PekkoStores}), delivered
 * on the actor system's dispatcher: the events arrive in order with the stream's backpressure, and a
 * stage that falls further behind than the watch's buffer fails the stream with the overflow.
 */
class WatchStreamTest {
    @TempDir
    Path directory;

    private ActorTestKit testKit;
    private Db db;

    @BeforeEach
    void start() {
        testKit = ActorTestKit.create("watch", PekkoTestConfig.persistence(directory));
        db = PekkoStores.get(testKit.system()).store("toboggan.pekko.store");
    }

    @AfterEach
    void stop() {
        testKit.shutdownTestKit();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    @Test
    void aWatchIsASourceOfTheChangesUnderItsPrefix() throws Exception {
        Tree orders = db.tree("app.orders");
        CompletableFuture<Void> subscribed = new CompletableFuture<>();
        CompletionStage<List<String>> seen = JavaFlowSupport.Source
                // room for the whole burst below: this thread writes far faster than a stream takes
                .fromPublisher(orders.watchPrefix(utf8("order/"), testKit.system().executionContext(), 4096))
                .mapConcat(WatchEvent::changes)
                .filter(change -> notMarker(change, subscribed))
                .map(change -> text(change.key()) + (change.isRemoval() ? " removed" : "=" + text(change.value())))
                .takeWhile(change -> !change.equals("order/end=1"))
                .runWith(Sink.seq(), testKit.system());
        awaitSubscription(orders, subscribed);
        for (int i = 0; i < 1000; i++) {
            orders.insert(utf8("order/" + i), utf8("open"));
            orders.insert(utf8("invoice/" + i), utf8("draft"));
        }
        orders.applyBatch(new Batch().insert(utf8("order/0"), utf8("paid")).remove(utf8("order/1")));
        orders.remove(utf8("order/2"));
        orders.insert(utf8("order/end"), utf8("1"));
        List<String> changes = seen.toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertThat(changes).hasSize(1003);
        assertThat(changes.subList(0, 3)).containsExactly("order/0=open", "order/1=open", "order/2=open");
        assertThat(changes.subList(1000, 1003)).containsExactly("order/0=paid", "order/1 removed", "order/2 removed");
        assertThat(changes).noneMatch(c -> c.startsWith("invoice/"));
    }

    @Test
    void aStageThatFallsBehindTheBufferFailsTheStreamWithTheOverflow() throws Exception {
        Tree orders = db.tree("app.orders");
        CompletableFuture<Void> subscribed = new CompletableFuture<>();
        CompletionStage<List<Change>> slow = JavaFlowSupport.Source
                .fromPublisher(orders.watchPrefix(utf8(""), testKit.system().executionContext(), 16))
                .mapConcat(WatchEvent::changes)
                .filter(change -> notMarker(change, subscribed))
                .throttle(1, Duration.ofMillis(50))
                .runWith(Sink.seq(), testKit.system());
        awaitSubscription(orders, subscribed);
        for (int i = 0; i < 500; i++) {
            orders.insert(utf8("k" + i), utf8("v")); // never waits for the stream
        }
        assertThat(orders.get(utf8("k499"))).isEqualTo(utf8("v"));
        try {
            slow.toCompletableFuture().get(30, TimeUnit.SECONDS);
            throw new AssertionError("the stream should have failed");
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(WatchOverflowException.class)
                    .hasMessageContaining("events its subscriber had not taken");
        }
    }

    /** Whether {@code change} is not a marker of {@link #awaitSubscription}; a marker completes {@code subscribed}. */
    private static boolean notMarker(Change change, CompletableFuture<Void> subscribed) {
        if (text(change.key()).equals("order/started")) {
            subscribed.complete(null);
            return false;
        }
        return true;
    }

    /**
     * Writes a marker until the stream reports it: a stream subscribes to its source when it starts, on the
     * dispatcher, after {@code run} returned, and a watch sees the changes made after its subscription.
     */
    private static void awaitSubscription(Tree tree, CompletableFuture<Void> subscribed) throws Exception {
        for (int i = 0; !subscribed.isDone(); i++) {
            assertThat(i).as("markers written before the stream saw one").isLessThan(1000);
            tree.insert(utf8("order/started"), utf8(Integer.toString(i)));
            Thread.sleep(10);
        }
    }
}
