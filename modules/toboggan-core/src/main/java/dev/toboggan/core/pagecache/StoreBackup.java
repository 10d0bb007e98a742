package dev.toboggan.core.pagecache;

import dev.toboggan.core.Backup;
import dev.toboggan.core.LazyLogger;
import dev.toboggan.core.StorageException;
import dev.toboggan.core.io.StorageIo;
import dev.toboggan.core.log.Log;
import dev.toboggan.core.log.LogConfig;
import java.io.IOException;
import java.nio.file.Path;

/**
 * An online backup: the store as of one log position, copied into a new directory while writers go on
 * (LMDB's {@code mdb_env_copy}, RocksDB's checkpoint). The copy is what a crash at that position would
 * have left: opening it recovers exactly the changes below it.
 *
 * <h2>Why the copy is of one moment</h2>
 * <ul>
 *   <li>The position is the log's stable tip, read after a flush (so every change that returned before the
 *       backup was asked for is below it) while the {@link SnapshotWriter} takes no snapshot
 *       ({@link SnapshotWriter#whileNoneTaken}): the newest snapshot, which the copy's recovery starts from,
 *       is at or below it, and is copied before another can replace it. Under the same lock the log lists
 *       what it will copy ({@link Log#listForCopy}): every segment and blob below the position.
 *   <li>Bytes of the log below the stable tip are never written again, and until the copy has read a listed
 *       segment or blob the segment cleaner neither frees it (zeroes or reuses its slot) nor deletes it. So the
 *       copy reads only bytes that do not change, whatever the writers, the flusher and the cleaner do; the
 *       cleaner goes on, and what the copy has read it may free at once (oldest segments are read first).
 *   <li>The stable tip never passes the manifest of an open atomic batch, so a batch is whole in the copy or
 *       not in it at all.
 *   <li>The directory is created with an empty log and no {@code format} file, and the format file is written
 *       last ({@link Log#finishCopy}): a copy cut short by a crash is refused at open, never taken for a store.
 * </ul>
 */
final class StoreBackup {
    private static final LazyLogger LOG = LazyLogger.of(StoreBackup.class);

    private final StorageIo io;
    private final LogConfig config;
    private final Path storeDirectory;
    private final Log log;
    private final SnapshotWriter snapshots;

    StoreBackup(StorageIo io, LogConfig config, Log log, SnapshotWriter snapshots) {
        this.io = io;
        this.config = config;
        this.storeDirectory = config.directory().toAbsolutePath().normalize();
        this.log = log;
        this.snapshots = snapshots;
    }

    /**
     * Copies the store into {@code target}, a directory that must not exist yet (its parent must).
     *
     * @throws IllegalArgumentException if {@code target} exists, has no parent directory, or lies inside the
     *     store's directory; nothing was written
     * @throws StorageException if reading the store or writing the copy failed: what was written of the copy
     *     is removed (as far as it can be), and the store is unchanged
     */
    Backup copyTo(Path target) {
        Path dir = target.toAbsolutePath().normalize();
        check(dir);
        log.flush();
        log.startCopy(dir);
        try {
            // The log's listing (which reads the cut) and the snapshot's copy under the snapshot lock: the
            // snapshot, at or below the cut, stays the newest until it is copied, and then no longer matters.
            long[] bytes = {0};
            Log.Copy logCopy = snapshots.whileNoneTaken(snapshot -> {
                Log.Copy listed = log.listForCopy();
                boolean copied = false;
                try {
                    if (snapshot != null) {
                        bytes[0] = io.copy(snapshot, dir.resolve(snapshot.getFileName()));
                    }
                    copied = true;
                    return listed;
                } catch (IOException e) {
                    throw new StorageException("copying the snapshot to " + dir, snapshot, e);
                } finally {
                    if (!copied) {
                        listed.close(); // the cleaner must not keep segments for a copy that will not read them
                    }
                }
            });
            try (logCopy) {
                bytes[0] += logCopy.writeTo(dir);
            }
            Path idMark = config.directory().resolve(IdMarkFile.FILE_NAME);
            if (io.exists(idMark)) {
                try {
                    io.copy(idMark, dir.resolve(IdMarkFile.FILE_NAME));
                } catch (IOException e) {
                    throw new StorageException("copying the id mark to " + dir, idMark, e);
                }
            }
            log.finishCopy(dir);
            LOG.get().info("backup of {} as of LSN {} written to {}: {} bytes", storeDirectory, logCopy.upTo(), dir,
                    bytes[0]);
            return new Backup(dir, logCopy.upTo(), bytes[0]);
        } catch (RuntimeException | Error e) {
            removePartialCopy(dir, e);
            throw e;
        }
    }

    private void check(Path dir) {
        if (io.exists(dir)) {
            throw new IllegalArgumentException("the backup target " + dir + " exists: a backup goes into a new "
                    + "directory; name one that does not exist yet (nothing was written)");
        }
        if (dir.getParent() == null || !io.exists(dir.getParent())) {
            throw new IllegalArgumentException("the backup target's parent directory " + dir.getParent()
                    + " does not exist: create it first (nothing was written)");
        }
        if (dir.startsWith(storeDirectory)) {
            throw new IllegalArgumentException("the backup target " + dir + " lies inside the store's directory "
                    + storeDirectory + ": name a directory outside it (nothing was written)");
        }
    }

    /** Deletes what a failed backup wrote, deepest first; what cannot go is left, and the failure says so. */
    private void removePartialCopy(Path dir, Throwable failure) {
        try {
            Path blobs = dir.resolve(config.directory().relativize(config.blobDirectory()));
            if (io.exists(blobs)) {
                for (Path file : io.list(blobs)) {
                    io.deleteIfExists(file);
                }
                io.deleteIfExists(blobs);
            }
            for (Path file : io.list(dir)) {
                io.deleteIfExists(file);
            }
            io.deleteIfExists(dir);
        } catch (IOException e) {
            failure.addSuppressed(new StorageException("removing the partial backup at " + dir
                    + " failed: delete it by hand (it holds no format file, so no store opens it)", dir, e));
        }
    }
}
