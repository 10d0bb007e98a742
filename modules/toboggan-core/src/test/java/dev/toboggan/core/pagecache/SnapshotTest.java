package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.toboggan.core.Background;
import dev.toboggan.core.Failpoints;
import dev.toboggan.core.StorageException;
import dev.toboggan.core.io.SimulatedStorage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/** Snapshots: recovery from a snapshot + the log after it, crashes while writing one, damaged snapshots. */
class SnapshotTest {
    private final SimulatedStorage disk = new SimulatedStorage();
    private PageCache<List<Integer>, Integer> pc = Stores.open(disk);
    /** pid → the value every flushed change left; absent: free. */
    private final Map<Long, List<Integer>> model = new HashMap<>();

    private static final Logger SNAPSHOT_LOG = (Logger) LoggerFactory.getLogger(SnapshotStore.class);

    @AfterEach
    void tearDown() {
        SNAPSHOT_LOG.setLevel(null);
        SNAPSHOT_LOG.detachAndStopAllAppenders();
        Failpoints.reset();
        pc.close();
    }

    /** Random changes of every kind (batches too), then a flush: the model is then durable. */
    private void work(SplittableRandom rnd, int changes) {
        for (int i = 0; i < changes; i++) {
            List<Long> pids = new ArrayList<>(model.keySet());
            int op = model.isEmpty() ? 0 : rnd.nextInt(10);
            if (op == 0) {
                Page<List<Integer>> page = pc.allocate(List.of(i));
                model.put(page.pid(), page.value());
            } else if (op <= 6) {
                long pid = pids.get(rnd.nextInt(pids.size()));
                CasResult<List<Integer>> r = pc.link(pid, pc.get(pid), i);
                assertThat(r.succeeded()).isTrue();
                model.put(pid, r.page().value());
            } else if (op <= 7) {
                long pid = pids.get(rnd.nextInt(pids.size()));
                assertThat(pc.replace(pid, pc.get(pid), List.of(-i)).succeeded()).isTrue();
                model.put(pid, List.of(-i));
            } else if (op <= 8) {
                long pid = pids.get(rnd.nextInt(pids.size()));
                assertThat(pc.free(pid, pc.get(pid)).succeeded()).isTrue();
                model.remove(pid);
            } else {
                long pid = pids.get(rnd.nextInt(pids.size()));
                try (Batch batch = pc.openBatch()) {
                    CasResult<List<Integer>> r = pc.link(pid, pc.get(pid), i);
                    model.put(pid, r.page().value());
                    Page<List<Integer>> page = pc.allocate(List.of(i, i));
                    model.put(page.pid(), page.value());
                }
            }
        }
        pc.flush();
    }

    private void crash() {
        pc.abandon();
        disk.powerLoss();
        pc = Stores.open(disk);
    }

    private void assertModel() {
        for (long pid = PageCache.FIRST_USER_PID; pid < pc.nextPid(); pid++) {
            Page<List<Integer>> page = pc.get(pid);
            assertThat(page == null ? null : page.value()).as("page %d", pid).isEqualTo(model.get(pid));
        }
        assertThat(pc.nextPid()).isGreaterThan(model.keySet().stream().mapToLong(Long::longValue).max().orElse(1));
    }

    /** The recovered table of user pages: per pid, free or not and its fragments. */
    private List<String> table() {
        List<String> rows = new ArrayList<>();
        rows.add("next pid " + pc.nextPid());
        for (long pid = PageCache.FIRST_USER_PID; pid < pc.nextPid(); pid++) {
            Object entry = pc.tableEntry(pid);
            rows.add(pid + ": " + (entry == null ? "none"
                    : (Page.isFree(entry) ? "free " : "") + java.util.Arrays.toString(Page.locationsOf(entry))));
        }
        return rows;
    }

    private List<Path> files(String prefix) throws IOException {
        return disk.list(Stores.DIR).stream().filter(p -> p.getFileName().toString().startsWith(prefix)).toList();
    }

    @Test
    void recoveringFromSnapshotsGivesTheTableOfTheWholeLogAndRecoveringAgainTheSameTable() throws IOException {
        SplittableRandom rnd = new SplittableRandom(42);
        long previous = 0;
        for (int round = 0; round < 4; round++) {
            work(rnd, 150);
            long lsn = pc.snapshots().takeSnapshot();
            assertThat(lsn).isGreaterThan(previous);
            previous = lsn;
        }
        work(rnd, 150); // history after the last snapshot
        assertThat(files(SnapshotFormat.PREFIX)).as("the newest two are kept").hasSize(2);
        crash();
        assertThat(pc.snapshots().lastSnapshotLsn()).isEqualTo(previous);
        assertModel();
        List<String> fromSnapshot = table();
        crash();
        assertThat(table()).as("recover, recover again").isEqualTo(fromSnapshot);
        for (Path snapshot : files(SnapshotFormat.PREFIX)) {
            disk.deleteIfExists(snapshot);
        }
        disk.syncDirectory(Stores.DIR);
        crash();
        assertThat(pc.snapshots().lastSnapshotLsn()).isZero();
        assertThat(table()).as("the whole log").isEqualTo(fromSnapshot);
        assertModel();
    }

    @Test
    void aSnapshotCoversEveryChangeLoggedBeforeItWasTakenFlushedOrNot() {
        long pid = pc.allocate(List.of()).pid();
        pc.flush();
        for (int i = 0; i < 50; i++) {
            pc.link(pid, pc.get(pid), i); // never flushed by the caller
        }
        long logged = pc.snapshots().operationsSinceSnapshot();
        assertThat(logged).isGreaterThanOrEqualTo(50);
        assertThat(pc.snapshots().takeSnapshot()).isPositive();
        assertThat(pc.snapshots().operationsSinceSnapshot()).as("the count the snapshot reset").isZero();
        crash();
        assertThat(pc.get(pid).value()).hasSize(50);
        assertThat(pc.recoveryReport().messages()).as("replayed after the snapshot").isLessThan(10);
    }

    @Test
    void aSnapshotBuiltFromTheWholeLogEqualsOneBuiltFromSnapshotsAndTheLogSince() throws IOException {
        SplittableRandom rnd = new SplittableRandom(7);
        work(rnd, 200);
        pc.snapshots().takeSnapshot();
        work(rnd, 200);
        long lsn = pc.snapshots().takeSnapshot();
        byte[] incremental = disk.content(Stores.DIR.resolve(SnapshotFormat.fileName(lsn)));
        for (Path snapshot : files(SnapshotFormat.PREFIX)) {
            disk.deleteIfExists(snapshot);
        }
        disk.syncDirectory(Stores.DIR);
        crash(); // the open's own writes come after lsn; a full scan up to lsn is what we compare
        assertThat(pc.snapshots().lastSnapshotLsn()).isZero();
        List<String> full = table();
        pc.snapshots().takeSnapshot();
        crash();
        assertThat(table()).isEqualTo(full);
        assertThat(incremental).isNotEmpty();
        assertModel();
    }

    @ParameterizedTest
    @ValueSource(strings = {"snapshot.write", "snapshot.force", "snapshot.rename", "snapshot.dirsync",
            "snapshot.prune"})
    void aCrashAtAnyStepOfWritingASnapshotStillOpensWithNothingLost(String failpoint) throws IOException {
        for (long seed = 0; seed < 4; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            work(rnd, 100);
            pc.snapshots().takeSnapshot();
            work(rnd, 100);
            long before = pc.snapshots().lastSnapshotLsn();
            Failpoints.arm(failpoint, 1);
            assertThatThrownBy(pc.snapshots()::takeSnapshot).isInstanceOf(StorageException.class)
                    .hasStackTraceContaining(failpoint);
            Failpoints.reset();
            work(rnd, 20);
            pc.abandon();
            disk.powerLoss(new SplittableRandom(seed)); // any subset of the unforced writes lands
            pc = Stores.open(disk);
            assertModel();
            assertThat(pc.snapshots().lastSnapshotLsn()).isGreaterThanOrEqualTo(before);
            assertThat(files(SnapshotFormat.PREFIX)).noneMatch(p -> p.toString().endsWith(SnapshotFormat.TEMP_SUFFIX));
            assertThat(pc.snapshots().takeSnapshot()).as("the next snapshot is taken").isPositive();
            crash();
            assertModel();
        }
    }

    @Test
    void aLeftoverTemporaryFileIsIgnoredAndDeletedAtOpen() throws IOException {
        work(new SplittableRandom(3), 100);
        long lsn = pc.snapshots().takeSnapshot();
        Path leftover = Stores.DIR.resolve(SnapshotFormat.fileName(lsn + 1000) + SnapshotFormat.TEMP_SUFFIX);
        try (var f = disk.open(leftover, dev.toboggan.core.io.StorageIo.OpenMode.CREATE_NEW)) {
            f.write(ByteBuffer.wrap(new byte[] {1, 2, 3, 4, 5}), 0);
            f.force();
        }
        disk.syncDirectory(Stores.DIR);
        crash();
        assertThat(disk.exists(leftover)).isFalse();
        assertThat(pc.snapshots().lastSnapshotLsn()).isEqualTo(lsn);
        assertModel();
    }

    @Test
    void aCorruptNewestSnapshotFallsBackToTheOlderOneAndSaysSo() throws IOException {
        SplittableRandom rnd = new SplittableRandom(5);
        work(rnd, 100);
        long older = pc.snapshots().takeSnapshot();
        work(rnd, 100);
        long newest = pc.snapshots().takeSnapshot();
        work(rnd, 50);
        Path newestFile = Stores.DIR.resolve(SnapshotFormat.fileName(newest));
        disk.corrupt(newestFile, disk.content(newestFile).length / 2, (byte) 0x10);
        ListAppender<ILoggingEvent> logged = capture();
        crash();
        assertThat(pc.snapshots().lastSnapshotLsn()).isEqualTo(older);
        assertThat(logged.list).anySatisfy(e -> assertThat(e.getFormattedMessage())
                .contains(newestFile.toString(), "cannot be used",
                        "falling back to the older snapshot " + SnapshotFormat.fileName(older)));
        assertModel();
    }

    @Test
    void everySnapshotDamagedFallsBackToTheWholeLog() throws IOException {
        SplittableRandom rnd = new SplittableRandom(6);
        work(rnd, 100);
        long older = pc.snapshots().takeSnapshot();
        work(rnd, 100);
        long newest = pc.snapshots().takeSnapshot();
        disk.truncateDurably(Stores.DIR.resolve(SnapshotFormat.fileName(newest)), 40);
        disk.corrupt(Stores.DIR.resolve(SnapshotFormat.fileName(older)), 2, (byte) 1);
        ListAppender<ILoggingEvent> logged = capture();
        crash();
        assertThat(pc.snapshots().lastSnapshotLsn()).isZero();
        assertThat(logged.list).anySatisfy(e -> assertThat(e.getFormattedMessage())
                .contains("replaying the whole log", "header damaged"));
        assertModel();
        assertThat(pc.snapshots().takeSnapshot()).as("a fresh snapshot replaces them").isPositive();
        crash();
        assertModel();
    }

    @Test
    void aCleanCloseLeavesASnapshotAtTheTipSoTheNextOpenReplaysNothing() {
        work(new SplittableRandom(8), 300);
        pc.close();
        pc = Stores.open(disk);
        assertThat(pc.recoveryReport().messages()).isZero();
        assertModel();
    }

    @Test
    void nothingNewMeansNoSnapshot() {
        work(new SplittableRandom(9), 10);
        assertThat(pc.snapshots().takeSnapshot()).isPositive();
        assertThat(pc.snapshots().takeSnapshot()).isEqualTo(-1);
    }

    @Test
    void writersTellThePortTheOperationCountNowAndThenNotPerOperation() {
        AtomicLong told = new AtomicLong();
        AtomicLong calls = new AtomicLong();
        Background port = new Background() {
            @Override
            public void flushNeeded() {}

            @Override
            public void operationsLogged(long count) {
                calls.incrementAndGet();
                told.accumulateAndGet(count, Math::max);
            }
        };
        pc.close();
        pc = PageCache.open(Stores.small(), disk, port, IntListMaterializer.INSTANCE);
        Page<List<Integer>> page = pc.allocate(List.of());
        for (int i = 0; i < 20_000; i++) {
            page = pc.replace(page.pid(), page, List.of(i)).page();
        }
        assertThat(calls.get()).isBetween(1L, 20_000L / 100);
        assertThat(told.get()).isBetween(1L, 20_002L);
        assertThat(pc.snapshots().operationsSinceSnapshot()).isGreaterThanOrEqualTo(20_000);
        pc.flush();
        pc.snapshots().takeSnapshot();
        assertThat(pc.snapshots().operationsSinceSnapshot()).isZero();
    }

    /** Captures what SnapshotStore logs (the test configuration silences the store's loggers). */
    private static ListAppender<ILoggingEvent> capture() {
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        SNAPSHOT_LOG.setLevel(Level.WARN);
        SNAPSHOT_LOG.addAppender(appender);
        return appender;
    }
}
