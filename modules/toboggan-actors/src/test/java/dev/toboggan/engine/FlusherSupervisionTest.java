package dev.toboggan.engine;

import static dev.toboggan.engine.EngineTestSupport.DIR;
import static dev.toboggan.engine.EngineTestSupport.add;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.StoreFailedException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.CounterMaterializer;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Each failure mode of the Flusher: a transient fsync failure is retried; a persistent one fails cleanly. */
class FlusherSupervisionTest {

    @Test
    void anFsyncFailingOnceRestartsTheFlusherWhichRetriesAndLosesNothing() throws Exception {
        SimulatedStorage disk = new SimulatedStorage();
        EngineSettings settings = EngineTestSupport.settings(DIR, "toboggan.flush-every = 0");
        long pid;
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, disk)) {
            pid = engine.pageCache().allocate(0L).pid();
            engine.flush();
            org.awaitility.Awaitility.await().atMost(10, TimeUnit.SECONDS).until(() -> engine.flusherStarts() == 1);
            int startsBefore = engine.flusherStarts();
            disk.failAfter(1, Set.of(SimulatedStorage.Op.FORCE));
            add(engine.pageCache(), pid, 7);
            long tip = engine.flushAsync().toCompletableFuture().get(10, TimeUnit.SECONDS);
            assertThat(tip).isGreaterThan(engine.pageCache().get(pid).lastLsn());
            assertThat(engine.flusherStarts()).as("the Flusher was restarted").isEqualTo(startsBefore + 1);
            assertThat(engine.failure()).isNull();
            assertThat(engine.pageCache().log().stats().flushFailures()).isEqualTo(1);
        }
        disk.powerLoss();
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, disk)) {
            assertThat(engine.pageCache().get(pid).value()).isEqualTo(7L);
        }
    }

    @Test
    void anFsyncFailingForeverFailsTheStoreCleanlyAndKeepsAcknowledgedData() throws Exception {
        SimulatedStorage disk = new SimulatedStorage();
        EngineSettings settings = EngineTestSupport.settings(DIR, "toboggan.flush-every = 0\n"
                + "toboggan.max-flush-retries = 2");
        long pid;
        Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, disk);
        pid = engine.pageCache().allocate(0L).pid();
        add(engine.pageCache(), pid, 3);
        engine.flushAsync().toCompletableFuture().get(10, TimeUnit.SECONDS); // acknowledged: 3
        disk.failAfter(1, Set.of(SimulatedStorage.Op.FORCE), SimulatedStorage.FailMode.FOREVER);
        add(engine.pageCache(), pid, 4);
        CompletableFuture<Long> doomed = engine.flushAsync().toCompletableFuture();
        assertThatThrownBy(() -> doomed.get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(StoreFailedException.class).hasMessageContaining("simulated failure of FORCE");
        assertThat(engine.failure()).isNotNull();
        assertThatThrownBy(() -> add(engine.pageCache(), pid, 1)).isInstanceOf(StoreFailedException.class)
                .hasMessageContaining("simulated failure of FORCE");
        assertThatThrownBy(engine::flushAsync).as("every later call fails fast")
                .isInstanceOf(StoreFailedException.class);
        assertThatThrownBy(engine::close).as("a close that returned would promise the lost 4 was durable")
                .isInstanceOf(StoreFailedException.class).hasMessageStartingWith("closed a store that had failed");
        disk.clearFaults();
        disk.powerLoss();
        try (Engine<Long, Long> reopened = Engine.open(settings, CounterMaterializer.INSTANCE, disk)) {
            assertThat(reopened.pageCache().get(pid).value()).as("acknowledged value").isIn(3L, 7L);
        }
    }
}
