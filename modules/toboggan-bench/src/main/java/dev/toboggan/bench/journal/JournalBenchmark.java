package dev.toboggan.bench.journal;

import dev.toboggan.bench.BenchDefaults;
import dev.toboggan.bench.BenchDirs;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.PoisonPill;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * The TCK's JournalPerfSpec workload on Toboggan's journal, Pekko's LevelDB journal and its in-memory
 * journal, in the same run: the time to {@code persist} 10 000 events (one command, one event, each
 * stored before the next command), to {@code persistAsync} 10 000 events (all commands sent at once, the
 * events written in batches while the commands keep coming), and to recover 10 000 events (a new
 * incarnation of a persistent actor replays them). One invocation is one run of 10 000; a new persistence
 * id per write run, the same recovered one per recovery run. Read the scores as ratios: LevelDB's time
 * divided by Toboggan's.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@State(Scope.Benchmark)
public class JournalBenchmark extends BenchDefaults {
    static final int EVENTS = 10_000;
    private static final String RECOVERED = "recovered";

    @Param({"toboggan", "leveldb", "inmem"})
    public String journal;

    private Path directory;
    private ActorSystem system;
    private int runs;

    @Setup(Level.Trial)
    public void start() throws Exception {
        directory = BenchDirs.create("journal-" + journal);
        system = ActorSystem.create("bench", Journals.config(journal, directory));
        // The recovery benchmark's 10 000 events, written once.
        write(RECOVERED, true);
    }

    @TearDown(Level.Trial)
    public void stop() throws Exception {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
        BenchDirs.delete(directory);
    }

    @Benchmark
    public void persist() throws Exception {
        write("persist-" + runs++, false);
    }

    @Benchmark
    public void persistAsync() throws Exception {
        write("persist-async-" + runs++, true);
    }

    @Benchmark
    public void recovery() throws Exception {
        CompletableFuture<Void> recovered = new CompletableFuture<>();
        ActorRef writer = system.actorOf(Writer.props(RECOVERED, true, recovered));
        recovered.get(10, TimeUnit.MINUTES);
        writer.tell(PoisonPill.getInstance(), ActorRef.noSender());
    }

    private void write(String persistenceId, boolean async) throws Exception {
        Writer.persistAll(system, persistenceId, async, EVENTS);
    }
}
