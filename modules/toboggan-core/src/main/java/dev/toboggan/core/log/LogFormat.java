package dev.toboggan.core.log;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * Every byte layout of the log, in one place: segment headers, message headers, caps and blob files.
 * {@code docs/format.md} describes the same layouts; change both together.
 *
 * <h2>The log file ({@code log})</h2>
 * An array of fixed-size segment slots (segment size S, a power of two). A segment with base LSN L
 * sits in some slot s: LSN {@code L + i} lives at file offset {@code s*S + i}. LSNs are logical byte
 * positions in an infinite log; slots are reused once the cleaner frees them.
 *
 * <pre>
 * segment slot (S bytes)
 * +----------------+---------+---------+-----+---------+-------------------------------+
 * | segment header | message | message | ... | CAP msg | zeros (to the end of the slot) |
 * +----------------+---------+---------+-----+---------+-------------------------------+
 *   24 bytes         no message starts in the last 32 bytes (the red zone)
 *
 *   With durability = fsync the flusher zero-fills the file ahead of its writes ({@link LogFlusher#ZERO_FILL_AHEAD},
 *   never past the slot's end), so the zeros after the last message may run past the bytes written: they are
 *   never-written space like any other (no valid message, no valid header), the log's end to recovery.
 *
 * segment header (24 bytes, little-endian)
 *  0        4        8                    16                   24
 *  +--------+--------+--------------------+--------------------+
 *  | crc32c | magic  | base LSN ^ MASK    | stable tip ^ MASK  |
 *  +--------+--------+--------------------+--------------------+
 *  crc32c = CRC32C(bytes 4..24) ^ 0xFFFFFFFF; magic = "TBGS"; MASK = 0x7FFF_FFFF_FFFF_FFFF,
 *  so an all-zero header never decodes as valid. The stable tip is the log's durable tip when
 *  this segment was opened: every byte below it was on disk before this header was written.
 *
 * message (header of 7..32 bytes, then the body)
 *  0        4      5             .              .              .
 *  +--------+------+-------------+--------------+--------------+------------------+
 *  | crc32c | kind | body length | segment no.  | page id      | body             |
 *  +--------+------+-------------+--------------+--------------+------------------+
 *                    varint        varint         varint
 *  crc32c = CRC32C(bytes 4 .. end of body) ^ 0xFFFFFFFF.
 *  segment no. = LSN / S of the message: it tells a message from stale bytes of the slot's
 *  previous life.
 *  A message is complete when its kind is known (not 0), its body fits in the segment, its
 *  segment number matches and its CRC matches; anything else ends the log there (torn tail).
 * </pre>
 *
 * A blob message's body is the 8-byte id of its blob file. A {@link MessageKind#CAP} has an empty
 * body and means "the rest of this segment is padding". A segment sealed with fewer than 32 bytes
 * left is zero-filled instead.
 *
 * <h2>Varints</h2>
 * SQLite4's unsigned varint: v &le; 240 in 1 byte; v &le; 2287 as {@code 241 + (v-240)/256, (v-240)%256};
 * v &le; 67823 as {@code 249, (v-2288)/256, (v-2288)%256}; otherwise a lead byte 250..255 followed by
 * 3..8 little-endian bytes.
 *
 * <h2>Blob files ({@code blobs/<16 hex digits of the blob id>})</h2>
 * <pre>
 *  0        4      5
 *  +--------+------+------------------------+
 *  | crc32c | kind | payload                |
 *  +--------+------+------------------------+
 *  crc32c = CRC32C(bytes 4 .. end of file) ^ 0xFFFFFFFF
 * </pre>
 * The blob id is the LSN of the message that created the blob.
 *
 * <p>Bodies (inline or in blobs) are zstd frames when the store was created with compression on;
 * manifests, seals and caps are never compressed.
 */
public final class LogFormat {

    /** Bytes of a segment header. */
    public static final int SEGMENT_HEADER_LENGTH = 24;
    /** The longest possible message header: crc, kind and three 9-byte varints. */
    public static final int MAX_MESSAGE_HEADER_LENGTH = 32;
    /** No message may start within this many bytes of a segment's end. */
    public static final int RED_ZONE = MAX_MESSAGE_HEADER_LENGTH;
    /** Segments hold at least this many maximal inline messages; larger ones become blobs. */
    public static final int MINIMUM_ITEMS_PER_SEGMENT = 4;
    /** The magic word of a segment header, "TBGS" little-endian. */
    public static final int SEGMENT_MAGIC = 'T' | 'B' << 8 | 'G' << 16 | 'S' << 24;
    /** Masks LSNs in segment headers so that zeroed space never decodes as a valid header. */
    public static final long LSN_MASK = 0x7FFF_FFFF_FFFF_FFFFL;
    /** Page id written in messages that belong to no page (caps, batch manifests and seals). */
    public static final long NO_PAGE = 0xFFFF_FFFF_FFFF_FD65L;
    /** Length of the blob id in a blob message's body, and of a seal's manifest LSN. */
    public static final int LONG_BODY_LENGTH = 8;
    /** Bytes before a blob file's payload. */
    public static final int BLOB_HEADER_LENGTH = 5;
    /** Offset of the kind byte in a message and in a blob file. */
    public static final int KIND_OFFSET = 4;

    private static final int CRC_INVERT = 0xFFFF_FFFF;

    private LogFormat() {}

    /** A little-endian view of a buffer, as every layout here is little-endian. */
    public static ByteBuffer le(ByteBuffer buffer) {
        return buffer.order(ByteOrder.LITTLE_ENDIAN);
    }

    // ---------------------------------------------------------------- segment headers

    /** Writes a segment header at {@code at}. */
    public static void writeSegmentHeader(ByteBuffer buf, int at, long baseLsn, long stableTip) {
        buf.putInt(at + 4, SEGMENT_MAGIC);
        buf.putLong(at + 8, baseLsn ^ LSN_MASK);
        buf.putLong(at + 16, stableTip ^ LSN_MASK);
        buf.putInt(at, crc(buf, at + 4, at + SEGMENT_HEADER_LENGTH));
    }

    /**
     * Decodes a segment header.
     *
     * @return the header, or {@code null} if those bytes are not a valid header for this segment size
     */
    public static SegmentHeader readSegmentHeader(ByteBuffer buf, int at, int segmentSize) {
        if (buf.limit() - at < SEGMENT_HEADER_LENGTH) {
            return null;
        }
        if (buf.getInt(at + 4) != SEGMENT_MAGIC || buf.getInt(at) != crc(buf, at + 4, at + SEGMENT_HEADER_LENGTH)) {
            return null;
        }
        long base = buf.getLong(at + 8) ^ LSN_MASK;
        long stableTip = buf.getLong(at + 16) ^ LSN_MASK;
        if (base < 0 || (base & (segmentSize - 1)) != 0 || stableTip < 0 || stableTip > base) {
            return null;
        }
        return new SegmentHeader(base, stableTip);
    }

    /** A decoded segment header. */
    public record SegmentHeader(long baseLsn, long stableTip) {}

    // ---------------------------------------------------------------- message headers

    /** The header length of a message with these fields. */
    public static int messageHeaderLength(int bodyLength, long segmentNumber, long pid) {
        return 5 + varintLength(bodyLength) + varintLength(segmentNumber) + varintLength(pid);
    }

    /**
     * Writes a message header (all but the CRC, which {@link #sealMessage} writes once the kind is
     * final) at {@code at}.
     *
     * @return the header length
     */
    public static int writeMessageHeader(ByteBuffer buf, int at, MessageKind kind, int bodyLength, long segmentNumber,
            long pid) {
        buf.put(at + KIND_OFFSET, kind.code());
        int p = at + 5;
        p += writeVarint(buf, p, bodyLength);
        p += writeVarint(buf, p, segmentNumber);
        p += writeVarint(buf, p, pid);
        return p - at;
    }

    /** Writes the CRC of the complete message of {@code totalLength} bytes at {@code at}. */
    public static void sealMessage(ByteBuffer buf, int at, int totalLength) {
        buf.putInt(at, crc(buf, at + 4, at + totalLength));
    }

    /** Why bytes failed to decode as a message. */
    public enum Defect {
        /** Kind byte 0: zeroed (never written) space. */
        ZEROED,
        /** A kind byte no version of the format wrote. */
        UNKNOWN_KIND,
        /** The header's varints run past the end of the segment or are malformed. */
        BAD_HEADER,
        /** The body would run past the end of the segment. */
        TOO_LONG,
        /** The segment number is not the one of this position: stale bytes of an earlier life of the slot. */
        WRONG_SEGMENT,
        /** The checksum does not match. */
        BAD_CRC
    }

    /**
     * Decodes the message starting at {@code at}, where the segment ends at {@code end} (exclusive).
     *
     * @param into receives the decoded fields when the message is complete
     * @return {@code null} if the message is complete, else what is wrong with it
     */
    public static Defect readMessage(ByteBuffer buf, int at, int end, long expectedSegment, MessageHeader into) {
        if (end - at < 7) {
            return Defect.BAD_HEADER;
        }
        byte code = buf.get(at + KIND_OFFSET);
        if (code == 0) {
            return Defect.ZEROED;
        }
        MessageKind kind = MessageKind.ofCode(code);
        if (kind == null) {
            return Defect.UNKNOWN_KIND;
        }
        int p = at + 5;
        long len = readVarint(buf, p, end);
        if (len < 0) {
            return Defect.BAD_HEADER;
        }
        p += varintLength(len);
        long segment = readVarint(buf, p, end);
        if (segment < 0) {
            return Defect.BAD_HEADER;
        }
        p += varintLength(segment);
        long pid = readVarint(buf, p, end);
        if (pid == -1) {
            return Defect.BAD_HEADER;
        }
        p += varintLength(pid);
        if (len > end - p) {
            return Defect.TOO_LONG;
        }
        if (segment != expectedSegment) {
            return Defect.WRONG_SEGMENT;
        }
        int total = (p - at) + (int) len;
        if (buf.getInt(at) != crc(buf, at + 4, at + total)) {
            return Defect.BAD_CRC;
        }
        into.kind = kind;
        into.pid = pid;
        into.headerLength = p - at;
        into.bodyLength = (int) len;
        return null;
    }

    /**
     * The total length a message header at {@code at} announces, without checking the message; -1 if
     * the header itself cannot be parsed from the bytes before {@code end}.
     */
    public static int peekMessageLength(ByteBuffer buf, int at, int end) {
        int p = at + 5;
        long len = readVarint(buf, p, end);
        if (len < 0 || len > Integer.MAX_VALUE) {
            return -1;
        }
        p += varintLength(len);
        long segment = readVarint(buf, p, end);
        if (segment < 0) {
            return -1;
        }
        p += varintLength(segment);
        long pid = readVarint(buf, p, end);
        if (pid == -1) {
            return -1;
        }
        p += varintLength(pid);
        long total = (p - at) + len;
        return total > Integer.MAX_VALUE ? -1 : (int) total;
    }

    /** The decoded fields of one message header; reused across messages by scanners. */
    public static final class MessageHeader {
        public MessageKind kind;
        public long pid;
        public int headerLength;
        public int bodyLength;

        public int totalLength() {
            return headerLength + bodyLength;
        }
    }

    // ---------------------------------------------------------------- blobs

    /** Whether a message of this body length must go to a blob file in segments of this size. */
    public static boolean needsBlob(int bodyLength, int segmentSize) {
        return (long) MAX_MESSAGE_HEADER_LENGTH + bodyLength
                > segmentSize / MINIMUM_ITEMS_PER_SEGMENT - SEGMENT_HEADER_LENGTH;
    }

    /** The file name of a blob. */
    public static String blobFileName(long blobId) {
        return String.format("%016x", blobId);
    }

    /** The blob id of a blob file name, or -1 if the name is not a blob's. */
    public static long blobIdOf(String fileName) {
        if (fileName.length() != 16) {
            return -1;
        }
        try {
            return Long.parseUnsignedLong(fileName, 16);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Builds a blob file's bytes: header and payload. */
    public static ByteBuffer encodeBlob(MessageKind kind, byte[] payload, int off, int len) {
        ByteBuffer buf = le(ByteBuffer.allocate(BLOB_HEADER_LENGTH + len));
        buf.put(KIND_OFFSET, kind.code());
        buf.put(BLOB_HEADER_LENGTH, payload, off, len);
        buf.putInt(0, crc(buf, 4, buf.capacity()));
        return buf;
    }

    /** Whether a blob file's bytes are whole and of this kind. */
    public static boolean isValidBlob(ByteBuffer buf, MessageKind expectedKind) {
        return buf.limit() >= BLOB_HEADER_LENGTH
                && buf.get(KIND_OFFSET) == expectedKind.code()
                && buf.getInt(0) == crc(buf, 4, buf.limit());
    }

    // ---------------------------------------------------------------- varints and checksums

    /** Bytes of the SQLite4 varint of an unsigned value. */
    public static int varintLength(long v) {
        if (Long.compareUnsigned(v, 240) <= 0) {
            return 1;
        } else if (Long.compareUnsigned(v, 2287) <= 0) {
            return 2;
        } else if (Long.compareUnsigned(v, 67823) <= 0) {
            return 3;
        }
        int significant = 8 - Long.numberOfLeadingZeros(v) / 8;
        return 1 + Math.max(3, significant);
    }

    /** Writes a varint at {@code at}; returns its length. */
    public static int writeVarint(ByteBuffer buf, int at, long v) {
        if (Long.compareUnsigned(v, 240) <= 0) {
            buf.put(at, (byte) v);
            return 1;
        } else if (Long.compareUnsigned(v, 2287) <= 0) {
            buf.put(at, (byte) (241 + (v - 240) / 256));
            buf.put(at + 1, (byte) ((v - 240) % 256));
            return 2;
        } else if (Long.compareUnsigned(v, 67823) <= 0) {
            buf.put(at, (byte) 249);
            buf.put(at + 1, (byte) ((v - 2288) / 256));
            buf.put(at + 2, (byte) ((v - 2288) % 256));
            return 3;
        }
        int n = varintLength(v) - 1;
        buf.put(at, (byte) (250 + n - 3));
        for (int i = 0; i < n; i++) {
            buf.put(at + 1 + i, (byte) (v >>> (8 * i)));
        }
        return n + 1;
    }

    /**
     * Reads a varint at {@code at} that must end before {@code end}.
     *
     * @return the value, or -1 if it runs past {@code end} (a value of 2^64-1 also reads as -1: callers
     *     that accept it check the lead byte)
     */
    public static long readVarint(ByteBuffer buf, int at, int end) {
        if (at >= end) {
            return -1;
        }
        int lead = buf.get(at) & 0xFF;
        if (lead <= 240) {
            return lead;
        } else if (lead <= 248) {
            if (at + 2 > end) {
                return -1;
            }
            return 240 + 256L * (lead - 241) + (buf.get(at + 1) & 0xFF);
        } else if (lead == 249) {
            if (at + 3 > end) {
                return -1;
            }
            return 2288 + 256L * (buf.get(at + 1) & 0xFF) + (buf.get(at + 2) & 0xFF);
        }
        int n = lead - 250 + 3;
        if (at + 1 + n > end) {
            return -1;
        }
        long v = 0;
        for (int i = 0; i < n; i++) {
            v |= (long) (buf.get(at + 1 + i) & 0xFF) << (8 * i);
        }
        return v;
    }

    /**
     * CRC32C of {@code buf[from, to)}, inverted, without touching the buffer's position or limit. Every
     * message a writer completes is sealed here, in an IO buffer's direct memory that other writers fill at
     * the same time, so the buffer's own position and limit are off limits: a message of up to
     * {@link CrcScratch#BYTES} bytes is copied (an absolute bulk get) into the thread's scratch array and
     * summed there, where a view of the buffer per message cost an allocation of a {@code DirectByteBuffer}
     * and a {@code CRC32C} (3 % of a loading writer's CPU samples). The scratch holds no reference to any
     * buffer, so it keeps no closed store's memory alive.
     */
    public static int crc(ByteBuffer buf, int from, int to) {
        CrcScratch scratch = CrcScratch.LOCAL.get();
        CRC32C crc = scratch.crc;
        crc.reset();
        int length = to - from;
        if (buf.hasArray()) {
            crc.update(buf.array(), buf.arrayOffset() + from, length);
        } else if (length <= CrcScratch.BYTES) {
            buf.get(from, scratch.bytes, 0, length);
            crc.update(scratch.bytes, 0, length);
        } else {
            crc.update(buf.duplicate().limit(to).position(from));
        }
        return (int) crc.getValue() ^ CRC_INVERT;
    }

    /** A thread's {@link CRC32C} and the bytes {@link #crc} copies a message of a direct buffer into. */
    private static final class CrcScratch {
        static final int BYTES = 4096;
        static final ThreadLocal<CrcScratch> LOCAL = ThreadLocal.withInitial(CrcScratch::new);
        final CRC32C crc = new CRC32C();
        final byte[] bytes = new byte[BYTES];
    }
}
