package dev.toboggan.engine;

import static dev.toboggan.engine.EngineTestSupport.DIR;
import static dev.toboggan.engine.EngineTestSupport.add;
import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.CounterMaterializer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Power loss under the engine: every value acknowledged by flushAsync survives. */
class EngineCrashTest {

    @Test
    void acknowledgedFlushesSurvivePowerLoss() throws Exception {
        SimulatedStorage disk = new SimulatedStorage();
        EngineSettings settings = EngineTestSupport.settings(DIR, "toboggan.flush-every = 5ms");
        long pid;
        long acknowledged = 0;
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, disk)) {
            pid = engine.pageCache().allocate(0L).pid();
        }
        SplittableRandom r = new SplittableRandom(7);
        for (int round = 0; round < 5 * Integer.getInteger("toboggan.test.scale", 1); round++) {
            Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, disk);
            long value = engine.pageCache().get(pid).value();
            assertThat(value).as("round %d", round).isGreaterThanOrEqualTo(acknowledged);
            int writes = r.nextInt(50, 500);
            for (int i = 0; i < writes; i++) {
                add(engine.pageCache(), pid, 1);
                value++;
                if (r.nextInt(50) == 0) {
                    engine.flushAsync().toCompletableFuture().get(10, TimeUnit.SECONDS);
                    acknowledged = value;
                }
            }
            disk.powerLoss(r);
            engine.abandon();
        }
        try (Engine<Long, Long> engine = Engine.open(settings, CounterMaterializer.INSTANCE, disk)) {
            assertThat(engine.pageCache().get(pid).value()).isGreaterThanOrEqualTo(acknowledged);
        }
    }
}
