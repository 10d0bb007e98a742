package dev.toboggan;

import static dev.toboggan.TestKeys.be;
import static dev.toboggan.TestKeys.utf8;
import static dev.toboggan.TestKeys.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.StorageException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.engine.EngineSettings;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Opening stores: on a real directory, from configuration, inside a caller's actor system, and through crashes. */
class TobogganTest {
    @TempDir
    Path dir;

    /**
     * An interrupted thread's flush fails for that thread alone. Before, its IO closed the log's file channel
     * for every thread (an interrupted {@code FileChannel} operation does) and the store failed: a cancelled
     * future or an executor's {@code shutdownNow} took the whole store down.
     */
    @Test
    void anInterruptedThreadsFlushFailsForItAloneAndTheStoreGoesOn() throws Exception {
        try (Db db = Toboggan.open(dir)) {
            db.insert(be(0), value(0, 100));
            db.flush();
            RuntimeException[] failed = new RuntimeException[1];
            boolean[] flagKept = new boolean[1];
            Thread interrupted = new Thread(() -> {
                Thread.currentThread().interrupt();
                db.insert(be(1), value(1, 100));
                try {
                    db.flush();
                } catch (RuntimeException e) {
                    failed[0] = e;
                }
                flagKept[0] = Thread.currentThread().isInterrupted();
            });
            interrupted.start();
            interrupted.join();
            assertThat(failed[0]).isInstanceOf(IllegalStateException.class).hasMessageContaining("interrupted");
            assertThat(flagKept[0]).isTrue();

            db.insert(be(2), value(2, 100));
            assertThat(db.flush()).isPositive();
            assertThat(db.get(be(1))).isEqualTo(value(1, 100));
        }
        try (Db db = Toboggan.open(dir)) {
            assertThat(db.get(be(1))).isEqualTo(value(1, 100));
            assertThat(db.get(be(2))).isEqualTo(value(2, 100));
        }
    }

    /**
     * Writers flushing while another thread interrupts them at random, mid-force included: a write whose
     * flush returned is never lost, and the store never fails (an interrupt is not a disk error).
     */
    @Test
    void writersInterruptedAtRandomLoseNothingAcknowledgedAndTheStoreGoesOn() throws Exception {
        int writers = 4;
        List<Set<Integer>> acknowledged = new ArrayList<>();
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger interruptedFlushes = new AtomicInteger();
        try (Db db = Toboggan.open(dir)) {
            Thread[] threads = new Thread[writers];
            for (int w = 0; w < writers; w++) {
                Set<Integer> mine = new HashSet<>();
                acknowledged.add(mine);
                int writer = w;
                threads[w] = new Thread(() -> {
                    for (int seq = 0; !stop.get(); seq++) {
                        int key = seq * writers + writer;
                        try {
                            db.insert(be(key), value(key, 100));
                            db.flush();
                            mine.add(key);
                        } catch (RuntimeException e) {
                            // An interrupted call fails for its thread alone, saying why; anything else is a bug.
                            if (!Thread.interrupted() || !String.valueOf(e.getMessage()).contains("interrupt")) {
                                errors.add(e);
                                return;
                            }
                            interruptedFlushes.incrementAndGet();
                        }
                    }
                }, "writer-" + w);
                threads[w].start();
            }
            SplittableRandom r = new SplittableRandom(7);
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (System.nanoTime() < end && errors.isEmpty()) {
                threads[r.nextInt(writers)].interrupt();
                LockSupport.parkNanos(r.nextLong(50_000, 500_000));
            }
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
            assertThat(errors).isEmpty();
            assertThat(interruptedFlushes.get()).isPositive();
            db.flush();
        }
        try (Db db = Toboggan.open(dir)) {
            for (Set<Integer> mine : acknowledged) {
                for (int key : mine) {
                    assertThat(db.get(be(key))).as("key %d, acknowledged", key).isEqualTo(value(key, 100));
                }
            }
        }
    }

    @Test
    void aStoreOnDiskKeepsItsTreesAcrossReopens() {
        try (Db db = Toboggan.open(dir)) {
            assertThat(db.wasRecovered()).isFalse();
            assertThat(db.directory()).isEqualTo(dir);
            for (int i = 0; i < 5000; i++) {
                db.insert(be(i), value(i, 100));
            }
            db.tree("other").insert(utf8("k"), value(1, 3_000_000));
            assertThatThrownBy(() -> Toboggan.open(dir)).isInstanceOf(StorageException.class)
                    .hasMessageContaining("lock");
        }
        try (Db db = Toboggan.open(dir)) {
            assertThat(db.wasRecovered()).isTrue();
            assertThat(db.size()).isEqualTo(5000);
            assertThat(db.get(be(4321))).isEqualTo(value(4321, 100));
            assertThat(db.tree("other").get(utf8("k"))).isEqualTo(value(1, 3_000_000));
            assertThat(db.treeNames()).containsExactly(Db.DEFAULT_TREE, "other");
            assertThat(db.sizeOnDisk()).isGreaterThan(3_000_000);
        }
    }

    @Test
    void settingsComeFromConfiguration() {
        Config config = ConfigFactory.parseMap(Map.of("toboggan.directory", dir.toString(),
                "toboggan.tree.node-split-size", "256B", "toboggan.tree.max-inline-value", "16B",
                "toboggan.segment-size", "64KiB"));
        try (Db db = Toboggan.open(config)) {
            Store store = (Store) db;
            assertThat(store.settings()).isEqualTo(new TreeSettings(256, 16));
            for (int i = 0; i < 500; i++) {
                db.insert(be(i), value(i, i % 2 == 0 ? 8 : 40));
            }
            TreeVerifier.verify(store);
        }
        assertThat(TreeSettings.defaults()).isEqualTo(new TreeSettings(4096, 1024));
        assertThatThrownBy(() -> Toboggan.open(ConfigFactory.parseMap(Map.of("toboggan.tree.node-split-size", "10B")), dir))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("toboggan.tree.node-split-size");
        assertThatThrownBy(() -> Toboggan.open(ConfigFactory.parseMap(Map.of("toboggan.tree.max-inline-value", "1MiB")), dir))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("toboggan.tree.max-inline-value");
    }

    @Test
    void insideACallersActorSystemThereIsOneDbPerDirectory() throws Exception {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "caller");
        try {
            Config config = ConfigFactory.parseMap(Map.of("toboggan.directory", dir.toString()));
            Db db = Toboggan.open(config, system);
            assertThat(Toboggan.open(config, system)).isSameAs(db);
            db.insert(utf8("k"), utf8("v"));
            assertThat(db.flushAsync().toCompletableFuture().get(10, TimeUnit.SECONDS)).isPositive();
            db.close();
            Db again = Toboggan.open(config, system);
            assertThat(again).isNotSameAs(db);
            assertThat(again.get(utf8("k"))).isEqualTo(utf8("v"));
            Config sameDirectoryOtherName = ConfigFactory.parseMap(Map.of("toboggan.directory",
                    dir.resolve("..").resolve(dir.getFileName()).toString()));
            assertThat(Toboggan.open(sameDirectoryOtherName, system)).as("one directory, one store").isSameAs(again);
            Config otherSettings = ConfigFactory.parseMap(Map.of("toboggan.directory", dir.toString(),
                    "toboggan.durability", "os"));
            assertThatThrownBy(() -> Toboggan.open(otherSettings, system)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("already open").hasMessageContaining("other settings");
            Config otherTrees = ConfigFactory.parseMap(Map.of("toboggan.directory", dir.toString(),
                    "toboggan.tree.node-split-size", "8KiB"));
            assertThatThrownBy(() -> Toboggan.open(otherTrees, system)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("other tree settings");
            again.close();
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    /**
     * Power losses under the engine (its Flusher actor flushing every few milliseconds): what a flush
     * acknowledged survives, a batch is whole or absent, and the tree is intact.
     */
    @Test
    void acknowledgedWritesAndWholeBatchesSurvivePowerLoss() throws Exception {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "crashes");
        SimulatedStorage disk = new SimulatedStorage();
        EngineSettings settings = EngineSettings.fromConfig(ConfigFactory.parseMap(Map.of(
                "toboggan.segment-size", "16KiB", "toboggan.flush-every", "3ms")), Path.of("/store"));
        TreeSettings trees = new TreeSettings(128, 24);
        long seed = Long.getLong("toboggan.test.seed", System.nanoTime());
        System.out.println("TobogganTest power-loss seed " + seed + " (rerun with -Dtoboggan.test.seed=" + seed + ")");
        SplittableRandom r = new SplittableRandom(seed);
        int acknowledged = 0;
        int written = 0;
        try {
            for (int round = 0; round < 6 * Integer.getInteger("toboggan.test.scale", 1); round++) {
                Store db = Toboggan.open(settings, trees, system, disk);
                // Counter keys are written in order, so what survives is a prefix.
                int recovered = 0;
                while (db.get(be(recovered)) != null) {
                    recovered++;
                }
                assertThat(recovered).as("round %d", round).isGreaterThanOrEqualTo(acknowledged).isLessThanOrEqualTo(written);
                assertThat(db.size()).isEqualTo(recovered + 8L * (db.containsKey(utf8("batch0")) ? 1 : 0));
                checkBatch(db);
                TreeVerifier.verify(db);
                written = recovered;
                for (int i = 0, n = r.nextInt(100, 600); i < n; i++) {
                    db.insert(be(written), value(written, r.nextInt(5) == 0 ? 60 : 10));
                    written++;
                    if (r.nextInt(100) == 0) {
                        db.flushAsync().toCompletableFuture().get(10, TimeUnit.SECONDS);
                        acknowledged = written;
                    }
                    if (r.nextInt(20) == 0) {
                        Batch batch = new Batch();
                        int generation = r.nextInt(1_000_000);
                        for (int k = 0; k < 8; k++) {
                            batch.insert(utf8("batch" + k), ByteBuffer.allocate(k % 2 == 0 ? 4 : 40).putInt(generation).array());
                        }
                        db.applyBatch(batch);
                    }
                }
                disk.powerLoss(r);
                db.abandon();
            }
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }

    private static void checkBatch(Db db) {
        byte[] first = db.get(utf8("batch0"));
        for (int k = 1; k < 8; k++) {
            byte[] v = db.get(utf8("batch" + k));
            if (first == null) {
                assertThat(v).isNull();
            } else {
                assertThat(ByteBuffer.wrap(v).getInt()).isEqualTo(ByteBuffer.wrap(first).getInt());
            }
        }
    }
}
