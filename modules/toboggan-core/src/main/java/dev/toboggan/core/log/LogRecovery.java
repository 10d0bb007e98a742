package dev.toboggan.core.log;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.Failpoints;
import dev.toboggan.core.LazyLogger;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.log.LogScanner.Segment;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Recovers the log at open: finds segments by their headers, replays messages in LSN order, finds
 * where the log really ends, and destroys every byte past that end so it can never be mistaken for
 * data later.
 *
 * <ol>
 *   <li>Read every slot's header. The largest stable tip any valid header records (or the
 *       {@link StableTipFile} of the last clean close), M, is a promise: every byte below M was on disk
 *       before that record was written. Segments from the one holding M-1 on
 *       must be contiguous in LSN (L, L+S, ...): the first gap ends the log. Gaps below that segment are
 *       segments the cleaner freed (it promises a tip past a segment before freeing it), and slots are in
 *       no particular LSN order once freed slots are reused.
 *   <li>Replay from {@code replayFrom} ({@link LogScanner}): 0, or a snapshot's LSN, which is a clean cut
 *       (no batch is open across it). Headers, M and the contiguity rule cover the whole file either way,
 *       so where the log ends does not depend on where replay starts. A message that fails to decode (zeroed, wrong segment number,
 *       bad length or CRC) ends the log if it lies at or above M (a torn tail after a crash; exactly at M, the stale bytes of a
 *       reused slot past a clean close's tip, which is no tear and logs no warning), and is
 *       reported as corruption, with nothing changed on disk, if it lies below M.
 *   <li>Batches: entries after a manifest are held back until no batch is open any more; a manifest
 *       without a seal in the recovered log cuts the log at the first manifest of that held stretch (all
 *       or nothing: a batch sealed after another batch's manifest loses its seal with that batch), which
 *       must not lie below the stable tip the {@link StableTipFile} promises (that is corruption).
 *   <li>Zero the rest of the tail segment past the end, and every other slot that is not part of the
 *       recovered log (torn segments, slots with stale bytes), then force; delete blob files created
 *       at or past the end. Each step is idempotent, so a crash during recovery recovers again.
 * </ol>
 */
final class LogRecovery {
    private static final LazyLogger LOG = LazyLogger.of(LogRecovery.class);

    private final LogConfig config;
    private final StorageFile file;
    private final BlobStore blobs;
    private final int segmentSize;
    private final LogScanner scanner;
    /** {@link #zeroRange}'s buffers, made on first use: what it reads, and zeros (never written into). */
    private ByteBuffer existing;
    private ByteBuffer zeros;

    /** Everything the log needs to continue writing where recovery ended. */
    record Result(long tip, int tailSlot, SegmentSlots slots, RecoveryReport report) {}

    LogRecovery(LogConfig config, StorageFile file, BlobStore blobs) {
        this.config = config;
        this.file = file;
        this.blobs = blobs;
        this.segmentSize = config.segmentSize();
        this.scanner = new LogScanner(config, file, blobs);
    }

    /**
     * @param promisedAtClose the durable tip recorded at the last clean close (0 if none): like segment
     *     headers' promises, damage below it is corruption, not a torn tail
     */
    Result recover(long replayFrom, long promisedAtClose, Consumer<LogEntry> sink) throws IOException {
        long started = System.nanoTime();
        long fileSize = file.size();
        int slotCount = (int) ((fileSize + segmentSize - 1) / segmentSize);
        List<Segment> valid = scanner.readHeaders(slotCount);
        long promised = Math.max(promisedAtClose,
                valid.stream().mapToLong(Segment::stableTip).max().orElse(0));
        List<Segment> sequence = scanner.replaySequence(valid, promised);
        LogScanner.Scan scan = scanner.scan(sequence, replayFrom, Long.MAX_VALUE, promised, sink);

        long tip = scan.tip;
        int tailSlot = -1;
        Segment tail = scan.tipSegment;
        if (scan.droppedBatches > 0 && tip < promisedAtClose) {
            // The stable-tip file never passes a group of batches that is not wholly durable, and the cleaner
            // freed segments and deleted blobs on its word: dropping bytes below it would lose what they hold.
            throw new CorruptionException(config.logFile(), (long) tail.slot() * segmentSize + (tip - tail.base()),
                    "the atomic batches from LSN " + tip + " are dropped (" + scan.end + "), but the stable tip "
                            + "recorded in " + StableTipFile.FILE_NAME + " promised every byte below LSN "
                            + promisedAtClose);
        }
        if (tail != null && tip < tail.base() + segmentSize) {
            if (segmentSize - (tip - tail.base()) < LogFormat.RED_ZONE) {
                tip = tail.base() + segmentSize;
            } else {
                tailSlot = tail.slot();
            }
        }

        // Which slots hold the recovered log; everything else is zeroed (or cut off the file's end).
        Map<Long, Integer> used = new TreeMap<>();
        for (Segment s : valid) {
            if (s.base() < tip) {
                used.put(s.base(), s.slot());
            }
        }
        BitSet usedSlots = new BitSet();
        used.values().forEach(usedSlots::set);
        int zeroed = 0;
        if (tailSlot >= 0) {
            int from = (int) (tip - tail.base());
            zeroed += zeroRange((long) tailSlot * segmentSize + from, segmentSize - from) ? 1 : 0;
        }
        int lastUsed = usedSlots.length() - 1;
        TreeSet<Integer> freeSlots = new TreeSet<>();
        for (int slot = 0; slot <= lastUsed; slot++) {
            if (!usedSlots.get(slot)) {
                freeSlots.add(slot);
                zeroed += zeroRange((long) slot * segmentSize, segmentSize) ? 1 : 0;
            }
        }
        long keep = (long) (lastUsed + 1) * segmentSize;
        if (fileSize > keep) {
            zeroed += slotCount - (lastUsed + 1);
            Failpoints.check("recovery.truncate");
            file.truncate(keep);
        }
        file.force();
        int deletedBlobs = deleteBlobsFrom(tip);

        RecoveryReport report = new RecoveryReport(tip, valid.size(), scan.messages, scan.bytesScanned, scan.end,
                scan.torn, scan.droppedBatches, zeroed, deletedBlobs, System.nanoTime() - started);
        // A clean recovery logs nothing: a line on every open would initialize logging in every JVM that
        // opens a store (0.25-0.35 s, see LazyLogger); its report is PageCache.recoveryReport().
        if (scan.torn || scan.droppedBatches > 0) {
            LOG.get().warn("log {}: {}", config.logFile(), report);
        }
        return new Result(tip, tailSlot, new SegmentSlots(used, freeSlots, lastUsed + 1), report);
    }

    private boolean zeroRange(long offset, int length) throws IOException {
        // One read buffer and one zero buffer for every range of this recovery, and a vectorized compare:
        // a buffer per slot and a byte-by-byte check made this step most of a clean open's CPU when the
        // cleaner had left free slots (each of them a segment to read). 256 KiB: arrays of 1 MiB are
        // humongous objects on a heap of a few GB (G1 regions of 1-2 MiB), slow to allocate at every open.
        if (zeros == null) {
            int chunk = Math.min(segmentSize, 1 << 18);
            zeros = ByteBuffer.allocate(chunk);
            existing = ByteBuffer.allocate(chunk);
        }
        boolean dirty = false;
        for (long at = offset; at < offset + length && !dirty; at += existing.capacity()) {
            existing.clear().limit((int) Math.min(existing.capacity(), offset + length - at));
            int n = file.read(existing, at);
            dirty = Arrays.mismatch(existing.array(), 0, n, zeros.array(), 0, n) >= 0;
        }
        if (!dirty) {
            return false;
        }
        Failpoints.check("recovery.zero");
        for (long at = offset; at < offset + length; at += zeros.capacity()) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), offset + length - at));
            file.write(zeros, at);
        }
        return true;
    }

    /**
     * Deletes the blobs at or past the tip (written for messages that did not survive) and makes the
     * deletions durable. NOTE: the sync is what keeps a later life correct: the log goes on from the tip,
     * so a blob id (an LSN) deleted here is handed out again, and if the deletion were undone by a power
     * loss while the new blob's name was not yet durable either, a new message that reached the disk
     * unforced would read this life's stale blob under its id, a different page's bytes with a valid
     * checksum (a tree's root came back holding another tree's leaf).
     */
    private int deleteBlobsFrom(long tip) throws IOException {
        int deleted = 0;
        for (long id : blobs.ids()) {
            if (id >= tip) {
                blobs.delete(id);
                deleted++;
            }
        }
        if (deleted > 0) {
            blobs.syncDirectory();
        }
        return deleted;
    }
}
