package dev.toboggan.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.toboggan.core.io.StorageIo.OpenMode;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileChannelStorageTest {

    @TempDir
    Path dir;

    private final FileChannelStorage io = new FileChannelStorage();

    @Test
    void writesAndReadsBackAtAnyPosition() throws IOException {
        Path path = dir.resolve("segment");
        try (StorageFile file = io.open(path, OpenMode.CREATE_NEW)) {
            file.write(bytes(100, (byte) 1), 0);
            file.write(bytes(5000, (byte) 2), 4096);
            file.write(bytes(3, (byte) 3), 50);

            assertThat(file.size()).isEqualTo(4096 + 5000);
            assertThat(read(file, 0, 100)).startsWith(filled(50, (byte) 1)).endsWith(filled(47, (byte) 1));
            assertThat(Arrays.copyOfRange(read(file, 0, 100), 50, 53)).containsOnly(3);
            assertThat(read(file, 100, 3996)).as("the gap reads as zeros").containsOnly(0);
            assertThat(read(file, 4096, 5000)).containsOnly(2);
            file.force();
        }
        try (StorageFile reopened = io.open(path, OpenMode.READ_ONLY)) {
            assertThat(read(reopened, 4096, 5000)).containsOnly(2);
        }
    }

    /**
     * A thread interrupted while it uses a handle closes the underlying channel for every thread; the handle
     * reopens the file, fails only that thread's operation, and everything else goes on.
     */
    @Test
    void anInterruptedThreadFailsItsOwnOperationAndTheHandleGoesOn() throws Exception {
        Path path = dir.resolve("log");
        try (StorageFile file = io.open(path, OpenMode.CREATE_NEW)) {
            file.write(bytes(100, (byte) 1), 0);

            assertThat(onInterruptedThread(() -> file.write(bytes(100, (byte) 9), 100)))
                    .isInstanceOf(InterruptedIOException.class).hasMessageContaining(path.toString());
            file.write(bytes(100, (byte) 2), 100);
            file.force();
            assertThat(read(file, 0, 100)).containsOnly(1);
            assertThat(read(file, 100, 100)).containsOnly(2);
            assertThat(file.size()).isEqualTo(200);
        }
        try (StorageFile reopened = io.open(path, OpenMode.READ_ONLY)) {
            assertThat(read(reopened, 100, 100)).containsOnly(2);
        }
    }

    @Test
    void aCutOnAnInterruptedThreadFailsAndTheHandleStillKnowsTheLength() throws Exception {
        Path path = dir.resolve("log");
        try (StorageFile file = io.open(path, OpenMode.CREATE_NEW)) {
            file.write(bytes(1000, (byte) 1), 0);

            assertThat(onInterruptedThread(() -> file.truncate(100))).isInstanceOf(InterruptedIOException.class);
            assertThat(file.size()).isEqualTo(Files.size(path));
            file.write(bytes(10, (byte) 2), file.size());
            file.force();
            assertThat(file.size()).isEqualTo(Files.size(path));
        }
    }

    @Test
    void openingAFileOnAnInterruptedThreadSaysSo() throws Exception {
        Path path = dir.resolve("blob");
        assertThat(onInterruptedThread(() -> {
            try (StorageFile file = io.open(path, OpenMode.CREATE_NEW)) {
                file.write(bytes(10, (byte) 1), 0);
            }
        })).isInstanceOf(InterruptedIOException.class).hasMessageContaining(path.toString())
                .hasMessageContaining("interrupt");
    }

    /** IO that may throw. */
    @FunctionalInterface
    private interface Io {
        void run() throws IOException;
    }

    /**
     * Runs {@code io} on a new thread whose interrupt flag is set, and returns what it threw ({@code null} if
     * nothing); fails if the flag did not survive the call, since callers rely on seeing it.
     */
    private static Throwable onInterruptedThread(Io io) throws InterruptedException {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        AtomicBoolean flagKept = new AtomicBoolean();
        Thread t = new Thread(() -> {
            Thread.currentThread().interrupt();
            try {
                io.run();
            } catch (Throwable e) {
                thrown.set(e);
            }
            flagKept.set(Thread.currentThread().isInterrupted());
        });
        t.start();
        t.join();
        assertThat(flagKept).as("the interrupt flag after the call").isTrue();
        return thrown.get();
    }

    @Test
    void readStopsAtTheEndOfTheFile() throws IOException {
        try (StorageFile file = io.open(dir.resolve("f"), OpenMode.CREATE)) {
            file.write(ByteBuffer.wrap("0123456789".getBytes(StandardCharsets.US_ASCII)), 0);

            ByteBuffer dst = ByteBuffer.allocate(20);
            assertThat(file.read(dst, 5)).isEqualTo(5);
            assertThat(new String(dst.array(), 0, 5, StandardCharsets.US_ASCII)).isEqualTo("56789");
            assertThat(file.read(ByteBuffer.allocate(4), 10)).isZero();
            assertThat(file.read(ByteBuffer.allocate(4), 1000)).isZero();
        }
    }

    @Test
    void truncateCutsAndNeverGrows() throws IOException {
        try (StorageFile file = io.open(dir.resolve("f"), OpenMode.CREATE)) {
            file.write(bytes(1000, (byte) 7), 0);
            file.force();
            file.truncate(300);
            assertThat(file.size()).isEqualTo(300);
            file.truncate(5000);
            assertThat(file.size()).isEqualTo(300);
            file.force();
            file.write(bytes(10, (byte) 8), 300);
            file.force();
            assertThat(file.size()).isEqualTo(310);
        }
    }

    @Test
    void aWritableHandleKnowsItsLengthFromItsOwnWritesAndCuts() throws Exception {
        Path path = dir.resolve("log");
        Files.write(path, new byte[777]);
        try (StorageFile file = io.open(path, OpenMode.EXISTING);
                StorageFile reader = io.open(path, OpenMode.READ_ONLY)) {
            assertThat(file.size()).as("the length it opened with").isEqualTo(777);
            file.write(bytes(10, (byte) 1), 100);
            assertThat(file.size()).as("a write inside does not grow it").isEqualTo(777);
            file.write(bytes(10, (byte) 2), 2000);
            assertThat(file.size()).isEqualTo(2010).isEqualTo(Files.size(path));
            assertThat(reader.size()).as("a read-only handle asks the file").isEqualTo(2010);

            // Writers at different offsets at once: the length is the furthest end, whoever finished last.
            Thread[] writers = new Thread[8];
            for (int t = 0; t < writers.length; t++) {
                long at = 4096L * (t + 1);
                writers[t] = new Thread(() -> {
                    try {
                        file.write(bytes(100, (byte) 3), at);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                writers[t].start();
            }
            for (Thread writer : writers) {
                writer.join();
            }
            assertThat(file.size()).isEqualTo(8 * 4096 + 100).isEqualTo(Files.size(path));

            file.truncate(5000);
            assertThat(file.size()).isEqualTo(5000).isEqualTo(Files.size(path));
            file.force();
        }
        try (StorageFile reopened = io.open(path, OpenMode.EXISTING)) {
            assertThat(reopened.size()).isEqualTo(5000);
            // It never asks the file system (a stat per flush cost every durable write a journal commit):
            // a cut made behind its back, which the store's lock rules out, is not seen.
            try (java.nio.channels.FileChannel other = java.nio.channels.FileChannel.open(path,
                    java.nio.file.StandardOpenOption.WRITE)) {
                other.truncate(10);
            }
            assertThat(reopened.size()).isEqualTo(5000);
        }
    }

    @Test
    void aWriteThatFailsBeforeAnyByteDoesNotLengthenTheFile() throws IOException {
        StorageFile file = io.open(dir.resolve("log"), OpenMode.CREATE_NEW);
        file.write(bytes(100, (byte) 1), 0);
        file.close();
        assertThatThrownBy(() -> file.write(bytes(10, (byte) 2), 1 << 20)).isInstanceOf(IOException.class);
        assertThat(file.size()).isEqualTo(100);
    }

    @Test
    void renameReplacesTheTarget() throws IOException {
        Path snapshot = dir.resolve("snapshot");
        Path temp = dir.resolve("snapshot.tmp");
        Files.writeString(snapshot, "old");
        Files.writeString(temp, "new");

        io.rename(temp, snapshot);
        io.syncDirectory(dir);

        assertThat(Files.readString(snapshot)).isEqualTo("new");
        assertThat(io.exists(temp)).isFalse();
    }

    @Test
    void listsOnlyRegularFiles() throws IOException {
        Files.writeString(dir.resolve("a"), "");
        Files.writeString(dir.resolve("b"), "");
        io.createDirectories(dir.resolve("sub/deeper"));

        assertThat(io.list(dir)).containsExactlyInAnyOrder(dir.resolve("a"), dir.resolve("b"));
        assertThat(io.list(dir.resolve("sub"))).isEmpty();
    }

    @Test
    void deleteIfExistsSaysWhetherItDeleted() throws IOException {
        Path path = dir.resolve("f");
        io.open(path, OpenMode.CREATE).close();
        assertThat(io.deleteIfExists(path)).isTrue();
        assertThat(io.deleteIfExists(path)).isFalse();
        assertThat(io.exists(path)).isFalse();
    }

    @Test
    void aSecondLockInTheSameJvmIsRefusedUntilTheFirstIsReleased() throws IOException {
        Path lockFile = dir.resolve("LOCK");
        Closeable first = io.lock(lockFile);
        try {
            assertThatThrownBy(() -> new FileChannelStorage().lock(lockFile))
                    .isInstanceOfSatisfying(StoreLockedException.class,
                            e -> assertThat(e.lockFile()).isEqualTo(lockFile))
                    .hasMessageContaining(lockFile.toString());
            assertThatThrownBy(() -> io.lock(dir.resolve("sub/../LOCK")))
                    .as("another spelling of the same file")
                    .isInstanceOf(StoreLockedException.class);
        } finally {
            first.close();
        }
        first.close();
        try (Closeable again = io.lock(lockFile)) {
            assertThat(again).isNotNull();
        }
    }

    @Test
    void createdFilesAndDirectoriesAreOwnerOnly() throws IOException {
        assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"));
        Path sub = dir.resolve("store/inner");
        io.createDirectories(sub);
        io.open(sub.resolve("f"), OpenMode.CREATE).close();
        io.lock(sub.resolve("LOCK")).close();

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("store"))))
                .isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sub))).isEqualTo("rwx------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sub.resolve("f"))))
                .isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sub.resolve("LOCK"))))
                .isEqualTo("rw-------");
    }

    @Test
    void chosenPermissionsApplyToFilesAndReachableDirectories() throws IOException {
        assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"));
        FileChannelStorage groupReadable = new FileChannelStorage(PosixFilePermissions.fromString("rw-r-----"));
        groupReadable.createDirectories(dir.resolve("store"));
        groupReadable.open(dir.resolve("store/f"), OpenMode.CREATE).close();

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("store"))))
                .isEqualTo("rwxr-x---");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("store/f"))))
                .isEqualTo("rw-r-----");
    }

    @Test
    void errorsNameTheFile() throws IOException {
        Path missing = dir.resolve("missing");
        assertThatThrownBy(() -> io.open(missing, OpenMode.EXISTING))
                .isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining(missing.toString());

        Path existing = dir.resolve("existing");
        io.open(existing, OpenMode.CREATE).close();
        assertThatThrownBy(() -> io.open(existing, OpenMode.CREATE_NEW))
                .isInstanceOf(FileAlreadyExistsException.class)
                .hasMessageContaining(existing.toString());

        try (StorageFile readOnly = io.open(existing, OpenMode.READ_ONLY)) {
            assertThatThrownBy(() -> readOnly.write(bytes(1, (byte) 1), 0)).hasMessageContaining(existing.toString());
            assertThatThrownBy(() -> readOnly.truncate(0)).hasMessageContaining(existing.toString());
        }

        StorageFile closed = io.open(existing, OpenMode.EXISTING);
        closed.close();
        assertThatThrownBy(() -> closed.read(ByteBuffer.allocate(1), 0)).hasMessageContaining(existing.toString());
        assertThatThrownBy(() -> closed.write(bytes(1, (byte) 1), 7))
                .hasMessageContaining(existing.toString())
                .hasMessageContaining("offset 7");
        assertThatThrownBy(closed::force).hasMessageContaining(existing.toString());

        assertThatThrownBy(() -> io.rename(missing, existing)).hasMessageContaining(missing.toString());
        assertThatThrownBy(() -> io.list(missing)).hasMessageContaining(missing.toString());
    }

    @Test
    void syncingAMissingDirectoryFailsOnLinux() {
        assumeTrue(System.getProperty("os.name", "").startsWith("Linux"), "other systems ignore the failure");
        Path missing = dir.resolve("missing");
        assertThatThrownBy(() -> io.syncDirectory(missing)).hasMessageContaining(missing.toString());
    }

    private static ByteBuffer bytes(int n, byte value) {
        return ByteBuffer.wrap(filled(n, value));
    }

    private static byte[] filled(int n, byte value) {
        byte[] bytes = new byte[n];
        Arrays.fill(bytes, value);
        return bytes;
    }

    private static byte[] read(StorageFile file, long position, int n) throws IOException {
        ByteBuffer dst = ByteBuffer.allocate(n);
        assertThat(file.read(dst, position)).isEqualTo(n);
        return dst.array();
    }
}
