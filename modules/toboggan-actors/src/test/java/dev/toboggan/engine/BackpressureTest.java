package dev.toboggan.engine;

import static dev.toboggan.engine.EngineTestSupport.DIR;
import static dev.toboggan.engine.EngineTestSupport.add;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.CounterMaterializer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.DeadLetter;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A slow disk under two writer threads: writers wait for room in the Flusher's mailbox instead of
 * anything being dropped or piling up, and everything acknowledged is there after reopening.
 */
class BackpressureTest {
    private final ActorTestKit kit = ActorTestKit.create("backpressure", ConfigFactory.load());

    @AfterEach
    void shutDown() {
        kit.shutdownTestKit();
    }

    @Test
    void aSlowDiskMakesWritersWaitAndDropsNothing() throws Exception {
        SimulatedStorage disk = new SimulatedStorage();
        EngineSettings settings = EngineTestSupport.settings(DIR, """
                toboggan.mailbox-capacity = 4
                toboggan.send-timeout = 60s
                toboggan.io-buffers = 2
                """);
        TestProbe<DeadLetter> deadLetters = kit.createDeadLetterProbe();
        Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, kit.system(), disk);
        disk.slowDown(Duration.ofMillis(1), Duration.ofMillis(15));
        long[] pids = {engine.pageCache().allocate(0L).pid(), engine.pageCache().allocate(0L).pid()};
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger maxInFlight = new AtomicInteger();
        AtomicLong longestWaitNanos = new AtomicLong();
        long[] acknowledged = new long[2];
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        List<Thread> writers = new ArrayList<>();
        for (int w = 0; w < 2; w++) {
            int writer = w;
            Thread t = new Thread(() -> {
                List<CompletableFuture<Long>> pending = new ArrayList<>();
                List<Long> values = new ArrayList<>();
                long value = 0;
                try {
                    while (!stop.get()) {
                        add(engine.pageCache(), pids[writer], 1);
                        value++;
                        if (value % 5 == 0) {
                            long started = System.nanoTime();
                            pending.add(engine.flushAsync().toCompletableFuture());
                            longestWaitNanos.accumulateAndGet(System.nanoTime() - started, Math::max);
                            values.add(value);
                            maxInFlight.accumulateAndGet(engine.flushRequestsInFlight(), Math::max);
                        }
                        // Only unfinished requests stay referenced: the heap holds at most what is waiting.
                        while (!pending.isEmpty() && pending.get(0).isDone()) {
                            pending.remove(0).join();
                            acknowledged[writer] = values.remove(0);
                        }
                    }
                    for (int i = 0; i < pending.size(); i++) {
                        pending.get(i).get(60, TimeUnit.SECONDS);
                        acknowledged[writer] = values.get(i);
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            t.start();
            writers.add(t);
        }
        Thread.sleep(2_000);
        stop.set(true);
        for (Thread t : writers) {
            t.join();
        }
        assertThat(errors).isEmpty();
        assertThat(maxInFlight.get()).as("the permit window bounds what is queued").isEqualTo(4);
        assertThat(longestWaitNanos.get()).as("writers waited for room").isGreaterThan(TimeUnit.MILLISECONDS.toNanos(5));
        deadLetters.expectNoMessage(Duration.ofMillis(200));
        disk.slowDown(Duration.ZERO, Duration.ZERO);
        engine.close();

        try (Engine<Long, Long> reopened = Engine.open(settings, CounterMaterializer.INSTANCE, kit.system(), disk)) {
            for (int w = 0; w < 2; w++) {
                assertThat(acknowledged[w]).isPositive();
                assertThat(reopened.pageCache().get(pids[w]).value()).isGreaterThanOrEqualTo(acknowledged[w]);
            }
        }
    }

    /** What a test does while a flush stuck in its fsync holds the Flusher's only permit. */
    private interface WithThePermitHeld {
        void run(Engine<Long, Long> engine, long pid) throws Exception;
    }

    /**
     * Opens an engine of one mailbox permit, sticks its disk's fsync, has a {@code flushAsync} take the permit,
     * runs {@code test} (which ends having written once more), then lets the disk go: the first flush must
     * complete, and no message may have gone to dead letters.
     */
    private void withThePermitHeldByAStuckFlush(WithThePermitHeld test) throws Exception {
        SimulatedStorage disk = new SimulatedStorage();
        EngineSettings settings = EngineTestSupport.settings(DIR, """
                toboggan.mailbox-capacity = 1
                toboggan.send-timeout = 200ms
                toboggan.flush-every = 0
                """);
        TestProbe<DeadLetter> deadLetters = kit.createDeadLetterProbe();
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, kit.system(), disk)) {
            long pid = engine.pageCache().allocate(0L).pid();
            org.awaitility.Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> engine.flusherStarts() == 1);
            disk.slowDown(Duration.ZERO, Duration.ofMinutes(1)); // lifted below, once the test has seen it
            add(engine.pageCache(), pid, 1);
            CompletableFuture<Long> first = engine.flushAsync().toCompletableFuture();
            org.awaitility.Awaitility.await().atMost(5, TimeUnit.SECONDS)
                    .until(() -> disk.forceCount() > 0 || engine.flushRequestsInFlight() == 1);
            // The first request holds the only permit while the Flusher is stuck in its fsync.
            add(engine.pageCache(), pid, 1);
            test.run(engine, pid);
            disk.slowDown(Duration.ZERO, Duration.ZERO);
            assertThat(first.get(30, TimeUnit.SECONDS)).isPositive();
            deadLetters.expectNoMessage(Duration.ofMillis(100));
        }
    }

    @Test
    void aStalledDiskGivesWritersAClearTimeoutAndSendsNothing() throws Exception {
        withThePermitHeldByAStuckFlush((engine, pid) -> assertThatThrownBy(engine::flushAsync)
                .isInstanceOf(BackpressureTimeoutException.class).hasMessageContaining("toboggan.send-timeout")
                .hasMessageContaining("Nothing was sent"));
    }

    /**
     * A durable watch asks for stability from inside writes: {@code stableAsync} raises the Flusher's coalesced
     * signal instead of taking a permit, so with the only permit held by a flush stuck in its fsync it still
     * returns at once (flushAsync there waits {@code send-timeout}, then throws), and completes once the disk
     * moves again.
     */
    @Test
    void aStabilityRequestNeverWaitsForTheMailboxAndCompletesOnceTheDiskMovesAgain() throws Exception {
        AtomicReference<CompletableFuture<Long>> asked = new AtomicReference<>();
        AtomicLong lsn = new AtomicLong();
        withThePermitHeldByAStuckFlush((engine, pid) -> {
            lsn.set(engine.pageCache().log().maxReservedLsn());
            asked.set(engine.stableAsync(lsn.get()).toCompletableFuture());
            assertThat(engine.flushRequestsInFlight()).as("no permit taken").isLessThanOrEqualTo(1);
            assertThat(asked.get()).as("waiting for the disk, not failed").isNotDone();
        });
        assertThat(asked.get().get(30, TimeUnit.SECONDS)).isGreaterThan(lsn.get());
    }
}
