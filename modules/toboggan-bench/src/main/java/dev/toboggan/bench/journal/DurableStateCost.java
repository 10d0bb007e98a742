package dev.toboggan.bench.journal;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.Db;
import dev.toboggan.Tree;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.pekko.PekkoStores;
import dev.toboggan.pekko.TobogganDurableStateStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.persistence.state.DurableStateStoreRegistry;

/**
 * What the durable state store ({@code toboggan.state}) sustains beside a bare tree write: {@code threads} callers
 * each write {@code objects} objects of their own, all in flight at once, then wait for every one to be durable,
 * in three ways per round, alternating in one JVM: {@code bare} (a tree insert of the same value bytes and a
 * {@code flushAsync} per write: the least a durable write of the store costs), {@code untagged} upserts (a
 * transaction each: read the entry, check the revision, write it) and {@code tagged} upserts (one tag for all:
 * every change also reads and increments the tag's counter, so the callers queue for it; docs/pekko.md,
 * "Durable state store"). Prints writes per second and the store's transaction counters (runs dropped on a
 * conflict, transactions that ran alone).
 *
 * <pre>
 * java -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.journal.DurableStateCost \
 *     [threads (16)] [objects per thread (2000)] [rounds (3)]
 * </pre>
 */
public final class DurableStateCost {
    private DurableStateCost() {}

    /** One caller's write of object {@code i} at {@code revision}. */
    private interface Write {
        CompletionStage<?> write(int caller, int i, long revision);
    }

    public static void main(String[] args) throws Exception {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 16;
        int objects = args.length > 1 ? Integer.parseInt(args[1]) : 2000;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        Path dir = BenchDirs.create("durable-state");
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "durable-state", ConfigFactory.parseString(
                "toboggan.pekko.store.directory = \"" + dir.toAbsolutePath().toString().replace("\\", "\\\\") + "\"\n"
                        + "pekko.loglevel = WARNING").withFallback(ConfigFactory.load()));
        try {
            TobogganDurableStateStore store = DurableStateStoreRegistry.get(Adapter.toClassic(system))
                    .getDurableStateStoreFor(TobogganDurableStateStore.class, "toboggan.state");
            Db db = PekkoStores.get(system).store("toboggan.pekko.store");
            Tree bare = db.tree("bare");
            byte[] value = "value 1234".getBytes(StandardCharsets.UTF_8);
            Map<String, Write> modes = new LinkedHashMap<>();
            modes.put("bare", (caller, i, revision) -> {
                bare.insert(("caller-" + caller + "-" + i).getBytes(StandardCharsets.UTF_8), value);
                return db.flushAsync();
            });
            modes.put("untagged", (caller, i, revision) ->
                    store.upsertObject("untagged-" + caller + "-" + i, revision, "value " + i, ""));
            modes.put("tagged", (caller, i, revision) ->
                    store.upsertObject("tagged-" + caller + "-" + i, revision, "value " + i, "tag"));
            for (int round = 1; round <= rounds; round++) {
                for (Map.Entry<String, Write> mode : modes.entrySet()) {
                    long revision = round;
                    long started = System.nanoTime();
                    List<CompletableFuture<Void>> callers = new ArrayList<>();
                    for (int t = 0; t < threads; t++) {
                        int caller = t;
                        callers.add(CompletableFuture.runAsync(() -> {
                            List<CompletionStage<?>> inFlight = new ArrayList<>(objects);
                            for (int i = 0; i < objects; i++) {
                                inFlight.add(mode.getValue().write(caller, i, revision));
                            }
                            inFlight.forEach(call -> call.toCompletableFuture().join());
                        }, runnable -> new Thread(runnable, "caller-" + caller).start()));
                    }
                    CompletableFuture.allOf(callers.toArray(new CompletableFuture<?>[0])).join();
                    double seconds = (System.nanoTime() - started) / 1e9;
                    System.out.printf("round %d, %-8s: %d callers x %d writes: %,9.0f per second; %s%n", round,
                            mode.getKey(), threads, objects, threads * objects / seconds, db.metrics().transactions());
                }
            }
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().join();
            BenchDirs.delete(dir);
        }
    }
}
