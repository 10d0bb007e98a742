package dev.toboggan.core.pagecache;

import dev.toboggan.core.Background;
import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.Failpoints;
import dev.toboggan.core.LazyLogger;
import dev.toboggan.core.StorageException;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import dev.toboggan.core.log.Log;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.log.LogEntry;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * Takes snapshots ({@link SnapshotFormat}), so that an open replays only the log written since the last
 * one. The work as a plain object: whoever schedules it (the engine's Snapshotter actor, a test) calls
 * {@link #takeSnapshot()}.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Source</b>: a snapshot is the previous snapshot (decoded a block at a time) + the stable log since its LSN
 *       ({@link Log#scanStable}), never the live page table, which holds changes that are not durable.
 *       The log's messages are grouped by page (a stable sort, so each page's messages keep their replay
 *       order) and merged with the previous snapshot in page id order under {@link TableReplay}'s rules.
 *       Recovering from the new snapshot therefore builds the same table as replaying the whole log.
 *       Memory: the messages since the previous snapshot, never the table.
 *   <li><b>Crash safety</b>: written as {@code snapshot.<lsn>.tmp}, forced, renamed, the directory
 *       forced; only then does it become the base of the next snapshot, and only then are older
 *       snapshots deleted, all but the new one and the one it was built from. A crash at any step leaves
 *       the previous snapshot in place; a leftover temporary file is deleted at open.
 *   <li><b>Threads</b>: {@link #takeSnapshot()} is synchronized (one snapshot at a time; the base is
 *       guarded by {@code this}). {@link #operationLogged} runs on every writer's thread: a
 *       {@link LongAdder} increment, and on about one call in {@value #SIGNAL_EVERY} a sum handed to the
 *       {@link Background} port, never a message per operation. The count is approximate by design
 *       (benign race: an operation counted during a snapshot may count toward the next one too).
 *   <li><b>Segment reuse</b>: the segment cleaner frees a segment only when it lies wholly below the newest
 *       durable snapshot's LSN (taking a snapshot itself if needed), so replay from it never meets a freed
 *       segment: one may have held the seal of a batch whose manifest is in a segment still in use. Replay
 *       that would meet a gap (from an older snapshot, or the whole log) is refused as corruption.
 * </ul>
 */
public final class SnapshotWriter {
    private static final LazyLogger LOG = LazyLogger.of(SnapshotWriter.class);
    /** On average, the port hears the operation count once per this many operations (a power of two). */
    public static final int SIGNAL_EVERY = 1024;

    private final StorageIo io;
    private final Path directory;
    private final Path logFile;
    private final Log log;
    private final SnapshotStore store;
    private final Background background;
    private final LongAdder operations = new LongAdder();
    private volatile long operationsAtSnapshot;
    /** The LSN of the newest durable snapshot (0: none); guarded by this, read without the lock. */
    private volatile long baseLsn;
    /** Its file, or {@code null}; guarded by this. */
    private Path baseFile;

    SnapshotWriter(StorageIo io, LogConfig config, Log log, Background background, SnapshotStore.Loaded base) {
        this.io = io;
        this.directory = config.directory();
        this.logFile = config.logFile();
        this.log = log;
        this.store = new SnapshotStore(io, directory);
        this.background = background;
        this.baseLsn = base.lsn();
        this.baseFile = base.file();
    }

    /** Counts one logged change; now and then tells the port how many there were since the last snapshot. */
    void operationLogged() {
        operations.increment();
        if ((ThreadLocalRandom.current().nextInt() & (SIGNAL_EVERY - 1)) == 0) {
            background.operationsLogged(operationsSinceSnapshot());
        }
    }

    /** Changes logged since the last snapshot began (approximate). */
    public long operationsSinceSnapshot() {
        return operations.sum() - operationsAtSnapshot;
    }

    /** The LSN of the newest durable snapshot, 0 if there is none: an open replays the log from there. */
    public long lastSnapshotLsn() {
        return baseLsn;
    }

    /**
     * Runs {@code copy} with the newest durable snapshot's file ({@code null} if there is none) while no
     * snapshot is taken and none is deleted: a backup copies that file and lists the log after it, so the
     * file is the one recovery of the copy starts from. The segment cleaner, which takes a snapshot before it
     * frees segments past the last one, waits meanwhile (a snapshot file's copy: milliseconds).
     */
    synchronized <R> R whileNoneTaken(Function<Path, R> copy) {
        return copy.apply(baseFile);
    }

    /**
     * Makes the log stable up to what was reserved so far, then takes a snapshot if the stable log has
     * moved past the last one: as of the stable tip (or the manifest of a batch still open there).
     *
     * @return the new snapshot's LSN, or -1 if there was nothing new
     * @throws StorageException if writing it failed: the previous snapshot is still the one recovery
     *     uses, and the next call tries again
     */
    public synchronized long takeSnapshot() {
        long operationsBefore = operations.sum();
        // Make what was logged so far stable first: the operations counted above are then all in this
        // snapshot. Without it a snapshot taken before the Flusher ran covers little, yet resets the count,
        // and the next open replays everything.
        log.flush();
        if (log.stableTip() <= baseLsn) {
            return -1;
        }
        long lsn;
        try {
            try {
                lsn = write(baseLsn, baseFile);
            } catch (CorruptionException e) {
                if (baseFile == null || !baseFile.equals(e.file())) {
                    throw e;
                }
                LOG.get().warn("snapshot {} cannot be read any more; taking the next snapshot from the whole log: {}",
                        baseFile, e.getMessage());
                lsn = write(0, null);
            }
        } catch (IOException e) {
            throw new StorageException("taking a snapshot", directory, e);
        }
        operationsAtSnapshot = operationsBefore;
        return lsn;
    }

    private long write(long fromLsn, Path fromFile) throws IOException {
        List<LogEntry> changes = new ArrayList<>();
        long lsn = log.scanStable(fromLsn, changes::add);
        if (lsn <= fromLsn) {
            return -1;
        }
        changes = byPid(changes);
        String name = SnapshotFormat.fileName(lsn);
        Path target = directory.resolve(name);
        Path temp = directory.resolve(name + SnapshotFormat.TEMP_SUFFIX);
        io.deleteIfExists(temp);
        try {
            try (StorageFile out = io.open(temp, StorageIo.OpenMode.CREATE_NEW);
                    StorageFile in = fromFile == null ? null : io.open(fromFile, StorageIo.OpenMode.READ_ONLY)) {
                SnapshotFormat.Image.Cursor previous = null;
                long previousIds = 0;
                if (in != null) {
                    SnapshotFormat.Image image = SnapshotFormat.Image.open(in);
                    previous = image.pages();
                    previousIds = image.pageIds();
                }
                long maxPid = changes.isEmpty() ? -1 : changes.get(changes.size() - 1).pid();
                long pageIds = Math.max(previousIds, maxPid + 1);
                SnapshotFormat.Writer writer = new SnapshotFormat.Writer(out, lsn, pageIds);
                Failpoints.check("snapshot.write");
                merge(previous, changes, writer);
                writer.finish();
                Failpoints.check("snapshot.force");
                out.force();
            }
            Failpoints.check("snapshot.rename");
            io.rename(temp, target);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(temp, e);
            throw e;
        }
        Failpoints.check("snapshot.dirsync");
        io.syncDirectory(directory);
        Set<Path> keep = new HashSet<>();
        keep.add(target);
        if (fromFile != null) {
            keep.add(fromFile);
        }
        baseLsn = lsn;
        baseFile = target;
        Failpoints.check("snapshot.prune");
        store.prune(keep);
        LOG.get().debug("snapshot {} taken: {} messages since LSN {} merged", target, changes.size(), fromLsn);
        return lsn;
    }

    /**
     * {@code changes} (in log order) ordered by pid, each pid's in log order, as replay applies them. The
     * segment cleaner takes a snapshot before most segments it frees, so this runs often under a load. Page
     * ids are dense (the table's, reused lowest first): when the highest is within a few times the number of
     * changes, a counting sort places each change in one pass (a stable order by construction, and a sixth of
     * a snapshot's CPU was the sort it replaces). Otherwise it sorts packed (pid, position) longs when both
     * fit in 63 bits, as they do for any real store (the object sort with a comparator was about half of a
     * snapshot's CPU), and falls back to that comparator sort.
     */
    static List<LogEntry> byPid(List<LogEntry> changes) {
        int n = changes.size();
        long maxPid = 0;
        for (LogEntry change : changes) {
            if (change.pid() < 0) {
                changes.sort(Comparator.comparingLong(LogEntry::pid));
                return changes;
            }
            maxPid = Math.max(maxPid, change.pid());
        }
        if (maxPid < 4L * n + 1024) {
            int[] next = new int[(int) maxPid + 2]; // per pid, where its next change goes (after the counts)
            for (LogEntry change : changes) {
                next[(int) change.pid() + 1]++;
            }
            for (int pid = 1; pid < next.length; pid++) {
                next[pid] += next[pid - 1];
            }
            LogEntry[] sorted = new LogEntry[n];
            for (LogEntry change : changes) {
                sorted[next[(int) change.pid()]++] = change;
            }
            return Arrays.asList(sorted);
        }
        int positionBits = Math.max(1, 64 - Long.numberOfLeadingZeros(n));
        if (64 - Long.numberOfLeadingZeros(maxPid) + positionBits > 63) {
            changes.sort(Comparator.comparingLong(LogEntry::pid));
            return changes;
        }
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) {
            keys[i] = changes.get(i).pid() << positionBits | i;
        }
        Arrays.sort(keys);
        long mask = (1L << positionBits) - 1;
        List<LogEntry> sorted = new ArrayList<>(n);
        for (long key : keys) {
            sorted.add(changes.get((int) (key & mask)));
        }
        return sorted;
    }

    /** Streams the previous snapshot's pages, each with the log's messages for it applied, in pid order. */
    private void merge(SnapshotFormat.Image.Cursor previous, List<LogEntry> changes, SnapshotFormat.Writer writer)
            throws IOException {
        Object old = previous == null ? null : previous.next();
        long oldPid = old == null ? -1 : previous.pid();
        int i = 0;
        while (old != null || i < changes.size()) {
            long pid = old == null ? changes.get(i).pid()
                    : i == changes.size() ? oldPid : Math.min(oldPid, changes.get(i).pid());
            Object page = null;
            if (old != null && oldPid == pid) {
                page = old;
                old = previous.next();
                oldPid = old == null ? -1 : previous.pid();
            }
            int end = i;
            while (end < changes.size() && changes.get(end).pid() == pid) {
                end++;
            }
            page = TableReplay.applyAll(page, changes, i, end, logFile);
            i = end;
            if (page != null) {
                writer.page(pid, page);
            }
        }
    }

    private void deleteQuietly(Path temp, Exception cause) {
        try {
            io.deleteIfExists(temp);
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
    }
}
