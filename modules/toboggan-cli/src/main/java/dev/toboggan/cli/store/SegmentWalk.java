package dev.toboggan.cli.store;

import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.log.LogFormat;
import dev.toboggan.core.log.MessageKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads every slot of a log file and every message in it, checking each message's checksum with
 * {@link LogFormat} (the one class that knows the layout): what {@code inspect} lists and what
 * {@code verify} checks beyond the pages recovery and the page table reach (old versions, and segments
 * recovery did not need to replay).
 *
 * <p>Meant for a log after recovery (through {@link ReadOnlyStorage}): recovery has zeroed every slot that
 * is not part of the log and everything past the log's end, so every byte that is not zero must decode.
 */
public final class SegmentWalk {
    private SegmentWalk() {}

    /**
     * A slot of the log file.
     *
     * @param slot the slot's number (its file offset / segment size)
     * @param baseLsn the LSN of the segment's first byte, or -1 for a slot holding no segment
     * @param promisedStableTip the stable tip the segment's header records, or -1
     * @param messages complete messages in it (caps included)
     * @param usedBytes bytes up to the end of its last message (or to the first defect)
     */
    public record Segment(int slot, long baseLsn, long promisedStableTip, int messages, long usedBytes) {}

    /** The walk's result. */
    public record Result(List<Segment> segments, List<StoreReader.Defect> defects) {}

    static Result walk(StorageFile file, Path name, int segmentSize) throws IOException {
        List<Segment> segments = new ArrayList<>();
        List<StoreReader.Defect> defects = new ArrayList<>();
        long size = file.size();
        int slots = (int) ((size + segmentSize - 1) / segmentSize);
        ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(segmentSize));
        LogFormat.MessageHeader header = new LogFormat.MessageHeader();
        int segmentShift = Integer.numberOfTrailingZeros(segmentSize);
        for (int slot = 0; slot < slots; slot++) {
            long slotOffset = (long) slot * segmentSize;
            buf.clear();
            int n = file.read(buf, slotOffset);
            LogFormat.SegmentHeader h = n >= LogFormat.SEGMENT_HEADER_LENGTH
                    ? LogFormat.readSegmentHeader(buf, 0, segmentSize) : null;
            if (h == null) {
                int nonZero = firstNonZero(buf, 0, n);
                if (nonZero >= 0) {
                    defects.add(new StoreReader.Defect(name, slotOffset + nonZero, "slot " + slot
                            + " has no valid segment header but holds data (a damaged header, or bytes recovery "
                            + "should have zeroed)"));
                }
                segments.add(new Segment(slot, -1, -1, 0, 0));
                continue;
            }
            int pos = LogFormat.SEGMENT_HEADER_LENGTH;
            int messages = 0;
            long segmentNumber = h.baseLsn() >>> segmentShift;
            while (segmentSize - pos >= LogFormat.RED_ZONE) {
                LogFormat.Defect defect = pos >= n ? LogFormat.Defect.ZEROED
                        : LogFormat.readMessage(buf, pos, n, segmentNumber, header);
                if (defect == LogFormat.Defect.ZEROED) {
                    int nonZero = firstNonZero(buf, pos, n);
                    if (nonZero >= 0) {
                        defects.add(new StoreReader.Defect(name, slotOffset + nonZero, "non-zero byte after the last message of "
                                + "segment LSN " + h.baseLsn() + " (slot " + slot + ")"));
                    }
                    break;
                }
                if (defect != null) {
                    defects.add(new StoreReader.Defect(name, slotOffset + pos, "message at LSN " + (h.baseLsn() + pos) + " is "
                            + defect));
                    // Only a bad checksum leaves a header to trust for the length: go on after the message.
                    int length = defect == LogFormat.Defect.BAD_CRC ? LogFormat.peekMessageLength(buf, pos, n) : -1;
                    if (length <= 0) {
                        break;
                    }
                    pos += length;
                    continue;
                }
                messages++;
                pos += header.totalLength();
                if (header.kind == MessageKind.CAP) {
                    break;
                }
            }
            segments.add(new Segment(slot, h.baseLsn(), h.stableTip(), messages, pos));
        }
        return new Result(segments, defects);
    }

    private static int firstNonZero(ByteBuffer buf, int from, int to) {
        for (int i = from; i < to; i++) {
            if (buf.get(i) != 0) {
                return i;
            }
        }
        return -1;
    }
}
