package dev.toboggan.core.pagecache;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.LazyLogger;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * The snapshot files of a store directory: which one recovery starts from, and which may go. Files are
 * told apart by their exact names ({@link SnapshotFormat#lsnOf}), so a temporary file of a snapshot being
 * written is never taken for a snapshot (sled #1527, #1533: its lister sorted {@code snap.X.generating}
 * after {@code snap.X} and failed every open on it).
 */
final class SnapshotStore {
    private static final LazyLogger LOG = LazyLogger.of(SnapshotStore.class);

    private final StorageIo io;
    private final Path directory;

    /**
     * A snapshot loaded into a table of its own, or none (an empty table; replay from 0).
     *
     * @param maxPid the highest page id the snapshot covers, or -1
     * @param file the snapshot file, or {@code null}
     */
    record Loaded(PageTable table, long lsn, long maxPid, Path file) {}

    SnapshotStore(StorageIo io, Path directory) {
        this.io = io;
        this.directory = directory;
    }

    /**
     * Deletes leftover temporary files, then loads the newest snapshot that checks out, falling back to
     * older ones, and to none, with a warning naming each file it passes over and why. Call with the
     * store's lock held.
     *
     * @throws dev.toboggan.core.IncompatibleStoreException if the newest snapshot is of another layout
     *     version: not damage, so no fallback (an older snapshot or the whole log could be missing what
     *     only the newest holds)
     */
    Loaded loadNewest() throws IOException {
        for (Path path : io.list(directory)) {
            String name = path.getFileName().toString();
            if (name.startsWith(SnapshotFormat.PREFIX) && name.endsWith(SnapshotFormat.TEMP_SUFFIX)) {
                LOG.get().info("deleting {}, left over from a snapshot that was being written when the store stopped", path);
                io.deleteIfExists(path);
            }
        }
        List<Path> snapshots = newestFirst();
        for (int i = 0; i < snapshots.size(); i++) {
            Path path = snapshots.get(i);
            try {
                return load(path);
            } catch (CorruptionException | IOException e) {
                String fallback = i + 1 < snapshots.size() ? "the older snapshot " + snapshots.get(i + 1).getFileName()
                        : "replaying the whole log";
                LOG.get().warn("snapshot {} cannot be used, falling back to {}: {}", path, fallback, e.getMessage());
            }
        }
        return new Loaded(new PageTable(), 0, -1, null);
    }

    /**
     * Checks the snapshot whole (its CRC) and attaches it to a new table, its pages undecoded: each block
     * is decoded on first access ({@link PageTable}).
     */
    private Loaded load(Path path) throws IOException {
        PageTable table = new PageTable();
        try (StorageFile file = io.open(path, StorageIo.OpenMode.READ_ONLY)) {
            SnapshotFormat.Image image = SnapshotFormat.Image.open(file);
            long named = SnapshotFormat.lsnOf(path.getFileName().toString());
            if (image.lsn() != named) {
                throw new CorruptionException(path, 16, "snapshot " + path.getFileName() + " holds the state as of LSN "
                        + image.lsn() + ", not " + named);
            }
            table.attach(image);
            if (!table.plausible(image.pageIds() - 1)) {
                throw new CorruptionException(path, 24, "snapshot " + path.getFileName() + " counts "
                        + image.pageIds() + " page ids, far more than its records back");
            }
            return new Loaded(table, image.lsn(), image.pageIds() - 1, path);
        }
    }

    /** Complete snapshot files (by name), newest first. */
    List<Path> newestFirst() throws IOException {
        List<Path> snapshots = new ArrayList<>();
        for (Path path : io.list(directory)) {
            if (SnapshotFormat.lsnOf(path.getFileName().toString()) >= 0) {
                snapshots.add(path);
            }
        }
        snapshots.sort(Comparator.comparingLong((Path p) -> SnapshotFormat.lsnOf(p.getFileName().toString()))
                .reversed());
        return snapshots;
    }

    /** Deletes every snapshot but {@code keep}; the deletions need no directory sync (losing one is harmless). */
    void prune(Collection<Path> keep) throws IOException {
        for (Path path : newestFirst()) {
            if (!keep.contains(path)) {
                io.deleteIfExists(path);
            }
        }
    }
}
