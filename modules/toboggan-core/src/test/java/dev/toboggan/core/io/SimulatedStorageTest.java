package dev.toboggan.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.StorageException;
import dev.toboggan.core.io.SimulatedStorage.FailMode;
import dev.toboggan.core.io.SimulatedStorage.Op;
import dev.toboggan.core.io.StorageIo.OpenMode;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SimulatedStorageTest {

    private static final Path DIR = Path.of("/db");
    private static final Path FILE = DIR.resolve("segment-1");

    private SimulatedStorage io;

    @BeforeEach
    void createStoreDirectory() throws IOException {
        io = new SimulatedStorage();
        io.createDirectories(DIR);
    }

    // ---------------------------------------------------------------- the durability model

    @Test
    void powerLossKeepsForcedWritesAndDropsUnforcedOnes() throws IOException {
        StorageFile file = createSynced(FILE);
        file.write(filled(10, 1), 0);
        file.force();
        file.write(filled(10, 2), 5);
        file.write(filled(10, 3), 100);

        assertThat(io.content(FILE)).hasSize(110);
        assertThat(io.durableContent(FILE)).isEqualTo(bytes(10, 1));

        io.powerLoss();

        assertThat(io.content(FILE)).isEqualTo(bytes(10, 1));
        try (StorageFile reopened = io.open(FILE, OpenMode.EXISTING)) {
            assertThat(reopened.size()).isEqualTo(10);
            assertThat(read(reopened, 0, 10)).isEqualTo(bytes(10, 1));
        }
    }

    @Test
    void truncationIsDurableOnlyAfterAForce() throws IOException {
        StorageFile file = createSynced(FILE);
        file.write(filled(100, 1), 0);
        file.force();
        file.truncate(40);
        io.powerLoss();
        assertThat(io.content(FILE)).hasSize(100);

        file = io.open(FILE, OpenMode.EXISTING);
        file.truncate(40);
        file.force();
        io.powerLoss();
        assertThat(io.content(FILE)).isEqualTo(bytes(40, 1));
    }

    @Test
    void aCreatedFileSurvivesOnlyOnceItsDirectoryIsSynced() throws IOException {
        Path unsynced = DIR.resolve("unsynced");
        Path synced = DIR.resolve("synced");
        StorageFile a = io.open(unsynced, OpenMode.CREATE_NEW);
        a.write(filled(8, 1), 0);
        a.force();
        StorageFile b = io.open(synced, OpenMode.CREATE_NEW);
        b.write(filled(8, 2), 0);
        b.force();
        io.syncDirectory(DIR);
        io.open(DIR.resolve("after-sync"), OpenMode.CREATE_NEW).close();

        assertThat(io.durablyExists(unsynced)).isTrue();
        assertThat(io.durablyExists(DIR.resolve("after-sync"))).isFalse();
        io.powerLoss();

        assertThat(io.list(DIR)).containsExactly(synced, unsynced);
        assertThat(io.content(synced)).isEqualTo(bytes(8, 2));
        assertThat(io.exists(DIR.resolve("after-sync"))).isFalse();
    }

    @Test
    void aForcedFileWhoseCreationWasNeverSyncedDisappears() throws IOException {
        StorageFile file = io.open(FILE, OpenMode.CREATE_NEW);
        file.write(filled(8, 1), 0);
        file.force();

        io.powerLoss();

        assertThat(io.exists(FILE)).isFalse();
        assertThat(io.list(DIR)).isEmpty();
    }

    @Test
    void anUnsyncedRenameIsUndoneAndASyncedOneKept() throws IOException {
        Path snapshot = DIR.resolve("snapshot");
        Path temp = DIR.resolve("snapshot.tmp");
        writeForced(createSynced(snapshot), "old");
        writeForced(createSynced(temp), "new");

        io.rename(temp, snapshot);
        assertThat(new String(io.content(snapshot))).isEqualTo("new");
        io.powerLoss();
        assertThat(new String(io.content(snapshot))).isEqualTo("old");
        assertThat(new String(io.content(temp))).isEqualTo("new");

        io.rename(temp, snapshot);
        io.syncDirectory(DIR);
        io.powerLoss();
        assertThat(new String(io.content(snapshot))).isEqualTo("new");
        assertThat(io.exists(temp)).isFalse();
    }

    @Test
    void anUnsyncedDeleteIsUndoneAndASyncedOneKept() throws IOException {
        writeForced(createSynced(FILE), "data");

        assertThat(io.deleteIfExists(FILE)).isTrue();
        assertThat(io.deleteIfExists(FILE)).isFalse();
        io.powerLoss();
        assertThat(new String(io.content(FILE))).isEqualTo("data");

        assertThat(io.deleteIfExists(FILE)).isTrue();
        io.syncDirectory(DIR);
        io.powerLoss();
        assertThat(io.exists(FILE)).isFalse();
    }

    @Test
    void handlesAndLocksFromBeforeAPowerLossAreDead() throws IOException {
        StorageFile file = createSynced(FILE);
        StorageFile closedEarlier = io.open(FILE, OpenMode.EXISTING);
        closedEarlier.close();
        Path lockFile = DIR.resolve("LOCK");
        Closeable lock = io.lock(lockFile);

        io.powerLoss();

        String dead = "simulated power loss: handle is from before the crash";
        assertThatThrownBy(() -> file.read(ByteBuffer.allocate(1), 0)).hasMessageContaining(dead);
        assertThatThrownBy(() -> file.write(filled(1, 1), 0)).hasMessageContaining(dead);
        assertThatThrownBy(file::force).hasMessageContaining(dead);
        assertThatThrownBy(() -> file.truncate(0)).hasMessageContaining(dead);
        assertThatThrownBy(file::size).hasMessageContaining(dead);
        file.close(); // closing what a crash left behind releases nothing and is not an error
        lock.close();
        closedEarlier.close();

        io.lock(lockFile).close();
        try (StorageFile reopened = io.open(FILE, OpenMode.EXISTING)) {
            reopened.write(filled(3, 9), 0);
            assertThat(io.content(FILE)).isEqualTo(bytes(3, 9));
        }
    }

    @Test
    void hostilePowerLossLandsEachWriteWholeNotAtAllOrAsAPrefix() throws IOException {
        int writes = 8;
        int writeLength = 16;
        boolean[] seen = new boolean[3];
        for (long seed = 0; seed < 200; seed++) {
            SimulatedStorage storage = new SimulatedStorage();
            storage.createDirectories(DIR);
            StorageFile file = storage.open(FILE, OpenMode.CREATE_NEW);
            storage.syncDirectory(DIR);
            file.write(filled(writes * writeLength, 0xEE), 0);
            file.force();
            for (int w = 0; w < writes; w++) {
                file.write(filled(writeLength, w + 1), (long) w * writeLength);
            }

            storage.powerLoss(new SplittableRandom(seed));

            byte[] content = storage.content(FILE);
            assertThat(content).as("seed %d", seed).hasSize(writes * writeLength);
            for (int w = 0; w < writes; w++) {
                byte[] range = Arrays.copyOfRange(content, w * writeLength, (w + 1) * writeLength);
                int landed = 0;
                while (landed < writeLength && range[landed] == w + 1) {
                    landed++;
                }
                assertThat(Arrays.copyOfRange(range, landed, writeLength))
                        .as("seed %d, write %d: after a prefix of %d bytes, only the old content", seed, w, landed)
                        .isEqualTo(bytes(writeLength - landed, 0xEE));
                seen[landed == 0 ? 0 : landed == writeLength ? 1 : 2] = true;
            }
        }
        assertThat(seen).as("none, whole and torn outcomes all occur").containsOnly(true);
    }

    @Test
    void hostilePowerLossIsDeterministicForASeed() throws IOException {
        byte[][] outcomes = new byte[2][];
        for (int run = 0; run < 2; run++) {
            SimulatedStorage storage = new SimulatedStorage();
            storage.createDirectories(DIR);
            StorageFile file = storage.open(FILE, OpenMode.CREATE_NEW);
            storage.syncDirectory(DIR);
            for (int w = 0; w < 20; w++) {
                file.write(filled(37, w + 1), w * 29L);
            }
            storage.powerLoss(new SplittableRandom(42));
            outcomes[run] = storage.content(FILE);
        }
        assertThat(outcomes[1]).isEqualTo(outcomes[0]);
    }

    // ---------------------------------------------------------------- fault knobs

    @Test
    void failAfterFailsExactlyTheNthMatchingCallOnce() throws IOException {
        StorageFile file = createSynced(FILE);
        io.failAfter(3, EnumSet.of(Op.WRITE));

        file.write(filled(1, 1), 0);
        file.read(ByteBuffer.allocate(1), 0);
        file.force();
        file.write(filled(1, 2), 1);
        assertThatThrownBy(() -> file.write(filled(1, 3), 2))
                .isInstanceOf(IOException.class)
                .hasMessage("simulated failure of WRITE on " + FILE + " (call #3)");
        file.write(filled(1, 4), 3);

        assertThat(io.content(FILE)).as("the failed write wrote nothing").containsExactly(1, 2, 0, 4);
    }

    @Test
    void failAfterForeverFailsEveryMatchingCallFromTheNth() throws IOException {
        StorageFile file = createSynced(FILE);
        io.failAfter(2, EnumSet.of(Op.FORCE, Op.SYNC_DIR), FailMode.FOREVER);

        file.force();
        assertThatThrownBy(() -> io.syncDirectory(DIR)).hasMessage("simulated failure of SYNC_DIR on /db (call #2)");
        assertThatThrownBy(file::force).hasMessageContaining("(call #3)");
        assertThatThrownBy(file::force).hasMessageContaining("(call #4)");
        file.write(filled(1, 1), 0);

        io.clearFaults();
        file.force();
        assertThat(io.forceCount()).isEqualTo(2);
    }

    @Test
    void workRunDyingAtTheNthCallEndsWithTheStoresFailureAndLeavesNoFault() throws IOException {
        StorageFile file = createSynced(FILE);
        List<Integer> done = new ArrayList<>();
        io.runDyingAt(3, () -> {
            for (int i = 0; i < 5; i++) {
                try {
                    file.write(filled(1, i), i);
                } catch (IOException e) {
                    throw new StorageException("writing", FILE, e);
                }
                done.add(i);
            }
        });
        assertThat(done).as("the 3rd call and every one after it failed").containsExactly(0, 1);
        file.write(filled(1, 9), 9);
        assertThatThrownBy(() -> io.runDyingAt(1, () -> {
            throw new IllegalStateException("a bug, not the disk");
        })).isInstanceOf(IllegalStateException.class);
        file.force();
    }

    @Test
    void failAfterCoversNamespaceOperations() throws IOException {
        io.failAfter(1, EnumSet.of(Op.OPEN));
        assertThatThrownBy(() -> io.open(FILE, OpenMode.CREATE)).hasMessageContaining("OPEN on " + FILE);
        assertThat(io.exists(FILE)).isFalse();

        createSynced(FILE);
        io.failAfter(1, EnumSet.of(Op.RENAME, Op.DELETE, Op.LIST), FailMode.FOREVER);
        assertThatThrownBy(() -> io.rename(FILE, DIR.resolve("x"))).hasMessageContaining("RENAME");
        assertThatThrownBy(() -> io.deleteIfExists(FILE)).hasMessageContaining("DELETE");
        assertThatThrownBy(() -> io.list(DIR)).hasMessageContaining("LIST");
        assertThat(io.exists(FILE)).isTrue();
    }

    @Test
    void tearNextWriteLeavesExactlyThePrefixAtEveryOffset() throws IOException {
        byte[] record = new byte[64];
        for (int i = 0; i < record.length; i++) {
            record[i] = (byte) (i + 1);
        }
        for (int keep = 0; keep <= record.length; keep++) {
            SimulatedStorage storage = new SimulatedStorage();
            storage.createDirectories(DIR);
            StorageFile file = storage.open(FILE, OpenMode.CREATE_NEW);
            storage.syncDirectory(DIR);
            file.write(filled(100, 0x55), 0);
            storage.tearNextWrite(keep);

            int kept = keep;
            assertThatThrownBy(() -> file.write(ByteBuffer.wrap(record), 100))
                    .hasMessageContaining("simulated power loss while writing " + FILE)
                    .hasMessageContaining(kept + " of 64 bytes");

            byte[] content = storage.content(FILE);
            assertThat(content).as("keep %d", keep).hasSize(100 + keep);
            assertThat(Arrays.copyOfRange(content, 0, 100)).containsOnly(0x55);
            assertThat(Arrays.copyOfRange(content, 100, 100 + keep)).isEqualTo(Arrays.copyOf(record, keep));
            assertThatThrownBy(file::size).hasMessageContaining("before the crash");
        }
    }

    @Test
    void tearNextWriteDropsOtherFilesUnforcedWrites() throws IOException {
        Path other = DIR.resolve("other");
        StorageFile otherFile = createSynced(other);
        otherFile.write(filled(10, 1), 0);
        StorageFile file = createSynced(FILE);

        io.tearNextWrite(3);
        assertThatThrownBy(() -> file.write(filled(10, 2), 0)).isInstanceOf(IOException.class);

        assertThat(io.content(other)).isEmpty();
        assertThat(io.content(FILE)).isEqualTo(bytes(3, 2));
        try (StorageFile reopened = io.open(FILE, OpenMode.EXISTING)) {
            reopened.write(filled(10, 3), 0);
            assertThat(io.content(FILE)).as("the tear was for one write only").isEqualTo(bytes(10, 3));
        }
    }

    @Test
    void aFullDiskRejectsAWriteWholeAndFreedSpaceIsReusable() throws IOException {
        io.capacity(100);
        StorageFile a = createSynced(FILE);
        StorageFile b = createSynced(DIR.resolve("b"));
        a.write(filled(60, 1), 0);

        ByteBuffer tooMuch = filled(50, 2);
        assertThatThrownBy(() -> b.write(tooMuch, 0))
                .hasMessageStartingWith("No space left on device (simulated full disk) writing " + DIR.resolve("b"));
        assertThat(tooMuch.remaining()).as("the buffer is not consumed").isEqualTo(50);
        assertThat(io.content(DIR.resolve("b"))).isEmpty();
        assertThat(io.usedBytes()).isEqualTo(60);

        a.write(filled(60, 3), 0);
        b.write(filled(40, 4), 0);
        assertThatThrownBy(() -> a.write(filled(1, 5), 60)).hasMessageContaining("No space left");

        a.truncate(10);
        b.write(filled(50, 6), 40);
        assertThat(io.usedBytes()).isEqualTo(100);
        io.deleteIfExists(DIR.resolve("b"));
        assertThat(io.usedBytes()).isEqualTo(10);
        a.write(filled(90, 7), 10);
        assertThat(io.content(FILE)).hasSize(100);
    }

    @Test
    void slowDownDelaysWritesAndForces() throws IOException {
        StorageFile file = createSynced(FILE);
        io.slowDown(Duration.ofMillis(5), Duration.ofMillis(5));
        long start = System.nanoTime();
        file.write(filled(1, 1), 0);
        file.force();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofMillis(10));
    }

    @Test
    void liftingASlowDownEndsASlowForceUnderWay() throws Exception {
        StorageFile file = createSynced(FILE);
        file.write(filled(1, 1), 0);
        io.slowDown(Duration.ZERO, Duration.ofMinutes(1));
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            long start = System.nanoTime();
            Future<?> force = pool.submit(() -> {
                file.force();
                return null;
            });
            Thread.sleep(100);
            assertThat(force.isDone()).as("the force is stalled").isFalse();
            io.slowDown(Duration.ZERO, Duration.ZERO);
            force.get(10, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        } finally {
            pool.shutdownNow();
        }
    }

    // ---------------------------------------------------------------- plain file-system behaviour

    @Test
    void readsStopAtTheEndAndWritesPastItZeroFill() throws IOException {
        StorageFile file = createSynced(FILE);
        file.write(filled(4, 1), 10);

        assertThat(io.content(FILE)).containsExactly(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1);
        ByteBuffer dst = ByteBuffer.allocate(10);
        assertThat(file.read(dst, 8)).isEqualTo(6);
        assertThat(file.read(ByteBuffer.allocate(10), 14)).isZero();
        assertThat(file.read(ByteBuffer.allocate(10), 1000)).isZero();

        file.truncate(11);
        file.write(filled(1, 2), 13);
        assertThat(io.content(FILE)).as("truncated bytes read as zeros when the file regrows")
                .containsExactly(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2);
    }

    @Test
    void openModesCheckExistence() throws IOException {
        assertThatThrownBy(() -> io.open(FILE, OpenMode.EXISTING)).isInstanceOf(NoSuchFileException.class);
        assertThatThrownBy(() -> io.open(FILE, OpenMode.READ_ONLY)).isInstanceOf(NoSuchFileException.class);
        assertThatThrownBy(() -> io.open(Path.of("/nowhere/f"), OpenMode.CREATE))
                .isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("/nowhere/f");
        io.open(FILE, OpenMode.CREATE).close();
        assertThatThrownBy(() -> io.open(FILE, OpenMode.CREATE_NEW)).isInstanceOf(FileAlreadyExistsException.class);
        try (StorageFile readOnly = io.open(FILE, OpenMode.READ_ONLY)) {
            assertThatThrownBy(() -> readOnly.write(filled(1, 1), 0)).hasMessageContaining("READ_ONLY");
        }
        StorageFile closed = io.open(FILE, OpenMode.EXISTING);
        closed.close();
        assertThatThrownBy(() -> closed.read(ByteBuffer.allocate(1), 0)).hasMessageContaining(FILE + ": its handle is closed");
    }

    @Test
    void listIgnoresSubdirectoriesAndDeleteRefusesNonEmptyDirectories() throws IOException {
        io.createDirectories(DIR.resolve("sub/deeper"));
        io.open(FILE, OpenMode.CREATE).close();

        assertThat(io.list(DIR)).containsExactly(FILE);
        assertThat(io.exists(DIR.resolve("sub/deeper"))).isTrue();
        assertThatThrownBy(() -> io.deleteIfExists(DIR.resolve("sub"))).isInstanceOf(IOException.class);
        assertThat(io.deleteIfExists(DIR.resolve("sub/deeper"))).isTrue();
        assertThat(io.deleteIfExists(DIR.resolve("sub"))).isTrue();
        assertThatThrownBy(() -> io.list(DIR.resolve("sub"))).isInstanceOf(NoSuchFileException.class);
    }

    @Test
    void aLockHasOneHolderAtATime() throws IOException {
        Path lockFile = DIR.resolve("LOCK");
        Closeable lock = io.lock(lockFile);
        assertThatThrownBy(() -> io.lock(lockFile))
                .isInstanceOfSatisfying(StoreLockedException.class, e -> assertThat(e.lockFile()).isEqualTo(lockFile));
        lock.close();
        lock.close();
        io.lock(lockFile).close();
        assertThat(io.exists(lockFile)).isTrue();
    }

    @Test
    void corruptionAndLostTailsAreDurable() throws IOException {
        StorageFile file = createSynced(FILE);
        file.write(filled(10, 0), 0);
        file.force();
        file.write(filled(2, 1), 4);

        io.corrupt(FILE, 5, (byte) 0x80);
        io.corrupt(FILE, 8, (byte) 0x01);
        assertThat(io.content(FILE)).containsExactly(0, 0, 0, 0, 1, 0x81, 0, 0, 1, 0);
        file.force();
        assertThat(io.durableContent(FILE)).isEqualTo(io.content(FILE));

        io.truncateDurably(FILE, 6);
        io.powerLoss();
        assertThat(io.content(FILE)).containsExactly(0, 0, 0, 0, 1, 0x81);
        assertThatThrownBy(() -> io.corrupt(FILE, 6, (byte) 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void countersCountSuccessfulCalls() throws IOException {
        StorageFile file = createSynced(FILE);
        file.write(filled(10, 1), 0);
        file.write(filled(5, 1), 100);
        file.force();

        assertThat(io.writeCount()).isEqualTo(2);
        assertThat(io.bytesWritten()).isEqualTo(15);
        assertThat(io.forceCount()).isEqualTo(1);
        assertThat(io.syncDirectoryCount()).isEqualTo(1);
        io.resetCounters();
        assertThat(io.writeCount()).isZero();
    }

    @Test
    void concurrentWritersOfDisjointRangesOfOneFile() throws Exception {
        StorageFile file = createSynced(FILE);
        int chunk = 4096;
        int chunksPerWriter = 512;
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Void>> writers = List.of(0, 1).stream().map(w -> pool.submit(() -> {
                // Writer w owns the chunks of parity w, so the two interleave through the whole file.
                for (int i = 0; i < chunksPerWriter; i++) {
                    long index = 2L * i + w;
                    file.write(filled(chunk, (int) (index % 251) + 1), index * chunk);
                }
                return (Void) null;
            })).toList();
            for (Future<Void> writer : writers) {
                writer.get();
            }
        } finally {
            pool.shutdown();
        }
        file.force();

        byte[] content = io.durableContent(FILE);
        assertThat(content).hasSize(2 * chunksPerWriter * chunk);
        for (int index = 0; index < 2 * chunksPerWriter; index++) {
            assertThat(Arrays.copyOfRange(content, index * chunk, (index + 1) * chunk))
                    .as("chunk %d", index)
                    .containsOnly((byte) (index % 251 + 1));
        }
    }

    // ---------------------------------------------------------------- helpers

    private StorageFile createSynced(Path path) throws IOException {
        StorageFile file = io.open(path, OpenMode.CREATE_NEW);
        io.syncDirectory(path.getParent());
        return file;
    }

    private static void writeForced(StorageFile file, String text) throws IOException {
        file.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), 0);
        file.force();
    }

    private static ByteBuffer filled(int n, int value) {
        return ByteBuffer.wrap(bytes(n, value));
    }

    private static byte[] bytes(int n, int value) {
        byte[] bytes = new byte[n];
        Arrays.fill(bytes, (byte) value);
        return bytes;
    }

    private static byte[] read(StorageFile file, long position, int n) throws IOException {
        ByteBuffer dst = ByteBuffer.allocate(n);
        assertThat(file.read(dst, position)).isEqualTo(n);
        return dst.array();
    }
}
