package dev.toboggan.bench.journal;

import dev.toboggan.bench.BenchDefaults;
import dev.toboggan.bench.BenchDirs;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@code persist} latency under sustained load (LevelDB's compactions stalled writers, akka #15585): 4
 * threads, each driving its own persistent actor, persist one 100-byte event at a time and wait for its
 * confirmation, for a minute, in one store that keeps growing. JMH prints each iteration's percentiles: a
 * flat p99 from the first iteration to the last is the target. Toboggan against LevelDB in the same run.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 1, time = 5)
@Measurement(iterations = 6, time = 10)
@Threads(4)
public class PersistLatencyBenchmark extends BenchDefaults {
    private static final String PAYLOAD = "x".repeat(100);

    @State(Scope.Benchmark)
    public static class Store {
        @Param({"toboggan", "leveldb"})
        public String journal;

        Path directory;
        ActorSystem system;
        private int writers;

        @Setup(Level.Trial)
        public void start() {
            directory = BenchDirs.create("latency-" + journal);
            system = ActorSystem.create("bench", Journals.config(journal, directory));
        }

        @TearDown(Level.Trial)
        public void stop() throws Exception {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
            BenchDirs.delete(directory);
        }

        synchronized String nextPersistenceId() {
            return "writer-" + writers++;
        }
    }

    /** One persistent actor per benchmark thread. */
    @State(Scope.Thread)
    public static class Actor {
        ActorRef writer;

        @Setup(Level.Trial)
        public void start(Store store) throws Exception {
            CompletableFuture<Void> recovered = new CompletableFuture<>();
            writer = store.system.actorOf(Writer.props(store.nextPersistenceId(), false, recovered));
            recovered.get(1, TimeUnit.MINUTES);
        }
    }

    @Benchmark
    public void persist(Actor actor) throws Exception {
        CompletableFuture<Void> done = new CompletableFuture<>();
        actor.writer.tell(new Writer.Expect(1, done), ActorRef.noSender());
        actor.writer.tell(new Writer.Event(PAYLOAD), ActorRef.noSender());
        done.get(1, TimeUnit.MINUTES);
    }
}
