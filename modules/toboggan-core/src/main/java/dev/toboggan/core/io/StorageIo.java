package dev.toboggan.core.io;

import dev.toboggan.core.Failpoints;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/**
 * The IO seam: every byte Toboggan reads or writes, and every file it creates, renames, deletes or
 * locks, goes through a {@code StorageIo}. Production uses {@link FileChannelStorage}; tests use
 * {@link SimulatedStorage}, which can lose power, tear writes, fail the Nth call and run out of space.
 *
 * <p>Durability contract (the one a POSIX file system gives, and the one recovery assumes):
 * <ul>
 *   <li>bytes written to a file are durable only after {@link StorageFile#force()} on that file;
 *   <li>a created, renamed or deleted directory entry is durable only after {@link #syncDirectory(Path)}
 *       on its parent directory;
 *   <li>{@link #rename(Path, Path)} is atomic: after a crash either the old or the new name exists.
 * </ul>
 */
public interface StorageIo {
    /** The suffix of the temporary file {@link #replaceWhole} writes first. */
    String TEMP_SUFFIX = ".tmp";
    /** The bytes {@link #copy} reads and writes at a time. */
    int COPY_CHUNK = 1 << 20;

    /** How {@link #open} treats a missing or existing file. */
    enum OpenMode {
        /** Open an existing file, or create it. */
        CREATE,
        /** Create a file that must not exist yet. */
        CREATE_NEW,
        /** Open a file that must exist. */
        EXISTING,
        /** Open an existing file for reading only. */
        READ_ONLY
    }

    /** Opens a file for positional reads and writes. */
    StorageFile open(Path path, OpenMode mode) throws IOException;

    boolean exists(Path path);

    /** Creates the directory and any missing parents; a no-op if it exists. */
    void createDirectories(Path dir) throws IOException;

    /** The regular files directly inside {@code dir}, in no particular order. */
    List<Path> list(Path dir) throws IOException;

    /** Atomically renames {@code from} to {@code to}, replacing {@code to} if it exists. */
    void rename(Path from, Path to) throws IOException;

    /** Deletes the file if it exists; returns whether it did. */
    boolean deleteIfExists(Path path) throws IOException;

    /** Makes the directory's entries (creations, renames, deletions) durable. */
    void syncDirectory(Path dir) throws IOException;

    /**
     * Replaces the small file {@code name} in {@code directory} whole, so that a crash leaves either its old
     * content or {@code content}: written as {@code name.tmp} (a leftover of an earlier attempt deleted
     * first), forced, renamed over the file, and the directory forced. The store's one-record files
     * ({@code format}, {@code stable-tip}, {@code id-mark}) are written this way.
     *
     * @param failpoint checked once the temporary file is open, before its bytes are written
     */
    default void replaceWhole(Path directory, String name, ByteBuffer content, String failpoint) throws IOException {
        Path temp = directory.resolve(name + TEMP_SUFFIX);
        deleteIfExists(temp);
        try (StorageFile f = open(temp, OpenMode.CREATE_NEW)) {
            Failpoints.check(failpoint);
            f.write(content, 0);
            f.force();
        }
        rename(temp, directory.resolve(name));
        syncDirectory(directory);
    }

    /**
     * Copies the file {@code from} whole into a new file {@code to}, forced (its directory entry is not).
     *
     * @return the bytes copied
     */
    default long copy(Path from, Path to) throws IOException {
        try (StorageFile in = open(from, OpenMode.READ_ONLY); StorageFile out = open(to, OpenMode.CREATE_NEW)) {
            long copied = StorageFile.copyRange(in, out, 0, in.size(), ByteBuffer.allocate(COPY_CHUNK));
            out.force();
            return copied;
        }
    }

    /**
     * Takes an exclusive lock on {@code lockFile} (created if missing) against other processes and
     * other opens in this JVM.
     *
     * @throws StoreLockedException if somebody else holds it
     */
    Closeable lock(Path lockFile) throws IOException;
}
