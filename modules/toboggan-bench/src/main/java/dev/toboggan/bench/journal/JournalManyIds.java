package dev.toboggan.bench.journal;

import dev.toboggan.bench.BenchDirs;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.PoisonPill;

/**
 * The Toboggan journal with many persistence ids writing at once, each an event at a time with {@code persist}
 * (sharded entities, not one {@code persistAsync} stream): each journal write call then holds one or two events
 * of many persistence ids, so what the journal stores per persistence id and call (an event run, the persistence
 * id's entry, its run's slice entry) is what it costs, where {@link JournalCpu}'s one writer amortizes it over a
 * call's hundreds of events. Per round: a new store, {@code ids} writers named {@code Entity|i} recovered, then
 * {@code events} commands sent to each at once; the round ends when every event is confirmed.
 *
 * <pre>{@code
 * java -cp benchmarks.jar dev.toboggan.bench.journal.JournalManyIds [rounds] [ids] [events]
 * }</pre>
 *
 * Defaults: 6 rounds, 1 000 ids, 20 events each. Prints per round the events per wall second and the process's
 * CPU microseconds per event (all its threads, GC and JIT included).
 */
public final class JournalManyIds {
    private JournalManyIds() {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        int ids = args.length > 1 ? Integer.parseInt(args[1]) : 1_000;
        int events = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        for (int round = 1; round <= rounds; round++) {
            Path directory = BenchDirs.create("journal-many-ids");
            ActorSystem system = ActorSystem.create("bench", Journals.config("toboggan", directory));
            try {
                List<ActorRef> writers = new ArrayList<>(ids);
                List<CompletableFuture<Void>> recovered = new ArrayList<>(ids);
                for (int i = 0; i < ids; i++) {
                    CompletableFuture<Void> done = new CompletableFuture<>();
                    recovered.add(done);
                    writers.add(system.actorOf(Writer.props("Entity|" + i, false, done)));
                }
                CompletableFuture.allOf(recovered.toArray(CompletableFuture[]::new)).get(1, TimeUnit.MINUTES);
                long cpuBefore = os.getProcessCpuTime();
                long start = System.nanoTime();
                List<CompletableFuture<Void>> confirmed = new ArrayList<>(ids);
                for (ActorRef writer : writers) {
                    CompletableFuture<Void> done = new CompletableFuture<>();
                    confirmed.add(done);
                    writer.tell(new Writer.Expect(events, done), ActorRef.noSender());
                    for (int e = 0; e < events; e++) {
                        writer.tell(new Writer.Event("event-" + e), ActorRef.noSender());
                    }
                }
                CompletableFuture.allOf(confirmed.toArray(CompletableFuture[]::new)).get(10, TimeUnit.MINUTES);
                long wallNanos = System.nanoTime() - start;
                long cpuNanos = os.getProcessCpuTime() - cpuBefore;
                long total = (long) ids * events;
                System.out.printf("round %d: %,.0f events/s, %.1f µs of process CPU per event%n", round,
                        total * 1e9 / wallNanos, cpuNanos / 1e3 / total);
                writers.forEach(w -> w.tell(PoisonPill.getInstance(), ActorRef.noSender()));
            } finally {
                system.terminate();
                system.getWhenTerminated().toCompletableFuture().get(1, TimeUnit.MINUTES);
                BenchDirs.delete(directory);
            }
        }
    }
}
