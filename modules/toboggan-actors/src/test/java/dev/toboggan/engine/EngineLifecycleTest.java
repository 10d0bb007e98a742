package dev.toboggan.engine;

import static dev.toboggan.engine.EngineTestSupport.add;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.pagecache.CounterMaterializer;
import dev.toboggan.core.pagecache.Page;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An engine standalone and inside a caller's actor system: what it wrote is there after reopening. */
class EngineLifecycleTest {
    @TempDir Path tmp;

    @Test
    void standaloneEngineWritesFlushesAndReopens() throws Exception {
        EngineSettings settings = EngineTestSupport.settings(tmp.resolve("db"), "");
        long pid;
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE)) {
            Page<Long> page = engine.pageCache().allocate(0L);
            pid = page.pid();
            for (int i = 0; i < 100; i++) {
                add(engine.pageCache(), pid, 1);
            }
            assertThat(engine.flushAsync().toCompletableFuture().get(10, TimeUnit.SECONDS)).isPositive();
            add(engine.pageCache(), pid, 1);
        }
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE)) {
            assertThat(engine.pageCache().get(pid).value()).isEqualTo(101L);
            assertThat(engine.pageCache().wasRecovered()).isTrue();
        }
    }

    /**
     * An asynchronous flush made while another thread's atomic batch is open cannot complete before that batch
     * is sealed (the stable tip waits for it), and must complete once it is, with no periodic flush to carry it
     * ({@code flush-every = 0}): the batch's seal comes after what the flush asked for, so the Flusher has to
     * ask for the seal itself.
     */
    @Test
    void anAsyncFlushWaitingForAnotherThreadsBatchCompletesOnceTheBatchIsSealed() throws Exception {
        EngineSettings settings = EngineTestSupport.settings(tmp.resolve("db"), "toboggan.flush-every = 0");
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE)) {
            long inBatch = engine.pageCache().allocate(0L).pid();
            long outside = engine.pageCache().allocate(0L).pid();
            engine.flush();
            java.util.concurrent.CountDownLatch opened = new java.util.concurrent.CountDownLatch(1);
            java.util.concurrent.CountDownLatch seal = new java.util.concurrent.CountDownLatch(1);
            Thread batcher = new Thread(() -> {
                try (dev.toboggan.core.pagecache.Batch batch = engine.pageCache().openBatch()) {
                    add(engine.pageCache(), inBatch, 1);
                    opened.countDown();
                    seal.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "batcher");
            batcher.start();
            assertThat(opened.await(10, TimeUnit.SECONDS)).isTrue();
            add(engine.pageCache(), outside, 1);
            java.util.concurrent.CompletableFuture<Long> flushed = engine.flushAsync().toCompletableFuture();
            Thread.sleep(100);
            assertThat(flushed).as("held back by the open batch").isNotDone();
            seal.countDown();
            batcher.join(10_000);
            assertThat(flushed.get(10, TimeUnit.SECONDS)).as("the stable tip, past the batch's seal").isPositive();
        }
    }

    @Test
    void periodicFlushMakesIdleWritesDurableWithoutAnyCall() throws Exception {
        EngineSettings settings = EngineTestSupport.settings(tmp.resolve("db"), "toboggan.flush-every = 20ms");
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE)) {
            long pid = engine.pageCache().allocate(5L).pid();
            long lastLsn = engine.pageCache().get(pid).lastLsn();
            // 30 s: the bound also covers a fresh actor system starting the Flusher (open returns before it runs)
            org.awaitility.Awaitility.await().atMost(30, TimeUnit.SECONDS)
                    .until(() -> engine.pageCache().log().stableTip() > lastLsn);
        }
    }

    @Test
    void insideACallersActorSystemClosedByCoordinatedShutdown() throws Exception {
        ActorTestKit kit = ActorTestKit.create("caller", ConfigFactory.load());
        EngineSettings settings = EngineTestSupport.settings(tmp.resolve("db"), "");
        Engine<Long, Long> engine = TobogganExtension.get(kit.system()).engine(settings, CounterMaterializer.INSTANCE);
        assertThat(TobogganExtension.get(kit.system()).engine(settings, CounterMaterializer.INSTANCE))
                .as("one engine per directory per system").isSameAs(engine);
        long pid = engine.pageCache().allocate(0L).pid();
        add(engine.pageCache(), pid, 42);
        assertThat(engine.actorSystem()).isSameAs(kit.system());
        CoordinatedShutdown.get(kit.system()).runAll(CoordinatedShutdown.unknownReason())
                .toCompletableFuture().get(30, TimeUnit.SECONDS);
        assertThat(engine.isOpen()).isFalse();
        assertThatThrownBy(engine::pageCache).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        try (Engine<Long, Long> reopened = Engine.open(settings, CounterMaterializer.INSTANCE)) {
            assertThat(reopened.pageCache().get(pid).value()).as("closed by CoordinatedShutdown, so flushed")
                    .isEqualTo(42L);
        }
    }

    @Test
    void invalidSettingsAreRejectedNamingTheKey() {
        assertThatThrownBy(() -> EngineTestSupport.settings(tmp, "toboggan.io-buffers = 1"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("toboggan.io-buffers");
        assertThatThrownBy(() -> EngineTestSupport.settings(tmp, "toboggan.durability = sometimes"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("toboggan.durability");
        assertThatThrownBy(() -> EngineTestSupport.settings(tmp, "toboggan.mailbox-capacity = 0"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("toboggan.mailbox-capacity");
        assertThatThrownBy(() -> EngineTestSupport.settings(tmp, "toboggan.flush-every = banana"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("flush-every");
        assertThatThrownBy(() -> EngineSettings.fromConfig(ConfigFactory.empty()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("toboggan.directory is not set");
    }
}
