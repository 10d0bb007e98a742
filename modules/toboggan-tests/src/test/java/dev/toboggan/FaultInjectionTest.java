package dev.toboggan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.TobogganException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.SegmentCleaning;
import dev.toboggan.engine.EngineSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults under the whole store (the engine and its actors, the trees) through the IO seam: one scenario —
 * create, writes of small values, value pages and blobs, removes, atomic batches and transactions, a new tree, flushes,
 * snapshots, a clean close and reopen, a power loss and the recovery after it, cleaning passes that drain
 * every segment they may (besides the engine's own cleaner, which runs as segments fill), removes that empty
 * leaves (which the tree merges), an online backup — run again and again with
 * one fault injected at a different place each time:
 * <ul>
 *   <li>the Nth call of each kind (read, write, force, truncate, rename, delete, directory sync, open,
 *       list) failing once, or failing for ever from the Nth on (a dead disk), N over the calls the
 *       scenario makes (sampled in the default suite, every N with {@code -Plong});
 *   <li>a power loss that keeps a random subset of the unforced writes, torn or whole, before each step;
 *   <li>a torn write (the next write cut at a random byte, then the power fails) before each step;
 *   <li>a full disk from each step on.
 * </ul>
 * Each must end in a clear error (a {@link TobogganException} with a message; for a full disk, one that
 * says so) or in the scenario finishing; then the store is closed, the faults are cleared, the power
 * fails, and the store must reopen with a state the scenario went through since its last acknowledged
 * flush or close (nothing acknowledged lost, no half of a batch, nothing never written) and valid trees
 * without leaked pages ({@link TreeVerifier}); a backup that got its format file must hold exactly the state
 * its step began with, and one cut short must be refused at open.
 *
 * <p>The background actors run, but with no periodic flush or snapshot, so each run makes nearly the
 * same calls; {@code -Dtoboggan.test.seed} replays a run.
 */
class FaultInjectionTest {
    /** A cleaning policy that drains every complete segment with any dead byte. */
    private static final SegmentCleaning.Policy EVERY_SEGMENT = new SegmentCleaning.Policy(1.0, 1.01);
    private static final long SEED = Long.getLong("toboggan.test.seed", System.nanoTime());
    private static final int SCALE = Integer.getInteger("toboggan.test.scale", 1);
    private static final Path DIR = Path.of("/store");
    private static final Path BACKUP = Path.of("/backup");
    private static final Config CONFIG = ConfigFactory.parseString("""
            toboggan.segment-size = 16KiB
            toboggan.flush-every = 0
            toboggan.snapshot-interval = 0
            toboggan.max-flush-retries = 1
            toboggan.idgen-persist-interval = 16
            toboggan.tree.node-split-size = 512B
            toboggan.tree.max-inline-value = 64B
            """);

    private static ActorSystem<Void> system;
    /** Where the export steps write their dumps: the real file system (an export is read back after the run). */
    @TempDir
    static Path dumps;

    @BeforeAll
    static void startSystem() {
        system = ActorSystem.create(Behaviors.empty(), "faults");
        System.out.println("FaultInjectionTest seed " + SEED + " (rerun with -Dtoboggan.test.seed=" + SEED + ")"
                + (watched(SEED) ? ", with a durable watch of " + watchBuffer(SEED) + " events' buffer"
                        : ", without a watch (even seeds have one)"));
    }

    @AfterAll
    static void stopSystem() throws Exception {
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Test
    void theNthCallOfEachKindFailingEndsInAClearErrorOrACleanRecovery() {
        Scenario clean = new Scenario(SEED, true);
        clean.run(-1, disk -> { });
        assertThat(clean.failure).as("the scenario without a fault").isNull();
        assertThat(clean.segmentsFreed).as("the scenario's cleaning passes free segments (their IO is under test)")
                .isPositive();
        CountingStorage counts = clean.counting;
        StringBuilder made = new StringBuilder("FaultInjectionTest: the scenario's calls:");
        for (SimulatedStorage.Op op : SimulatedStorage.Op.values()) {
            made.append(' ').append(op).append('=').append(counts.calls(op));
        }
        System.out.println(made);
        SplittableRandom r = new SplittableRandom(SEED);
        for (SimulatedStorage.Op op : SimulatedStorage.Op.values()) {
            long calls = counts.calls(op);
            // Every N under -Plong; a spread sample with a random start in the default suite.
            long stride = Math.max(1, calls / (24L * SCALE));
            for (long n = 1 + r.nextLong(stride); n <= calls; n += stride) {
                long nth = n;
                SimulatedStorage.FailMode mode = r.nextInt(3) == 0 ? SimulatedStorage.FailMode.FOREVER
                        : SimulatedStorage.FailMode.ONCE;
                runWithTimeout(op + " #" + nth + " " + mode, new Scenario(SEED, false),
                        0, disk -> disk.failAfter(nth, Set.of(op), mode));
            }
        }
    }

    @Test
    void aPowerLossBeforeAnyStepLosesNothingAcknowledged() {
        int steps = new Scenario(SEED, false).steps();
        SplittableRandom r = new SplittableRandom(SEED + 1);
        for (int step = r.nextInt(2); step < steps; step += SCALE > 1 ? 1 : 2) {
            long crashSeed = r.nextLong();
            runWithTimeout("power loss before step " + step, new Scenario(SEED, false), step,
                    disk -> disk.powerLoss(new SplittableRandom(crashSeed)));
        }
    }

    @Test
    void aTornWriteAtAnyStepLosesNothingAcknowledged() {
        int steps = new Scenario(SEED, false).steps();
        SplittableRandom r = new SplittableRandom(SEED + 2);
        for (int step = r.nextInt(3); step < steps; step += SCALE > 1 ? 1 : 3) {
            int keep = r.nextInt(0, 300);
            runWithTimeout("write torn at byte " + keep + " from step " + step, new Scenario(SEED, false), step,
                    disk -> disk.tearNextWrite(keep));
        }
    }

    @Test
    void aFullDiskEndsInAClearErrorAndLosesNothingAcknowledged() {
        int steps = new Scenario(SEED, false).steps();
        SplittableRandom r = new SplittableRandom(SEED + 3);
        for (int step = r.nextInt(4); step < steps; step += SCALE > 1 ? 1 : 4) {
            long slack = r.nextLong(0, 48 * 1024);
            Scenario scenario = new Scenario(SEED, false);
            runWithTimeout("disk full from step " + step + " with " + slack + " bytes left", scenario, step,
                    disk -> disk.capacity(disk.usedBytes() + slack));
            if (scenario.failure != null) {
                assertThat(chain(scenario.failure)).as("the error of a full disk, seed %d", SEED)
                        .contains("No space left");
            }
        }
    }

    /**
     * Regression: half of a batch whose blob write failed was sealed and made durable (fixed in BLinkTree;
     * deterministic test: {@code TreeFailureTest#aBatchThatFailsHalfWayIsNeverHalfDurable}).
     */
    @Test
    void regressionSeed10497267385579WriteFailingInTheMiddleOfABatch() {
        runWithTimeout("WRITE #13 ONCE", new Scenario(10497267385579L, false), 0,
                disk -> disk.failAfter(13, Set.of(SimulatedStorage.Op.WRITE), SimulatedStorage.FailMode.ONCE));
    }

    /**
     * Regression: a close whose final flush failed returned as if everything were durable (fixed in PageCache;
     * deterministic test: {@code PageCacheErrorTest#aCloseWhoseFinalFlushFailsThrowsAndStillReleasesTheStore}).
     */
    @Test
    void regressionSeed10497267385579PowerLossBeforeACleanClose() {
        runWithTimeout("power loss before step 60", new Scenario(10497267385579L, false), 60, SimulatedStorage::powerLoss);
    }

    /** Runs per test and how many of them ended in an error, printed so a fault that never fires shows. */
    private int runs;
    private int errors;
    /** Backups opened and compared after a run, and backups cut short that an open refused. */
    private int backupsChecked;
    private int backupsRefused;
    /** Dumps read back after a run, and exports that failed leaving no file under the dump's name. */
    private int dumpsChecked;
    private int exportsFailed;
    /** Runs after which the build step's tree was found whole (it is absent after the others). */
    private int treesBuilt;
    /** Snapshots taken at the export step and read whole at the close step, as the export step began. */
    private int snapshotsChecked;

    @AfterEach
    void report(TestInfo test) {
        System.out.println("FaultInjectionTest." + test.getTestMethod().orElseThrow().getName() + ": " + runs
                + " runs, " + errors + " ended in an error; backups checked " + backupsChecked + ", cut short and refused "
                + backupsRefused + "; dumps checked " + dumpsChecked + ", exports failed without leaving one "
                + exportsFailed + "; built trees found whole " + treesBuilt + "; snapshots read whole " + snapshotsChecked);
        String name = test.getTestMethod().orElseThrow().getName();
        // A regression seed replays one run, and which call is the Nth depends on the background actors'
        // timing: it may miss its target (the bug it found has a deterministic test of its own, named in
        // its javadoc). The sweeps must hit: a sweep in which no fault fired tested nothing.
        if (!name.startsWith("regression")) {
            assertThat(errors).as("runs in which the injected fault made the store fail").isPositive();
        }
    }

    private void runWithTimeout(String what, Scenario scenario, int faultStep, Consumer<SimulatedStorage> fault) {
        // A fault must never hang the store: each run gets a minute on this slow, shared machine.
        try {
            assertTimeoutPreemptively(Duration.ofSeconds(60), () -> scenario.run(faultStep, fault),
                    () -> what + " hung; seed " + SEED);
            switch (scenario.checkRecovery(what)) {
                case CHECKED -> backupsChecked++;
                case REFUSED -> backupsRefused++;
                default -> { }
            }
            treesBuilt += scenario.treesBuilt;
            snapshotsChecked += scenario.snapshotsChecked;
            switch (scenario.checkDump(what)) {
                case CHECKED -> dumpsChecked++;
                case REFUSED -> exportsFailed++;
                default -> { }
            }
        } catch (AssertionError | RuntimeException e) {
            // which fault, where, and the seed: also for an exception recovery threw, not only a failed check
            throw new AssertionError(what + " (seed " + SEED + "): " + chain(e), e);
        }
        runs++;
        if (scenario.failure != null) {
            errors++;
        }
    }

    private static String chain(Throwable e) {
        StringBuilder messages = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            messages.append(t).append(" / ");
        }
        return messages.toString();
    }

    /** What a run left of its backup step, or of its export step (REFUSED: the export failed, leaving no dump). */
    private enum BackupOutcome { NONE, CHECKED, REFUSED }

    /** One run of the scenario on a fresh simulated disk, and what it acknowledged. */
    /** Whether the scenarios of {@code seed} run with a durable watch ({@link Scenario#open}). */
    private static boolean watched(long seed) {
        return (seed & 1) == 0;
    }

    /**
     * The buffer of the durable watch of {@code seed}: a small one for every other watched seed, whose writers
     * the watch holds until their changes are durable every few writes (those waits then meet the faults too).
     */
    private static int watchBuffer(long seed) {
        return (seed & 3) == 0 ? 16 : Tree.MAX_WATCH_BUFFER;
    }

    private static final class Scenario {
        private final long seed;
        private final SimulatedStorage disk = new SimulatedStorage();
        private final CountingStorage counting;
        private final List<String> script;
        private final SplittableRandom r;
        private final EngineSettings settings = EngineSettings.fromConfig(CONFIG, DIR);
        private final TreeSettings trees = TreeSettings.fromConfig(CONFIG);
        private Store db;
        private NavigableMap<byte[], byte[]> model = TestKeys.model();
        /** States a crash may recover: the last acknowledged one and each one after it. */
        private final List<NavigableMap<byte[], byte[]>> candidates = new ArrayList<>();
        /** Per candidate, the number of changes made when the scenario was in that state. */
        private final List<Long> candidateAt = new ArrayList<>();
        /** Changes made (calls of {@link #change}). */
        private long changes;
        /** Each value written ("key=value", hex) to the number of the change that wrote it. */
        private final Map<String, Long> changeOf = new java.util.concurrent.ConcurrentHashMap<>();
        /** The latest change a durable watch of the default tree reported: the store must recover it. */
        private final java.util.concurrent.atomic.AtomicLong reportedDurable = new java.util.concurrent.atomic.AtomicLong();
        /** What the durable watch reported that the scenario never wrote, if anything. */
        private final List<String> reportedForeign = java.util.Collections.synchronizedList(new ArrayList<>());
        /** What each step did, for failure messages. */
        private final List<String> trace = new ArrayList<>();
        private RuntimeException failure;
        private String failedAt;
        /** The store's state when the backup step began ({@code null} before it): what the backup must hold. */
        private NavigableMap<byte[], byte[]> backupModel;
        /** The default tree when the export step began ({@code null} before it), and whether the export returned. */
        private NavigableMap<byte[], byte[]> exportModel;
        private boolean exported;
        /** The snapshot the export step took before its export ({@code null} before it and after the close step). */
        private Snapshot view;
        /** Snapshots read whole at the close step. */
        int snapshotsChecked;
        /** The tree the build step built, once its call returned. */
        private String built;
        /** Built trees the recovered store held (whole). */
        int treesBuilt;
        private final Path dumpFile = dumps.resolve("dump-" + System.nanoTime());
        /** Segments the cleaning (the engine's and the scenario's passes) had freed at the last clean step. */
        private long segmentsFreed;

        /** With {@code count}, the store's IO goes through a {@link CountingStorage} over {@link #disk}. */
        Scenario(long seed, boolean count) {
            this.seed = seed;
            this.counting = count ? new CountingStorage(disk) : null;
            this.r = new SplittableRandom(seed);
            this.script = script(new SplittableRandom(seed ^ 0x5C4E7A10L));
            candidates.add(TestKeys.model());
            candidateAt.add(0L);
        }

        private static List<String> script(SplittableRandom r) {
            List<String> s = new ArrayList<>();
            s.add("open");
            writes(r, s, 14);
            s.add("flush");
            writes(r, s, 10);
            s.add("snapshot");
            writes(r, s, 8);
            s.add("flush");
            s.add("close+open");
            writes(r, s, 8);
            s.add("flush");
            writes(r, s, 4);
            s.add("crash+open");
            writes(r, s, 8);
            s.add("snapshot");
            writes(r, s, 6);
            s.add("close+open");
            writes(r, s, 3);
            // Cleaning last, so the steps before (and the regression seeds' step numbers) stay as they were.
            s.add("churn");
            s.add("flush");
            s.add("clean");
            s.add("flush");
            s.add("clean");
            s.add("purge");
            s.add("flush");
            writes(r, s, 4);
            s.add("backup");
            s.add("export");
            writes(r, s, 2);
            s.add("build");
            s.add("clear");
            s.add("rename");
            writes(r, s, 2);
            s.add("close");
            return s;
        }

        private static void writes(SplittableRandom r, List<String> s, int n) {
            for (int i = 0; i < n; i++) {
                int roll = r.nextInt(20);
                s.add(roll < 11 ? "insert" : roll < 14 ? "remove" : roll < 19 ? "batch" : "tree");
            }
        }

        int steps() {
            return script.size();
        }

        void run(int faultStep, Consumer<SimulatedStorage> fault) {
            for (int step = 0; step < script.size(); step++) {
                if (step == faultStep) {
                    fault.accept(disk);
                }
                try {
                    execute(step, script.get(step));
                } catch (TobogganException e) {
                    failure = e;
                    failedAt = "step " + step + " (" + script.get(step) + ")";
                    return;
                } catch (RuntimeException e) {
                    throw new AssertionError("step " + step + " (" + script.get(step) + ") failed with an error that is "
                            + "not a Toboggan error; seed " + seed, e);
                }
            }
        }

        private void execute(int step, String what) {
            if (!what.equals("insert") && !what.equals("remove") && !what.equals("batch")) {
                trace.add(step + ": " + what);
            }
            switch (what) {
                case "open" -> db = open();
                case "insert" -> {
                    byte[] key = TestKeys.be(r.nextInt(120));
                    byte[] value = TestKeys.value(step * 1000L + r.nextInt(1000), length());
                    trace.add(step + ": insert " + TestKeys.hex(key) + " (" + value.length + " bytes)");
                    change(after -> after.put(key, value), () -> db.insert(key, value));
                }
                case "remove" -> {
                    byte[] key = TestKeys.be(r.nextInt(120));
                    trace.add(step + ": remove " + TestKeys.hex(key));
                    change(after -> after.remove(key), () -> db.remove(key));
                }
                case "batch" -> {
                    Batch batch = new Batch();
                    List<byte[]> keys = new ArrayList<>();
                    List<byte[]> values = new ArrayList<>();
                    for (int i = 0, n = 1 + r.nextInt(6); i < n; i++) {
                        keys.add(TestKeys.be(r.nextInt(120)));
                        values.add(r.nextInt(4) == 0 ? null : TestKeys.value(step * 1000L + i, length()));
                        if (values.get(i) == null) {
                            batch.remove(keys.get(i));
                        } else {
                            batch.insert(keys.get(i), values.get(i));
                        }
                    }
                    // Odd steps make the changes as a transaction, which reads each key first (no draw: seeds replay).
                    boolean transaction = step % 2 == 1;
                    StringBuilder line = new StringBuilder(step + (transaction ? ": transaction" : ": batch"));
                    for (int i = 0; i < keys.size(); i++) {
                        line.append(' ').append(TestKeys.hex(keys.get(i))).append(" (")
                                .append(values.get(i) == null ? "remove" : values.get(i).length + " bytes").append(')');
                    }
                    trace.add(line.toString());
                    for (int i = 0; i < keys.size(); i++) {
                        if (values.get(i) != null) { // a key set twice: its event holds both values
                            changeOf.put(TestKeys.hex(keys.get(i)) + "=" + TestKeys.hex(values.get(i)), changes + 1);
                        }
                    }
                    change(after -> {
                        for (int i = 0; i < keys.size(); i++) {
                            if (values.get(i) == null) {
                                after.remove(keys.get(i));
                            } else {
                                after.put(keys.get(i), values.get(i));
                            }
                        }
                    }, transaction ? () -> db.transaction(tx -> {
                        for (int i = 0; i < keys.size(); i++) {
                            if (values.get(i) == null) {
                                tx.remove(keys.get(i));
                            } else {
                                tx.insert(keys.get(i), values.get(i));
                            }
                        }
                        return null;
                    }) : () -> db.applyBatch(batch));
                }
                // A new tree writes the meta page (the contents compared are the default tree's).
                case "tree" -> db.tree("t" + step).insert(TestKeys.be(step), new byte[] {1});
                case "flush" -> {
                    db.flush();
                    acknowledge();
                }
                case "snapshot" -> db.pageCache().snapshots().takeSnapshot();
                // Overwrites enough to leave segments mostly dead, so that the cleaning steps drain and free some.
                case "churn" -> {
                    for (int i = 0; i < 150; i++) {
                        byte[] key = TestKeys.be(r.nextInt(120));
                        byte[] value = TestKeys.value(step * 1000L + i, length());
                        change(after -> after.put(key, value), () -> db.insert(key, value));
                    }
                }
                // Removes the lower half of the key space one key at a time: it empties leaves, which the tree
                // merges, so faults land inside merges too.
                case "purge" -> {
                    for (int i = 0; i < 60; i++) {
                        byte[] key = TestKeys.be(i);
                        change(after -> after.remove(key), () -> db.remove(key));
                    }
                }
                // A pass that drains every segment it may (threshold 100 %), next to the engine's own cleaner.
                case "clean" -> {
                    db.pageCache().cleaning().pass(EVERY_SEGMENT);
                    segmentsFreed = db.pageCache().cleaning().metrics().segmentsFreed();
                }
                // An online backup of the store as it is now (it flushes first: everything before it is acknowledged).
                case "backup" -> {
                    backupModel = copy(model);
                    db.backup(BACKUP);
                    acknowledge();
                }
                // An export to a file of the real file system: its reads meet the faults, its writes do not. A
                // snapshot of the same moment is taken first and read at the close step, after the steps between
                // changed the store.
                case "export" -> {
                    exportModel = copy(model);
                    view = db.snapshot();
                    db.export(dumpFile);
                    exported = true;
                }
                // A tree built bottom-up beside the default tree: whole or absent after any fault, nothing leaked.
                case "build" -> {
                    db.buildTree("b" + step, buildEntries(step).entrySet().iterator());
                    built = "b" + step;
                }
                // The default tree emptied in one change: before or after it after any fault, never in between.
                case "clear" -> change(NavigableMap::clear, db::clear);
                // The built tree renamed b<n> -> r<n>: after any fault one of the two names holds it whole, never both.
                case "rename" -> {
                    if (built != null) {
                        String renamed = "r" + built.substring(1);
                        db.renameTree(built, renamed);
                        built = renamed;
                    }
                }
                case "close+open" -> {
                    db.close();
                    acknowledge();
                    db = open();
                    NavigableMap<byte[], byte[]> reopened = contents(db);
                    if (!TestKeys.show(reopened).equals(TestKeys.show(model))) {
                        fail("step " + step + ": a clean close returned, but the store reopened with another state: "
                                + difference(model, reopened) + "; seed " + seed + "\nthe steps:\n  "
                                + String.join("\n  ", trace));
                    }
                }
                case "close" -> {
                    readView(step);
                    db.close();
                    acknowledge();
                    db = null;
                }
                case "crash+open" -> {
                    disk.powerLoss(r);
                    db.abandon();
                    db = open();
                    recovered("a power loss in the scenario");
                }
                default -> throw new IllegalStateException(what);
            }
        }

        /**
         * Reads the export step's snapshot whole, then closes it: it must hold the default tree as that step began,
         * whatever the steps since did. A read that meets an injected fault ends the run with that error (as any
         * read); one that finds a page corrupt means the snapshot read a segment the cleaner freed: a bug.
         */
        private void readView(int step) {
            if (view == null) {
                return;
            }
            try (Snapshot ending = view) {
                view = null;
                NavigableMap<byte[], byte[]> held = TestKeys.model();
                for (Map.Entry<byte[], byte[]> e : ending) {
                    held.put(e.getKey(), e.getValue());
                }
                if (!TestKeys.show(held).equals(TestKeys.show(exportModel))) {
                    fail("step " + step + ": the snapshot taken at the export step holds another state: "
                            + difference(exportModel, held) + "; seed " + seed + "\nthe steps:\n  "
                            + String.join("\n  ", trace));
                }
                snapshotsChecked++;
            } catch (dev.toboggan.core.CorruptionException e) {
                throw new AssertionError("step " + step + ": the snapshot taken at the export step read a corrupt page; "
                        + "seed " + seed, e);
            }
        }

        /** Mostly inline values; some value pages; one in eight a blob (over a quarter of a 16 KiB segment). */
        private int length() {
            int roll = r.nextInt(8);
            return roll == 0 ? 4500 + r.nextInt(3000) : roll < 3 ? 100 + r.nextInt(900) : 1 + r.nextInt(60);
        }

        private void change(Consumer<NavigableMap<byte[], byte[]>> effect, Runnable call) {
            NavigableMap<byte[], byte[]> after = copy(model);
            effect.accept(after);
            changes++;
            for (Map.Entry<byte[], byte[]> e : after.entrySet()) {
                if (!java.util.Arrays.equals(e.getValue(), model.get(e.getKey()))) {
                    changeOf.put(TestKeys.hex(e.getKey()) + "=" + TestKeys.hex(e.getValue()), changes);
                }
            }
            // A call cut short by a fault may or may not have taken effect.
            candidates.add(after);
            candidateAt.add(changes);
            call.run();
            model = after;
        }

        private void acknowledge() {
            candidates.clear();
            candidates.add(copy(model));
            candidateAt.clear();
            candidateAt.add(changes);
        }

        /**
         * Opens the store; for even seeds with a {@link WatchDelivery#DURABLE} watch of the default tree: a change
         * it reports must be in whatever the store recovers, however the faults and power losses fall. (Odd seeds
         * keep the store's own IO pattern: a durable watch has the store flush as its events come.)
         */
        private Store open() {
            Store store = Toboggan.open(settings, trees, system, counting != null ? counting : disk);
            if (!watched(seed)) {
                return store;
            }
            store.watchPrefix(new byte[0], WatchDelivery.DURABLE, Runnable::run, watchBuffer(seed))
                    .subscribe(new java.util.concurrent.Flow.Subscriber<>() {
                        @Override
                        public void onSubscribe(java.util.concurrent.Flow.Subscription subscription) {
                            subscription.request(Long.MAX_VALUE);
                        }

                        @Override
                        public void onNext(WatchEvent event) {
                            for (Change change : event.changes()) {
                                if (change.isRemoval()) {
                                    continue; // names no change of its own
                                }
                                String written = TestKeys.hex(change.key()) + "=" + TestKeys.hex(change.value());
                                Long at = changeOf.get(written);
                                if (at == null) {
                                    reportedForeign.add(written);
                                } else {
                                    reportedDurable.accumulateAndGet(at, Math::max);
                                }
                            }
                        }

                        @Override
                        public void onError(Throwable error) {}

                        @Override
                        public void onComplete() {}
                    });
            return store;
        }

        /** After the run: close, clear the faults, lose power, reopen and check; then the backup, if any. */
        BackupOutcome checkRecovery(String what) {
            String context = what + (failure == null ? ", no error" : ", failed at " + failedAt + " with " + failure)
                    + "; seed " + seed;
            if (failure != null && failure.getMessage() == null) {
                fail("an error without a message: " + context, failure);
            }
            if (db != null) {
                try {
                    db.close();
                    if (failure == null) {
                        acknowledge();
                    }
                } catch (TobogganException e) {
                    // The store had failed: its close reports that, and must still release it.
                }
                db = null;
            }
            disk.clearFaults();
            disk.powerLoss(new SplittableRandom(seed));
            try {
                db = open();
            } catch (RuntimeException e) {
                throw new AssertionError("the store does not reopen after " + context, e);
            }
            try {
                recovered(context);
                for (String name : db.treeNames()) {
                    if (name.startsWith("b") || name.startsWith("r")) {
                        assertThat(TestKeys.drain(db.tree(name).iterator())).as("the built tree %s after %s", name,
                                context).isEqualTo(TestKeys.show(buildEntries(Integer.parseInt(name.substring(1)))));
                        assertThat(db.treeNames()).as("the built tree under both its names after %s", context)
                                .doesNotContain((name.startsWith("b") ? "r" : "b") + name.substring(1));
                        treesBuilt++;
                    }
                }
                if (failure == null && built != null) {
                    assertThat(db.treeNames()).as("the built tree, the store closed after, %s", context).contains(built);
                }
                TreeVerifier.verify(db);
            } finally {
                db.close();
            }
            return checkBackup(context);
        }

        /**
         * After the power loss: a backup whose format file exists holds exactly the state its step began with
         * (a fault after its last file or in the flush before it cannot change what it copied); one without
         * (the fault or the power loss cut it short) is refused at open.
         */
        private BackupOutcome checkBackup(String context) {
            if (backupModel == null || !disk.exists(BACKUP.resolve("log"))) {
                return BackupOutcome.NONE;
            }
            if (!disk.exists(BACKUP.resolve("format"))) {
                assertThatThrownBy(() -> Toboggan.open(EngineSettings.fromConfig(CONFIG, BACKUP), trees, system, disk))
                        .as("a backup cut short is refused, after %s", context).hasStackTraceContaining("no format file");
                return BackupOutcome.REFUSED;
            }
            Store copy = Toboggan.open(EngineSettings.fromConfig(CONFIG, BACKUP), trees, system, disk);
            try {
                NavigableMap<byte[], byte[]> held = contents(copy);
                if (!TestKeys.show(held).equals(TestKeys.show(backupModel))) {
                    fail("the backup holds another state than the store's when it began, after " + context + ": "
                            + difference(backupModel, held) + "\nthe steps:\n  " + String.join("\n  ", trace));
                }
                TreeVerifier.verify(copy);
            } finally {
                copy.close();
            }
            return BackupOutcome.CHECKED;
        }

        /**
         * After the run: a dump under its name holds exactly the default tree as the export step began and the
         * export returned; an export that failed left no file, not even its partial one.
         */
        BackupOutcome checkDump(String context) {
            if (exportModel == null) {
                return BackupOutcome.NONE;
            }
            Path partial = dumpFile.resolveSibling("." + dumpFile.getFileName() + ".partial");
            try {
                if (!Files.exists(dumpFile)) {
                    assertThat(exported).as("an export that returned left its dump, after %s", context).isFalse();
                    assertThat(partial).as("a failed export removes its partial file, after %s", context).doesNotExist();
                    return BackupOutcome.REFUSED;
                }
                assertThat(exported).as("a dump exists only if its export returned, after %s", context).isTrue();
                NavigableMap<byte[], byte[]> held = TestKeys.model();
                DumpFormat.read(dumpFile, new DumpFormat.Visitor() {
                    boolean defaultTree;

                    @Override
                    public void tree(String name) {
                        defaultTree = name.equals(Db.DEFAULT_TREE);
                    }

                    @Override
                    public void entry(byte[] key, byte[] value) {
                        if (defaultTree) {
                            held.put(key, value);
                        }
                    }
                });
                if (!TestKeys.show(held).equals(TestKeys.show(exportModel))) {
                    fail("the dump holds another state than the store's when the export began, after " + context
                            + ": " + difference(exportModel, held) + "\nthe steps:\n  " + String.join("\n  ", trace));
                }
                return BackupOutcome.CHECKED;
            } finally {
                try {
                    Files.deleteIfExists(dumpFile);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        }

        /** What the build step at {@code step} builds: 200 entries, one in four in a value page. */
        private static NavigableMap<byte[], byte[]> buildEntries(int step) {
            SplittableRandom r = new SplittableRandom(step);
            NavigableMap<byte[], byte[]> entries = TestKeys.model();
            for (int i = 0; i < 200; i++) {
                entries.put(TestKeys.be(i * 5), TestKeys.value(r.nextLong(), r.nextInt(4) == 0 ? 65 + r.nextInt(200)
                        : r.nextInt(40)));
            }
            return entries;
        }

        private void recovered(String context) {
            NavigableMap<byte[], byte[]> recovered = contents(db);
            List<String> shown = TestKeys.show(recovered);
            assertThat(reportedForeign).as("values a durable watch reported that the scenario never wrote, after %s",
                    context).isEmpty();
            long required = reportedDurable.get();
            List<Long> matching = new ArrayList<>();
            for (int i = 0; i < candidates.size(); i++) {
                if (TestKeys.show(candidates.get(i)).equals(shown)) {
                    matching.add(candidateAt.get(i));
                }
            }
            if (!matching.isEmpty() && matching.stream().allMatch(n -> n < required)) {
                fail("the state recovered after " + context + " is the scenario's after change(s) " + matching
                        + " only, but a durable watch reported change " + required + "\nthe steps:\n  "
                        + String.join("\n  ", trace));
            }
            if (candidates.stream().map(TestKeys::show).noneMatch(shown::equals)) {
                StringBuilder diffs = new StringBuilder();
                for (int i = 0; i < candidates.size(); i++) {
                    diffs.append("\n  candidate ").append(i).append(i == 0 ? " (acknowledged)" : "").append(": ")
                            .append(difference(candidates.get(i), recovered));
                }
                fail("the state recovered after " + context + " is not one the scenario went through since its last "
                        + "acknowledged flush or close; how it differs from each of those:" + diffs + "\nthe steps:\n  "
                        + String.join("\n  ", trace));
            }
            model = recovered;
            acknowledge();
        }

        private static NavigableMap<byte[], byte[]> contents(Db db) {
            NavigableMap<byte[], byte[]> contents = TestKeys.model();
            for (Map.Entry<byte[], byte[]> e : db) {
                contents.put(e.getKey(), e.getValue());
            }
            return contents;
        }

        /** Keys whose values differ, with the lengths expected and recovered (-1: absent). */
        private static String difference(NavigableMap<byte[], byte[]> expected, NavigableMap<byte[], byte[]> actual) {
            java.util.TreeSet<byte[]> keys = new java.util.TreeSet<>(java.util.Arrays::compareUnsigned);
            keys.addAll(expected.keySet());
            keys.addAll(actual.keySet());
            StringBuilder out = new StringBuilder();
            for (byte[] k : keys) {
                byte[] e = expected.get(k);
                byte[] a = actual.get(k);
                if (!java.util.Arrays.equals(e, a)) {
                    out.append(TestKeys.hex(k)).append(": expected ").append(e == null ? -1 : e.length).append(" bytes, got ")
                            .append(a == null ? -1 : a.length).append("; ");
                }
            }
            return out.toString();
        }

        private static NavigableMap<byte[], byte[]> copy(Map<byte[], byte[]> map) {
            NavigableMap<byte[], byte[]> copy = TestKeys.model();
            copy.putAll(map);
            return copy;
        }
    }
}
