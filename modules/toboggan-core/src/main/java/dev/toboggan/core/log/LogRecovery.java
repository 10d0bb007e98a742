package dev.toboggan.core.log;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.Failpoints;
import dev.toboggan.core.io.StorageFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recovers the log at open: finds segments by their headers, replays messages in LSN order, finds
 * where the log really ends, and destroys every byte past that end so it can never be mistaken for
 * data later.
 *
 * <ol>
 *   <li>Read every slot's header. The largest stable tip any valid header records (or the
 *       {@link StableTipFile} of the last clean close), M, is a promise: every byte below M was on disk
 *       before that record was written. Segments from the one holding M-1 on
 *       must be contiguous in LSN (L, L+S, ...): the first gap ends the log.
 *   <li>Replay from {@code replayFrom}. A message that fails to decode (zeroed, wrong segment number,
 *       bad length or CRC) ends the log if it lies at or above M (a torn tail after a crash), and is
 *       reported as corruption, with nothing changed on disk, if it lies below M.
 *   <li>Batches: entries after a manifest are held back until its seal is read; a manifest without a
 *       seal in the recovered log cuts the log at the manifest (all or nothing).
 *   <li>Zero the rest of the tail segment past the end, and every other slot that is not part of the
 *       recovered log (torn segments, slots with stale bytes), then force; delete blob files created
 *       at or past the end. Each step is idempotent, so a crash during recovery recovers again.
 * </ol>
 */
final class LogRecovery {
    private static final Logger LOG = LoggerFactory.getLogger(LogRecovery.class);

    private final LogConfig config;
    private final StorageFile file;
    private final BlobStore blobs;
    private final int segmentSize;
    private final int segmentShift;

    /** Everything the log needs to continue writing where recovery ended. */
    record Result(long tip, int tailSlot, SegmentSlots slots, RecoveryReport report) {}

    private record Segment(long base, long stableTip, int slot) {}

    LogRecovery(LogConfig config, StorageFile file, BlobStore blobs) {
        this.config = config;
        this.file = file;
        this.blobs = blobs;
        this.segmentSize = config.segmentSize();
        this.segmentShift = Integer.numberOfTrailingZeros(segmentSize);
    }

    /**
     * @param promisedAtClose the durable tip recorded at the last clean close (0 if none): like segment
     *     headers' promises, damage below it is corruption, not a torn tail
     */
    Result recover(long replayFrom, long promisedAtClose, Consumer<LogEntry> sink) throws IOException {
        long started = System.nanoTime();
        long fileSize = file.size();
        int slotCount = (int) ((fileSize + segmentSize - 1) / segmentSize);
        List<Segment> valid = readHeaders(slotCount);
        long promised = Math.max(promisedAtClose,
                valid.stream().mapToLong(Segment::stableTip).max().orElse(0));
        List<Segment> sequence = replaySequence(valid, promised);

        Scan scan = new Scan(sink, promised);
        for (Segment segment : sequence) {
            if (segment.base() + segmentSize <= replayFrom) {
                continue;
            }
            int start = (int) Math.max(LogFormat.SEGMENT_HEADER_LENGTH, replayFrom - segment.base());
            if (!scan.segment(segment, start)) {
                break;
            }
        }
        scan.finish(replayFrom);

        long tip = scan.tip;
        int tailSlot = -1;
        Segment tail = scan.tipSegment;
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
                scan.droppedBatches, zeroed, deletedBlobs, System.nanoTime() - started);
        if (scan.torn || scan.droppedBatches > 0) {
            LOG.warn("log {}: {}", config.logFile(), report);
        } else {
            LOG.debug("log {}: {}", config.logFile(), report);
        }
        return new Result(tip, tailSlot, new SegmentSlots(used, freeSlots, lastUsed + 1), report);
    }

    private List<Segment> readHeaders(int slotCount) throws IOException {
        List<Segment> valid = new ArrayList<>();
        ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(LogFormat.SEGMENT_HEADER_LENGTH));
        for (int slot = 0; slot < slotCount; slot++) {
            buf.clear();
            int n = file.read(buf, (long) slot * segmentSize);
            buf.limit(n);
            LogFormat.SegmentHeader header = LogFormat.readSegmentHeader(buf, 0, segmentSize);
            if (header != null) {
                valid.add(new Segment(header.baseLsn(), header.stableTip(), slot));
            }
        }
        valid.sort(Comparator.comparingLong(Segment::base));
        for (int i = 1; i < valid.size(); i++) {
            if (valid.get(i).base() == valid.get(i - 1).base()) {
                throw new CorruptionException(config.logFile(), (long) valid.get(i).slot() * segmentSize,
                        "slots " + valid.get(i - 1).slot() + " and " + valid.get(i).slot() + " both claim segment LSN "
                                + valid.get(i).base());
            }
        }
        return valid;
    }

    /** Older segments in LSN order, then the contiguous run from the segment holding byte M-1. */
    private List<Segment> replaySequence(List<Segment> valid, long promised) {
        long tailBase = promised > 0 ? (promised - 1) & -segmentSize : 0;
        List<Segment> sequence = new ArrayList<>();
        Segment previous = null;
        boolean tailSeen = false;
        for (Segment s : valid) {
            if (s.base() >= tailBase) {
                if (!tailSeen) {
                    if (promised > 0 && s.base() != tailBase) {
                        throw new CorruptionException(config.logFile(), 0, "the segment holding durable LSN "
                                + (promised - 1) + " (segment LSN " + tailBase + ") is missing");
                    }
                    tailSeen = true;
                } else if (s.base() != previous.base() + segmentSize) {
                    break; // a gap in the unstable tail ends the log
                }
            }
            sequence.add(s);
            previous = s;
        }
        return sequence;
    }

    /** The replay scan over the sequence, with the batch hold-back. */
    private final class Scan {
        private final Consumer<LogEntry> sink;
        private final long promised;
        private final ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(segmentSize));
        private final LogFormat.MessageHeader header = new LogFormat.MessageHeader();
        /** Manifest LSN → the segment it is in, for batches without a seal yet. */
        private final TreeMap<Long, Segment> openBatches = new TreeMap<>();
        private final List<LogEntry> held = new ArrayList<>();
        long tip;
        Segment tipSegment;
        long messages;
        long bytesScanned;
        String end = "clean end";
        boolean torn;
        int droppedBatches;

        Scan(Consumer<LogEntry> sink, long promised) {
            this.sink = sink;
            this.promised = promised;
        }

        /** Scans one segment from {@code start}; returns whether the log continues after it. */
        boolean segment(Segment segment, int start) throws IOException {
            buf.clear();
            int n = file.read(buf, (long) segment.slot() * segmentSize);
            bytesScanned += n;
            long segmentNumber = segment.base() >>> segmentShift;
            int pos = start;
            while (segmentSize - pos >= LogFormat.RED_ZONE) {
                long lsn = segment.base() + pos;
                // The file may end inside a slot that was never written to its end: that is zeroed space.
                LogFormat.Defect defect = pos >= n ? LogFormat.Defect.ZEROED
                        : LogFormat.readMessage(buf, pos, n, segmentNumber, header);
                if (defect != null) {
                    if (lsn < promised) {
                        throw new CorruptionException(config.logFile(), (long) segment.slot() * segmentSize + pos,
                                "message at LSN " + lsn + " is " + defect + ", but segment headers record the log as "
                                        + "durable up to LSN " + promised);
                    }
                    tip = lsn;
                    tipSegment = segment;
                    if (defect != LogFormat.Defect.ZEROED) {
                        torn = true;
                        end = "torn message at LSN " + lsn + " (" + defect + ")";
                    }
                    return false;
                }
                if (header.kind == MessageKind.CAP) {
                    break;
                }
                if (header.kind.isBlob() && !blobs.exists(buf.getLong(pos + header.headerLength))) {
                    if (lsn >= promised) {
                        // The pointer landed but the blob's directory entry did not: a torn tail.
                        tip = lsn;
                        tipSegment = segment;
                        torn = true;
                        end = "blob of the message at LSN " + lsn + " is missing (written, never made durable)";
                        return false;
                    }
                    // Below the promised tip a missing blob was deleted after its page was replaced by a
                    // durable later version: skip it.
                } else {
                    accept(segment, lsn, (long) segment.slot() * segmentSize + pos, header.kind, header.pid,
                            pos + header.headerLength);
                }
                pos += header.totalLength();
            }
            tip = segment.base() + segmentSize;
            tipSegment = segment;
            return true;
        }

        private void accept(Segment segment, long lsn, long pointer, MessageKind kind, long pid, int bodyAt) {
            switch (kind) {
                case CANCELED -> { }
                case BATCH_MANIFEST -> openBatches.put(lsn, segment);
                case BATCH_SEAL -> {
                    openBatches.remove(buf.getLong(bodyAt));
                    if (openBatches.isEmpty()) {
                        held.forEach(this::deliver);
                        held.clear();
                    }
                }
                default -> {
                    LogEntry entry = new LogEntry(kind, pid, lsn, pointer, header.totalLength());
                    if (openBatches.isEmpty()) {
                        deliver(entry);
                    } else {
                        held.add(entry);
                    }
                }
            }
        }

        private void deliver(LogEntry entry) {
            messages++;
            sink.accept(entry);
        }

        void finish(long replayFrom) {
            if (tipSegment == null) {
                tip = Math.max(tip, replayFrom);
            }
            if (!openBatches.isEmpty()) {
                Map.Entry<Long, Segment> first = openBatches.firstEntry();
                droppedBatches = openBatches.size();
                tip = first.getKey();
                tipSegment = first.getValue();
                end = "unsealed atomic batch at LSN " + tip + " dropped with " + held.size() + " messages after it";
                held.clear();
            }
        }
    }

    private boolean zeroRange(long offset, int length) throws IOException {
        ByteBuffer existing = ByteBuffer.allocate(Math.min(length, 1 << 20));
        boolean dirty = false;
        for (long at = offset; at < offset + length; at += existing.capacity()) {
            existing.clear().limit((int) Math.min(existing.capacity(), offset + length - at));
            int n = file.read(existing, at);
            for (int i = 0; i < n && !dirty; i++) {
                dirty = existing.get(i) != 0;
            }
            if (dirty) {
                break;
            }
        }
        if (!dirty) {
            return false;
        }
        Failpoints.check("recovery.zero");
        ByteBuffer zeros = ByteBuffer.allocate(Math.min(length, 1 << 20));
        for (long at = offset; at < offset + length; at += zeros.capacity()) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), offset + length - at));
            file.write(zeros, at);
        }
        return true;
    }

    private int deleteBlobsFrom(long tip) throws IOException {
        int deleted = 0;
        for (long id : blobs.ids()) {
            if (id >= tip) {
                blobs.deleteQuietly(id);
                deleted++;
            }
        }
        return deleted;
    }
}
