package dev.toboggan.core.log;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.Failpoints;
import dev.toboggan.core.StorageException;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Blob files: one per message too large for a segment (layout in {@link LogFormat}).
 *
 * <p>A blob is written and forced by the writer that reserves its pointer message, before that
 * message completes. Its directory entry is made durable by the flusher before it reports any window
 * durable ({@link #syncIfCreated()}): a writer sets {@code created} BEFORE completing its reservation,
 * and the flusher reads it AFTER taking the completed window, so no pointer becomes stable before the
 * blob's name is on disk.
 *
 * <p>Recovery reads a missing blob at or above the stable tip that segment headers promise as a torn
 * tail, and below it as a blob deleted on purpose. So a blob may be deleted only once its replacement
 * lies below a tip promised by a segment header on disk (sled: when the replacement's segment goes
 * inactive).
 */
final class BlobStore {
    private final StorageIo io;
    private final Path directory;
    private final AtomicBoolean created = new AtomicBoolean();
    /** Whether blobs are forced; off only for {@code durability = os}. */
    private final boolean fsync;

    BlobStore(StorageIo io, Path directory, boolean fsync) throws IOException {
        this.io = io;
        this.directory = directory;
        this.fsync = fsync;
        if (!io.exists(directory)) {
            io.createDirectories(directory);
            io.syncDirectory(directory.getParent());
        }
    }

    Path path(long blobId) {
        return directory.resolve(LogFormat.blobFileName(blobId));
    }

    void write(long blobId, MessageKind kind, byte[] payload, int off, int len) {
        Path path = path(blobId);
        try (StorageFile f = io.open(path, StorageIo.OpenMode.CREATE_NEW)) {
            Failpoints.check("blob.write");
            f.write(LogFormat.encodeBlob(kind, payload, off, len), 0);
            if (fsync) {
                Failpoints.check("blob.force");
                f.force();
            }
        } catch (IOException e) {
            deleteQuietly(blobId);
            throw new StorageException("writing blob", path, e);
        }
        created.set(true);
    }

    /** Reads a blob's payload, checking its checksum and kind. */
    byte[] read(long blobId, MessageKind kind) {
        Path path = path(blobId);
        try (StorageFile f = io.open(path, StorageIo.OpenMode.READ_ONLY)) {
            long size = f.size();
            if (size < LogFormat.BLOB_HEADER_LENGTH || size > Integer.MAX_VALUE - 16) {
                throw new CorruptionException(path, 0, "blob file of impossible length " + size);
            }
            ByteBuffer buf = LogFormat.le(ByteBuffer.allocate((int) size));
            f.read(buf, 0);
            buf.flip();
            if (!LogFormat.isValidBlob(buf, kind)) {
                throw new CorruptionException(path, 0, "blob checksum or kind mismatch (expected " + kind + ")");
            }
            byte[] payload = new byte[buf.limit() - LogFormat.BLOB_HEADER_LENGTH];
            buf.get(LogFormat.BLOB_HEADER_LENGTH, payload);
            return payload;
        } catch (IOException e) {
            throw new StorageException("reading blob", path, e);
        }
    }

    boolean exists(long blobId) {
        return io.exists(path(blobId));
    }

    /** Deletes a blob; an error is thrown (recovery: a blob past the tip left in place could be read again). */
    void delete(long blobId) throws IOException {
        io.deleteIfExists(path(blobId));
    }

    void deleteQuietly(long blobId) {
        try {
            io.deleteIfExists(path(blobId));
        } catch (IOException ignored) {
            // a blob below the tip left behind costs space, never correctness (its id is never reused);
            // recovery deletes blobs past the tip with delete(), which throws
        }
    }

    /** Ids of every blob file present. */
    List<Long> ids() throws IOException {
        List<Long> ids = new ArrayList<>();
        for (Path p : io.list(directory)) {
            long id = LogFormat.blobIdOf(p.getFileName().toString());
            if (id >= 0) {
                ids.add(id);
            }
        }
        return ids;
    }

    /** Blob id → bytes of its file, for every blob present. */
    java.util.Map<Long, Long> sizes() throws IOException {
        java.util.Map<Long, Long> sizes = new java.util.TreeMap<>();
        for (long id : ids()) {
            try (StorageFile f = io.open(path(id), StorageIo.OpenMode.READ_ONLY)) {
                sizes.put(id, f.size());
            } catch (java.nio.file.NoSuchFileException gone) {
                // deleted between list and open: it no longer takes space
            }
        }
        return sizes;
    }

    /** Bytes of every blob file. */
    long totalSize() throws IOException {
        long total = 0;
        for (Path p : io.list(directory)) {
            try (StorageFile f = io.open(p, StorageIo.OpenMode.READ_ONLY)) {
                total += f.size();
            } catch (java.nio.file.NoSuchFileException gone) {
                // deleted between list and open: it no longer takes space
            }
        }
        return total;
    }

    /** Makes the blob directory's names (creations and deletions) durable. */
    void syncDirectory() throws IOException {
        io.syncDirectory(directory);
    }

    /** Makes the names of blobs created since the last call durable. */
    void syncIfCreated() throws IOException {
        if (created.getAndSet(false)) {
            try {
                io.syncDirectory(directory);
            } catch (IOException e) {
                created.set(true);
                throw e;
            }
        }
    }
}
