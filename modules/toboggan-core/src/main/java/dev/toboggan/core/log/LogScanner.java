package dev.toboggan.core.log;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.io.StorageFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Reads the log's messages in LSN order, read-only: the one scanner behind recovery (which then decides
 * where the log ends and cleans up past it, see {@link LogRecovery}) and behind snapshots (which read the
 * stable log since the previous snapshot, see {@link Log#scanStable}). Both therefore deliver exactly the
 * same messages for the same bytes:
 * <ul>
 *   <li>a segment is read from where the scan starts in it: first {@link #FIRST_READ} bytes, or everything
 *       below both the scan's limit and the promised tip if that is more; then, when a message may run past
 *       what was read, the rest of the segment. Each message is decoded from the bytes it covers only, so it
 *       decodes as from a read of the whole segment (which cost a clean open an 8 MiB read to find the one
 *       message past the snapshot's LSN); decoding goes message by message up to a CAP or the red zone;
 *   <li>canceled records, batch manifests and seals are not delivered; everything after a manifest is
 *       held back until the seal that closes the last open batch, so a scan that ends with a batch open
 *       delivers a clean prefix that ends at the manifest that started the held stretch ({@link Scan#tip}):
 *       the first of the batches that stand or fall together (see {@code StabilityTracker});
 *   <li>a message that fails to decode below the promised tip is corruption; at or above it, the end of
 *       the log (a torn tail).
 * </ul>
 */
final class LogScanner {
    /** Bytes a scan reads first from where it starts in a segment: a clean open's replay needs a few. */
    static final int FIRST_READ = 64 * 1024;

    private final LogConfig config;
    private final StorageFile file;
    private final BlobStore blobs;
    private final int segmentSize;
    private final int segmentShift;

    /** A segment of the log: its base LSN, the stable tip its header promises, and its slot. */
    record Segment(long base, long stableTip, int slot) {}

    LogScanner(LogConfig config, StorageFile file, BlobStore blobs) {
        this.config = config;
        this.file = file;
        this.blobs = blobs;
        this.segmentSize = config.segmentSize();
        this.segmentShift = Integer.numberOfTrailingZeros(segmentSize);
    }

    /** Every slot's valid header, in LSN order; two slots claiming one segment are corruption. */
    List<Segment> readHeaders(int slotCount) throws IOException {
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
    List<Segment> replaySequence(List<Segment> valid, long promised) {
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
        if (promised > 0 && !tailSeen) {
            // No segment at or past the one holding the promise's last byte: the log would end below bytes a
            // header or the stable-tip file records as on disk (the cleaner never frees that segment).
            throw new CorruptionException(config.logFile(), 0, "the segment holding durable LSN " + (promised - 1)
                    + " (segment LSN " + tailBase + ") is missing, and no later segment follows");
        }
        return sequence;
    }

    /**
     * Scans {@code sequence} (segments in LSN order) from {@code from} up to {@code limit}, delivering
     * messages to {@code sink}.
     *
     * @param promised every byte below it is known to be on disk: a defect there is corruption
     */
    Scan scan(List<Segment> sequence, long from, long limit, long promised, Consumer<LogEntry> sink)
            throws IOException {
        Scan scan = new Scan(sink, promised, limit);
        long expected = from & -segmentSize;
        for (Segment segment : sequence) {
            if (segment.base() + segmentSize <= from) {
                continue;
            }
            if (segment.base() != expected) {
                // The cleaner frees only segments below the snapshot replay starts from. A gap here means
                // replay starts from an older snapshot (the newest is damaged) or from the whole log: the
                // freed segment may have held a batch's seal, so replaying on would drop acknowledged data.
                throw new CorruptionException(config.logFile(), (long) segment.slot() * segmentSize,
                        "segment LSN " + expected + " is missing: it was cleaned, and replay from LSN " + from
                                + " needs it (the snapshot the store recorded last is missing or damaged)");
            }
            expected = segment.base() + segmentSize;
            int start = (int) Math.max(LogFormat.SEGMENT_HEADER_LENGTH, from - segment.base());
            if (!scan.segment(segment, start)) {
                break;
            }
        }
        scan.finish(from);
        return scan;
    }

    /** One scan's state: the batch hold-back, and where and why it ended. */
    final class Scan {
        private final Consumer<LogEntry> sink;
        private final long promised;
        private final long limit;
        /**
         * The bytes of the segment being scanned from {@code bufBase} on (index 0 is that position in the
         * segment): as large as the largest read so far, never a whole segment for a scan that starts near a
         * segment's end (an 8 MiB array per clean open was a tenth of its time).
         */
        private ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(0));
        private int bufBase;
        private final LogFormat.MessageHeader header = new LogFormat.MessageHeader();
        /** Manifest LSN → the segment it is in, for batches without a seal yet. */
        private final TreeMap<Long, Segment> openBatches = new TreeMap<>();
        /**
         * Messages since the manifest that opened a batch while none was open, held until no batch is open:
         * a batch sealed after another batch's manifest stands or falls with that batch (its seal is among
         * what a cut at that manifest drops), so a cut must come before every batch of the stretch.
         */
        private final List<LogEntry> held = new ArrayList<>();
        /**
         * Blob messages whose blob is missing, reported to a {@link LogReplay} when the scan ends if they lie
         * below where it ended (one in a dropped batch is dropped with it).
         */
        private final List<Map.Entry<LogEntry, java.nio.file.Path>> missingBlobs = new ArrayList<>();
        /** The manifest that started the held stretch, its segment, and the batches it has opened. */
        private long stretchStart;
        private Segment stretchSegment;
        private int stretchBatches;
        /** Every message below it was delivered (or skipped as canceled); the scan ended there. */
        long tip;
        Segment tipSegment;
        long messages;
        long bytesScanned;
        String end = "clean end";
        boolean torn;
        int droppedBatches;

        private Scan(Consumer<LogEntry> sink, long promised, long limit) {
            this.sink = sink;
            this.promised = promised;
            this.limit = limit;
        }

        /** Scans one segment from {@code start}; returns whether the log continues after it. */
        private boolean segment(Segment segment, int start) throws IOException {
            long slotOffset = (long) segment.slot() * segmentSize;
            // Bytes below the scan's limit and below the promised tip are there to be read: a snapshot's scan
            // reads up to its limit at once; recovery past its promise reads a little first.
            int firstEnd = (int) Math.min(segmentSize,
                    Math.max(start + (long) FIRST_READ, Math.min(limit, promised) - segment.base()));
            bufBase = start;
            int n = read(slotOffset, start, firstEnd);
            boolean whole = firstEnd == segmentSize || n < firstEnd; // read to the slot's end, or the file's
            long segmentNumber = segment.base() >>> segmentShift;
            int pos = start;
            while (segmentSize - pos >= LogFormat.RED_ZONE) {
                long lsn = segment.base() + pos;
                if (lsn >= limit) {
                    tip = limit;
                    tipSegment = segment;
                    return false;
                }
                // The file may end inside a slot that was never written to its end: that is zeroed space.
                LogFormat.Defect defect = pos >= n ? LogFormat.Defect.ZEROED
                        : LogFormat.readMessage(buf, pos - bufBase, n - bufBase, segmentNumber, header);
                if (!whole && (pos >= n || defect == LogFormat.Defect.BAD_HEADER
                        || defect == LogFormat.Defect.TOO_LONG)) {
                    // The message may go on past what was read: read the rest of the segment and look again.
                    // Every other verdict rests on bytes the message covers, which were read.
                    n = read(slotOffset, n, segmentSize);
                    whole = true;
                    continue;
                }
                if (defect != null) {
                    if (lsn < promised) {
                        throw new CorruptionException(config.logFile(), (long) segment.slot() * segmentSize + pos,
                                "message at LSN " + lsn + " is " + defect + ", but segment headers record the log as "
                                        + "durable up to LSN " + promised);
                    }
                    tip = lsn;
                    tipSegment = segment;
                    if (lsn == promised && defect != LogFormat.Defect.ZEROED) {
                        // The log ends exactly at its durable promise (a clean close records it): nothing was
                        // written past it, so these bytes are left over from an earlier life of a reused slot.
                        end = "end at the promised durable tip (stale bytes past it: " + defect + ")";
                    } else if (defect != LogFormat.Defect.ZEROED) {
                        torn = true;
                        end = "torn message at LSN " + lsn + " (" + defect + ")";
                    }
                    return false;
                }
                if (header.kind == MessageKind.CAP) {
                    break;
                }
                if (header.kind.isBlob() && !blobs.exists(buf.getLong(pos - bufBase + header.headerLength))) {
                    if (lsn >= promised) {
                        // The pointer landed but the blob's directory entry did not: a torn tail.
                        tip = lsn;
                        tipSegment = segment;
                        torn = true;
                        end = "blob of the message at LSN " + lsn + " is missing (written, never made durable)";
                        return false;
                    }
                    // Below the promised tip a missing blob was deleted after its page was replaced by a
                    // durable later version: skip it. Recovery checks that such a version follows.
                    if (sink instanceof LogReplay) {
                        long blobId = buf.getLong(pos - bufBase + header.headerLength);
                        missingBlobs.add(Map.entry(new LogEntry(header.kind, header.pid, lsn,
                                (long) segment.slot() * segmentSize + pos, header.totalLength()), blobs.path(blobId)));
                    }
                } else {
                    accept(segment, lsn, (long) segment.slot() * segmentSize + pos, header.kind, header.pid,
                            pos - bufBase + header.headerLength);
                }
                pos += header.totalLength();
            }
            tip = Math.min(segment.base() + segmentSize, limit);
            tipSegment = segment;
            return tip < limit;
        }

        /**
         * Reads bytes {@code from} to {@code to} of a segment into {@link #buf} (at {@code from - bufBase}),
         * keeping what it holds below {@code from}; returns the position in the segment after the last byte read.
         */
        private int read(long slotOffset, int from, int to) throws IOException {
            if (to - bufBase > buf.capacity()) {
                // Past the first read, as large as a segment at once: a scan over whole segments (a snapshot's)
                // then allocates once, not once per segment that starts lower than the one before.
                int capacity = to - bufBase <= FIRST_READ ? Math.min(FIRST_READ, segmentSize) : segmentSize;
                ByteBuffer larger = LogFormat.le(ByteBuffer.allocate(capacity));
                larger.put(0, buf, 0, from - bufBase);
                buf = larger;
            }
            buf.limit(to - bufBase).position(from - bufBase);
            int n = file.read(buf, slotOffset + from);
            bytesScanned += n;
            return from + n;
        }

        /** {@code bodyAt}: where the message's body starts in {@link #buf}. */
        private void accept(Segment segment, long lsn, long pointer, MessageKind kind, long pid, int bodyAt) {
            switch (kind) {
                case CANCELED -> { }
                case BATCH_MANIFEST -> {
                    if (openBatches.isEmpty()) {
                        stretchStart = lsn;
                        stretchSegment = segment;
                        stretchBatches = 0;
                    }
                    openBatches.put(lsn, segment);
                    stretchBatches++;
                }
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

        private void finish(long from) {
            if (tipSegment == null) {
                tip = Math.max(tip, from);
            }
            if (!openBatches.isEmpty()) {
                // Cut before the first batch of the held stretch, not at the first batch still open: a batch
                // opened earlier and sealed after that manifest loses its seal with the cut, and a manifest
                // left below the end without its seal would hold every later life's stable tip back.
                droppedBatches = stretchBatches;
                tip = stretchStart;
                tipSegment = stretchSegment;
                end = "unsealed atomic batch at LSN " + openBatches.firstKey() + " dropped with " + held.size()
                        + " messages" + (stretchBatches > 1 ? ", and the " + (stretchBatches - 1)
                        + " batches that stand or fall with it, from LSN " + stretchStart : " after it");
                held.clear();
            }
            if (sink instanceof LogReplay replay) {
                for (Map.Entry<LogEntry, java.nio.file.Path> missing : missingBlobs) {
                    if (missing.getKey().lsn() < tip) {
                        replay.missingBlob(missing.getKey(), missing.getValue());
                    }
                }
            }
        }
    }
}
