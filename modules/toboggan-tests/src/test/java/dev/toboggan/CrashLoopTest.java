package dev.toboggan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The crash loop: a child JVM ({@link CrashWorkload}) writes to a store with several threads and is killed
 * with SIGKILL at a random moment; after one in ten of those kills (the 6th, 16th, ...), another child is
 * killed while it recovers the store. Then this JVM opens the store and checks it against the workers' journals
 * ({@link CrashJournal}):
 * <ul>
 *   <li>for each worker, the recovered state of its keys equals the state after some prefix of its
 *       operations that includes every operation done before a flush that returned (acknowledged as
 *       durable): nothing acknowledged is lost, no value appears that was never written, no batch is
 *       partly applied, and no later operation survives without an earlier one;
 *   <li>every tree checks out ({@link TreeVerifier}: structure, order, no leaked page);
 *   <li>no generated id is ever handed out twice, across all cycles;
 *   <li>no worker saw a wrong read, a failed swap or an error while it ran;
 *   <li>every online backup the child finished holds, per worker, the state after a prefix of its operations
 *       that contains every operation done before the backup was asked for, and checks out; one the kill
 *       cut short is refused at open;
 *   <li>every dump the child exported imports into a store that holds the same, checked the same way; an
 *       export the kill cut short left no file under the dump's name;
 *   <li>every store the child built ({@code Toboggan.build}) of a backup's trees holds the same, checked the same
 *       way; a build (or its backup) the kill cut short left nothing under the store's name;
 *   <li>every tree the child built in the store ({@code Db.buildTree}) is whole (all its entries, nothing else) or
 *       absent, and present if its build and the flush after returned and no later build could have dropped it;
 *       the page checks above find nothing of a build the kill cut short.
 * </ul>
 * The store then closes cleanly and the recovered state is the next cycle's starting point.
 *
 * <p>{@code -Dtoboggan.crash.cycles} sets the number of work cycles (a few dozen by default; thousands
 * with {@code -Pcrash-loop}); {@code -Dtoboggan.test.seed} replays the same random choices (the kill
 * moments depend on timing too, so a replay is close, not exact). The directory of a failed run is kept
 * under {@code target/crash-loop-<seed>}, with {@code store-as-killed}, a copy of the store as the last kill left
 * it, before the checking open recovered it.
 */
class CrashLoopTest {
    private static final int CYCLES = Integer.getInteger("toboggan.crash.cycles", 12);
    private static final long SEED = Long.getLong("toboggan.test.seed", System.nanoTime());
    private static final int WORKERS = 4;
    private static final Path REPORTS = Path.of(System.getProperty("toboggan.report.dir", "target"));

    /** Baseline state of each worker's keys: what the last verification found. */
    private final List<Map<Integer, byte[]>> baseline = new ArrayList<>();
    private final Set<Long> ids = new HashSet<>();
    private int backupsChecked;
    private int backupsCutShort;
    private int dumpsChecked;
    private int dumpsCutShort;
    private int buildsChecked;
    private int buildsCutShort;
    private int treeBuildsChecked;
    /** Operations the child's durable watch reported as they passed the last one; workers whose bar it raised. */
    private long watchedOperations;
    private int raisedByTheWatch;
    /** Children still running; killed if the test stops early, so none outlives it. */
    private final List<Process> children = new ArrayList<>();

    @AfterEach
    void killChildren() throws InterruptedException {
        for (Process child : children) {
            child.destroyForcibly().waitFor(60, TimeUnit.SECONDS);
        }
    }

    @Test
    void acknowledgedWritesSurviveKillsAtRandomMomentsAndDuringRecovery() throws Exception {
        System.out.println("CrashLoopTest seed " + SEED + " (rerun with -Dtoboggan.test.seed=" + SEED + "), "
                + CYCLES + " cycles");
        Path root = REPORTS.resolve("crash-loop-" + SEED);
        deleteRecursively(root);
        Path store = root.resolve("store");
        for (int w = 0; w < WORKERS; w++) {
            baseline.add(new HashMap<>());
        }
        SplittableRandom r = new SplittableRandom(SEED);
        long openMillis = 200;
        int recoveryKills = 0;
        int killsBeforeOpened = 0;
        long verifyMillis = 0;
        long started = System.nanoTime();
        for (int cycle = 0; cycle < CYCLES; cycle++) {
            Path cycleDir = root.resolve("cycle-" + cycle);
            Process child = start(store, cycleDir, cycle, r.nextLong(), WORKERS);
            awaitMarker(child, cycleDir.resolve("opened"));
            openMillis = Long.parseLong(Files.readString(cycleDir.resolve("opened")).strip());
            Thread.sleep(r.nextInt(20, 1000));
            kill(child, cycleDir);
            if (cycle % 10 == 5) {
                Path recoveryDir = root.resolve("cycle-" + cycle + "-recovery");
                Process recovering = start(store, recoveryDir, cycle, r.nextLong(), 0);
                awaitMarker(recovering, recoveryDir.resolve("recovering"));
                Thread.sleep(r.nextLong(0, openMillis + 1));
                kill(recovering, recoveryDir);
                recoveryKills++;
                if (!Files.exists(recoveryDir.resolve("opened"))) {
                    killsBeforeOpened++;
                }
            }
            // The store as the kills left it, before this JVM's open recovers (and changes) it: what a failure
            // is analysed from (`toboggan verify` recovers a copy in memory). Only the last cycle's is kept.
            Path asKilled = root.resolve("store-as-killed");
            deleteRecursively(asKilled);
            copyRecursively(store, asKilled);
            long verifying = System.nanoTime();
            verify(store, cycleDir, cycle);
            verifyMillis += (System.nanoTime() - verifying) / 1_000_000;
        }
        System.out.println("CrashLoopTest: " + CYCLES + " kills while working, " + recoveryKills
                + " while recovering (" + killsBeforeOpened + " before the open returned), " + ids.size()
                + " ids checked, " + backupsChecked + " online backups checked (" + backupsCutShort
                + " cut short and refused), " + dumpsChecked + " exports imported and checked (" + dumpsCutShort
                + " cut short, leaving no dump), " + buildsChecked + " stores built of backups checked (" + buildsCutShort
                + " cut short, leaving nothing under their names), " + treeBuildsChecked + " trees built in the store "
                + "found whole, " + watchedOperations
                + " operations reported by a durable watch (past "
                + "every flush of the worker " + raisedByTheWatch + " times), " + (System.nanoTime() - started) / 1_000_000
                + " ms (" + verifyMillis + " verifying)");
        deleteRecursively(root);
    }

    private Process start(Path store, Path cycleDir, int cycle, long seed, int workers) throws IOException {
        Files.createDirectories(cycleDir);
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String flag : System.getProperty("toboggan.child.jvm.flags", "").trim().split("\\s+")) {
            if (!flag.isEmpty()) {
                command.add(flag);
            }
        }
        command.addAll(List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                CrashWorkload.class.getName(), store.toString(), cycleDir.toString(), Integer.toString(cycle),
                Long.toString(seed), Integer.toString(workers)));
        Process child = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(cycleDir.resolve("child.log").toFile()).start();
        children.removeIf(p -> !p.isAlive());
        children.add(child);
        return child;
    }

    private static void awaitMarker(Process child, Path marker) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!Files.exists(marker)) {
            if (!child.isAlive()) {
                fail("the child stopped (exit " + child.exitValue() + ") before " + marker.getFileName() + "; its "
                        + "output:\n" + Files.readString(marker.resolveSibling("child.log")) + "\nseed " + SEED);
            }
            if (System.nanoTime() > deadline) {
                child.destroyForcibly().waitFor();
                fail("the child did not get to " + marker + " in 120 s; seed " + SEED);
            }
            Thread.sleep(2);
        }
    }

    private static void kill(Process child, Path cycleDir) throws Exception {
        if (!child.isAlive()) {
            fail("the child stopped by itself (exit " + child.exitValue() + "): " + errors(cycleDir) + "; its output:\n"
                    + Files.readString(cycleDir.resolve("child.log")) + "\nseed " + SEED);
        }
        child.destroyForcibly();
        if (!child.waitFor(60, TimeUnit.SECONDS)) {
            fail("the killed child did not go away in 60 s");
        }
    }

    private static List<String> errors(Path cycleDir) throws IOException {
        List<String> errors = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            errors.addAll(CrashJournal.read(cycleDir.resolve("journal-" + w)).errors());
        }
        return errors;
    }

    private void verify(Path store, Path cycleDir, int cycle) throws IOException {
        String where = "cycle " + cycle + ", seed " + SEED + " (" + cycleDir + ")";
        checkBackups(cycleDir, cycle, where);
        try (Db db = Toboggan.open(CrashWorkload.config(), store)) {
            List<Map<Integer, byte[]>> recovered = recoveredState(db, where);
            long[] watched = watchedDurable(cycleDir, where);
            for (int w = 0; w < WORKERS; w++) {
                CrashJournal.Parsed journal = CrashJournal.read(cycleDir.resolve("journal-" + w));
                assertThat(journal.errors()).as("worker %d saw, %s", w, where).isEmpty();
                if (watched[w] > journal.flushedUpTo()) {
                    raisedByTheWatch++;
                }
                checkPrefix(w, cycle, journal, Math.max(journal.flushedUpTo(), watched[w]), recovered.get(w), where);
                for (long id : journal.ids()) {
                    if (!ids.add(id)) {
                        fail("id " + id + " was generated twice; " + where);
                    }
                }
                baseline.set(w, recovered.get(w));
            }
            checkTreeBuilds(db, cycleDir, where);
            TreeVerifier.verify((Store) db);
        }
    }

    /**
     * The trees the child built in the store ({@code T <n>} lines; {@link #recoveredState} found each whole): the
     * last one is there if its build and flush returned ({@code E <n>}) and no later build began (which drops it).
     */
    private void checkTreeBuilds(Db db, Path cycleDir, String where) throws IOException {
        for (String name : db.treeNames()) {
            if (name.startsWith(CrashWorkload.COPY_PREFIX)) {
                treeBuildsChecked++; // checked whole by recoveredState
            }
        }
        Path file = cycleDir.resolve(CrashWorkload.BACKUP_JOURNAL);
        if (!Files.exists(file)) {
            return;
        }
        String[] lines = Files.readString(file, StandardCharsets.UTF_8).split("\n", -1);
        int last = -1;
        boolean returned = false;
        for (int i = 0; i < lines.length - 1; i++) {
            if (lines[i].startsWith("T ")) {
                last = Integer.parseInt(lines[i].split(" ")[1]);
                returned = false;
            } else if (lines[i].equals("E " + last)) {
                returned = true;
            }
        }
        if (returned) {
            assertThat(db.treeNames()).as("the tree built and flushed last; %s", where)
                    .contains(CrashWorkload.COPY_PREFIX + last);
        }
    }

    /**
     * The backups the child took before it was killed: each one whose {@code format} file exists holds, for
     * every worker, the state after a prefix of its operations that contains every operation that had returned
     * before the backup was asked for, and checks out; one the kill cut short (no format file) is refused by
     * an open. Runs before this cycle's baselines move on.
     */
    private void checkBackups(Path cycleDir, int cycle, String where) throws IOException {
        Path file = cycleDir.resolve(CrashWorkload.BACKUP_JOURNAL);
        if (!Files.exists(file)) {
            return;
        }
        String[] lines = Files.readString(file, StandardCharsets.UTF_8).split("\n", -1);
        Set<Integer> ended = new HashSet<>();
        for (int i = 0; i < lines.length - 1; i++) { // the last element: "" or a line the kill tore
            if (lines[i].startsWith("E ")) {
                ended.add(Integer.parseInt(lines[i].substring(2)));
            } else if (lines[i].startsWith("X ")) {
                fail("the backup thread saw " + lines[i].substring(2) + "; " + where);
            }
        }
        List<CrashJournal.Parsed> journals = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            journals.add(CrashJournal.read(cycleDir.resolve("journal-" + w)));
        }
        for (int i = 0; i < lines.length - 1; i++) {
            if (lines[i].startsWith("D ")) {
                checkDump(cycleDir, cycle, lines[i].split(" "), ended, journals, where);
                continue;
            }
            if (lines[i].startsWith("B ")) {
                checkBuilt(cycleDir, cycle, lines[i].split(" "), ended, journals, where);
                continue;
            }
            if (!lines[i].startsWith("S ")) {
                continue;
            }
            String[] f = lines[i].split(" ");
            int n = Integer.parseInt(f[1]);
            Path backup = cycleDir.resolve("backup-" + n);
            String at = "backup " + n + " of " + where;
            if (!Files.exists(backup.resolve("format"))) {
                assertThat(ended).as("a backup that returned has its format file; %s", at).doesNotContain(n);
                if (Files.exists(backup.resolve("log"))) {
                    assertThatThrownBy(() -> Toboggan.open(CrashWorkload.config(), backup).close())
                            .as("a backup cut short is refused; %s", at).hasStackTraceContaining("no format file");
                    backupsCutShort++;
                }
                continue;
            }
            checkCopy(backup, cycle, f, journals, at);
            backupsChecked++;
        }
    }

    /**
     * A dump the child exported (journal line {@code D <n> <done0> ...}): if the file exists it is whole, and the
     * store imported from it holds, per worker, a prefix of its operations containing every one done before the
     * export was asked for, and checks out; if the kill cut the export short, no file has the dump's name.
     */
    private void checkDump(Path cycleDir, int cycle, String[] f, Set<Integer> ended, List<CrashJournal.Parsed> journals,
            String where) {
        Path dump = finished(cycleDir, "dump-", f, ended, "an export", where);
        if (dump == null) {
            dumpsCutShort++;
            return;
        }
        Path imported = cycleDir.resolve("imported-" + f[1]);
        Toboggan.importDump(dump, CrashWorkload.config(), imported);
        checkCopy(imported, cycle, f, journals, "dump " + f[1] + " of " + where);
        dumpsChecked++;
    }

    /**
     * A store the child built of a backup's trees (journal line {@code B <n> <done0> ...}): if it exists under its
     * name it is whole and holds, per worker, a prefix of its operations containing every one done before the
     * backup was asked for, and checks out; if the kill cut the backup or the build short, nothing has its name
     * (a build appears by one rename, once complete and durable).
     */
    private void checkBuilt(Path cycleDir, int cycle, String[] f, Set<Integer> ended,
            List<CrashJournal.Parsed> journals, String where) {
        Path built = finished(cycleDir, "built-", f, ended, "a build", where);
        if (built == null) {
            buildsCutShort++;
            return;
        }
        String at = "build " + f[1] + " of " + where;
        assertThat(built.resolve("format")).as("a built store appears whole; %s", at).exists();
        checkCopy(built, cycle, f, journals, at);
        buildsChecked++;
    }

    /**
     * The copy {@code <prefix><n>} in the cycle directory that journal line {@code f} asked for, or {@code null} if
     * there is none, which only a copy the kill cut short may leave (its {@code E <n>} line never written).
     */
    private static Path finished(Path cycleDir, String prefix, String[] f, Set<Integer> ended, String what,
            String where) {
        int n = Integer.parseInt(f[1]);
        Path copy = cycleDir.resolve(prefix + n);
        if (Files.exists(copy)) {
            return copy;
        }
        assertThat(ended).as("%s that returned left %s%d; %s", what, prefix, n, where).doesNotContain(n);
        return null;
    }

    /**
     * The store in {@code directory} (a backup, one built of a backup, or one imported from a dump) holds, per worker, a prefix of its
     * operations containing every one done before the copy was asked for ({@code f}: the journal line, the
     * workers' last operations from its third field on), and checks out.
     */
    private void checkCopy(Path directory, int cycle, String[] f, List<CrashJournal.Parsed> journals, String at) {
        try (Db db = Toboggan.open(CrashWorkload.config(), directory)) {
            List<Map<Integer, byte[]>> held = recoveredState(db, at);
            for (int w = 0; w < WORKERS; w++) {
                checkPrefix(w, cycle, journals.get(w), Long.parseLong(f[2 + w]), held.get(w), at);
            }
            TreeVerifier.verify((Store) db);
        }
    }

    /**
     * Per worker, the latest operation the child's durable watch reported ({@link CrashWorkload#WATCH_JOURNAL}),
     * -1 for none: it must have survived the kill, as a flushed one must.
     */
    private long[] watchedDurable(Path cycleDir, String where) throws IOException {
        long[] latest = new long[WORKERS];
        Arrays.fill(latest, -1);
        Path file = cycleDir.resolve(CrashWorkload.WATCH_JOURNAL);
        if (!Files.exists(file)) {
            return latest;
        }
        String[] lines = Files.readString(file, StandardCharsets.UTF_8).split("\n", -1);
        for (int i = 0; i < lines.length - 1; i++) { // the last element: "" or a line the kill tore
            String[] f = lines[i].split(" ");
            if (f[0].equals("W")) {
                int w = Integer.parseInt(f[1]);
                latest[w] = Math.max(latest[w], Long.parseLong(f[2]));
                watchedOperations++;
            } else {
                fail("the durable watch of the child said " + lines[i] + "; " + where);
            }
        }
        return latest;
    }

    /** The tree {@code name}, a {@code copy-<n>} the child built, holds exactly {@code copyEntries(n)}. */
    private static void checkWhole(Db db, String name, String where) {
        int n = Integer.parseInt(name.substring(CrashWorkload.COPY_PREFIX.length()));
        List<String> expected = new ArrayList<>();
        CrashWorkload.copyEntries(n).forEach((k, v) -> expected.add(Arrays.toString(k) + Arrays.toString(v)));
        List<String> found = new ArrayList<>();
        db.tree(name).iterator().forEachRemaining(
                e -> found.add(Arrays.toString(e.getKey()) + Arrays.toString(e.getValue())));
        assertThat(found).as("tree %s, built whole or not at all; %s", name, where).isEqualTo(expected);
    }

    /**
     * Each worker's keys as the store has them; fails on a key no worker owns, and on a tree the child built
     * ({@code copy-<n>}) that is not whole.
     */
    private static List<Map<Integer, byte[]>> recoveredState(Db db, String where) {
        List<Map<Integer, byte[]>> state = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            state.add(new HashMap<>());
        }
        for (String name : db.treeNames()) {
            if (name.equals(Db.DEFAULT_TREE)) {
                assertThat(db.tree(name).isEmpty()).as("the default tree, never written, after %s", where).isTrue();
                continue;
            }
            if (name.startsWith(CrashWorkload.COPY_PREFIX)) {
                checkWhole(db, name, where);
                continue;
            }
            for (Map.Entry<byte[], byte[]> e : db.tree(name)) {
                String key = new String(e.getKey(), StandardCharsets.US_ASCII);
                int w = key.matches("t\\d\\d/\\d{5}") ? Integer.parseInt(key.substring(1, 3)) : -1;
                if (w < 0 || w >= WORKERS || !CrashJournal.treeOf(w).equals(name)) {
                    fail("tree " + name + " holds key " + key + ", which no worker writes there; " + where);
                }
                state.get(w).put(Integer.parseInt(key.substring(4)), e.getValue());
            }
        }
        return state;
    }

    /**
     * Whether {@code recovered} is the worker's state after a prefix of its operations (from the baseline)
     * that contains every operation up to {@code mustHold} (those acknowledged as durable, or done before a
     * backup).
     */
    private void checkPrefix(int w, int cycle, CrashJournal.Parsed journal, long mustHold,
            Map<Integer, byte[]> recovered, String where) {
        List<CrashJournal.Op> ops = journal.ops();
        int mustApply = 0;
        for (int i = 0; i < ops.size(); i++) {
            if (ops.get(i).seq() <= mustHold) {
                mustApply = i + 1;
            }
        }
        Map<Integer, byte[]> state = new HashMap<>(baseline.get(w));
        List<Integer> candidates = new ArrayList<>();
        for (int i = 0; i <= ops.size(); i++) {
            if (i >= mustApply) {
                candidates.add(i);
                if (sameState(state, recovered)) {
                    return;
                }
            }
            if (i < ops.size()) {
                apply(state, ops.get(i), cycle, w);
            }
        }
        // Explain with the difference from the state after every operation (the kill came after the last).
        TreeSet<Integer> differing = new TreeSet<>();
        Set<Integer> keys = new HashSet<>(state.keySet());
        keys.addAll(recovered.keySet());
        for (int k : keys) {
            if (!Arrays.equals(state.get(k), recovered.get(k))) {
                differing.add(k);
            }
        }
        fail("worker " + w + ": the recovered keys are not the state after any of the prefixes " + candidates.get(0)
                + ".." + ops.size() + " of its " + ops.size() + " operations (to hold up to #" + mustHold
                + "); keys differing from the state after all of them: " + differing + "; the last operations: "
                + ops.subList(Math.max(0, ops.size() - 5), ops.size()) + "; " + where);
    }

    private static void apply(Map<Integer, byte[]> state, CrashJournal.Op op, int cycle, int w) {
        for (int i = 0; i < op.keys().length; i++) {
            if (op.lengths()[i] < 0) {
                state.remove(op.keys()[i]);
            } else {
                state.put(op.keys()[i], CrashJournal.value(cycle, w, op.seq(), i, op.lengths()[i]));
            }
        }
    }

    private static boolean sameState(Map<Integer, byte[]> a, Map<Integer, byte[]> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (Map.Entry<Integer, byte[]> e : a.entrySet()) {
            if (!Arrays.equals(e.getValue(), b.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    private static void copyRecursively(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path p : paths.toList()) {
                Files.copy(p, to.resolve(from.relativize(p).toString()));
            }
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
