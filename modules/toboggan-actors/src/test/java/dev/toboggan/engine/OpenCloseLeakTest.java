package dev.toboggan.engine;

import static dev.toboggan.engine.EngineTestSupport.add;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.pagecache.CounterMaterializer;
import java.io.File;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Opening and closing again and again leaks no threads, no files and no direct memory. */
class OpenCloseLeakTest {
    @TempDir Path tmp;

    private static final int SCALE = Integer.getInteger("toboggan.test.scale", 1);

    @Test
    void thousandOpensInsideACallersSystem() throws Exception {
        ActorTestKit kit = ActorTestKit.create("leaks", ConfigFactory.load());
        try {
            EngineSettings settings = EngineTestSupport.settings(tmp.resolve("db"), "toboggan.io-buffers = 2");
            cycle(settings, 5, kit); // warm up: pools, class loading, Pekko's own threads
            Resources before = Resources.now();
            cycle(settings, 1000, kit);
            assertReturnsTo(before);
        } finally {
            kit.shutdownTestKit();
        }
    }

    @Test
    void standaloneOpensWithTheirOwnActorSystem() throws Exception {
        EngineSettings settings = EngineTestSupport.settings(tmp.resolve("db"), "toboggan.io-buffers = 2");
        cycle(settings, 3, null);
        Resources before = Resources.now();
        cycle(settings, Math.min(1000, 50 * SCALE), null);
        assertReturnsTo(before);
    }

    /**
     * A standalone open starts its actor system while it opens the store: when the store fails to open,
     * that system is terminated too (each system has one scheduler thread; only the holder's remains).
     */
    @Test
    void standaloneOpensThatFailLeaveNoActorSystemRunning() {
        EngineSettings settings = EngineTestSupport.settings(tmp.resolve("db"), "toboggan.io-buffers = 2");
        try (Engine<Long, Long> holder = Engine.open(settings, CounterMaterializer.INSTANCE)) {
            for (int i = 0; i < 3; i++) {
                assertThatThrownBy(() -> Engine.open(settings, CounterMaterializer.INSTANCE))
                        .hasStackTraceContaining("the store is already open");
            }
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                    assertThat(Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                            .map(Thread::getName).filter(name -> name.matches("toboggan-[0-9]+-scheduler-[0-9]+")))
                            .as("actor system schedulers alive").hasSize(1));
            assertThat(holder.isOpen()).isTrue();
        }
    }

    /**
     * Resources come back within a while, not at once: a dispatcher's pool outlives its last actor by
     * Pekko's {@code shutdown-timeout} (1 s), longer on a loaded machine. A leak never comes back.
     */
    private static void assertReturnsTo(Resources before) {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500)).pollInSameThread()
                .untilAsserted(() -> Resources.now().assertNoMoreThan(before));
    }

    private static void cycle(EngineSettings settings, int times, ActorTestKit kit) {
        for (int i = 0; i < times; i++) {
            try (Engine<Long, Long> engine = kit == null ? Engine.open(settings, CounterMaterializer.INSTANCE)
                    : Engine.open(settings, CounterMaterializer.INSTANCE, kit.system())) {
                long pid = engine.pageCache().allocate(0L).pid();
                add(engine.pageCache(), pid, i);
                engine.flush();
            }
        }
    }

    private record Resources(Set<String> threads, int openFiles, long directBytes) {
        static Resources now() throws InterruptedException {
            long direct = 0;
            for (int i = 0; i < 5; i++) {
                System.gc();
                Thread.sleep(50);
            }
            for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
                if (pool.getName().equals("direct")) {
                    direct = pool.getMemoryUsed();
                }
            }
            Thread.sleep(200); // let threads of the last close finish exiting
            Set<String> threads = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive)
                    .map(t -> t.getName().replaceAll("[0-9]+", "#")).collect(Collectors.toSet());
            String[] fds = new File("/proc/self/fd").list();
            return new Resources(threads, fds == null ? 0 : fds.length, direct);
        }

        void assertNoMoreThan(Resources before) {
            assertThat(threads).as("thread kinds alive").isSubsetOf(before.threads);
            assertThat(openFiles).as("open file descriptors").isLessThanOrEqualTo(before.openFiles + 2);
            assertThat(directBytes).as("direct memory in use").isLessThanOrEqualTo(before.directBytes + (4 << 20));
        }
    }
}
