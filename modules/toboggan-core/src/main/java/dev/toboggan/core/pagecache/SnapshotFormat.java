package dev.toboggan.core.pagecache;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.log.LogFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * The layout of a snapshot file, {@code snapshot.<16 hex digits of its LSN>}: the page table's on-disk
 * state (per page: its fragments' locations, or free) as of an LSN. Recovery loads it and replays the
 * log from that LSN on. It holds locations only, no data, so deleting every snapshot is safe as long as
 * the segment cleaner has freed no segment (the next open replays the whole log); after, recovery needs
 * the newest one, and says so if it is gone.
 *
 * <pre>
 * header (32 bytes, little-endian)
 *  0        4        8        12       16                 24                 32
 *  +--------+--------+--------+--------+------------------+------------------+
 *  | crc32c | magic  | version| 0      | LSN              | page ids         |
 *  +--------+--------+--------+--------+------------------+------------------+
 *  crc32c = CRC32C(bytes 4..32) ^ 0xFFFFFFFF; magic = "TBSN"; LSN: replay continues there;
 *  page ids: one past the highest page id the log had named below LSN.
 *
 * then one record per page that has a version, in increasing page id order (varints, see LogFormat)
 *  +----------+-------+----------------------------+-----+
 *  | pid gap  | count | lsn | pointer | length     | ... |   count triples; a free page: count 0
 *  +----------+-------+----------------------------+-----+   and one triple (its free record)
 *  pid gap = pid - previous record's pid (the first record's previous pid is -1), so never 0
 *
 * then the trailer
 *  +----------+----------------+--------+
 *  | 0        | records (8)    | crc32c |   crc32c = CRC32C(every byte before it) ^ 0xFFFFFFFF
 *  +----------+----------------+--------+
 * </pre>
 *
 * A snapshot is complete when its header checks out, its records decode, the record count matches,
 * and the file ends exactly after a matching final CRC. Anything else is a damaged snapshot: recovery
 * falls back to an older one, or to replaying the whole log.
 *
 * <p>Written and read in a single pass through a small buffer, in page id order, so a table of any size
 * needs no array of one entry per page.
 */
public final class SnapshotFormat {
    /** Bytes of the header. */
    public static final int HEADER_LENGTH = 32;
    /** The magic word, "TBSN" little-endian. */
    public static final int MAGIC = 'T' | 'B' << 8 | 'S' << 16 | 'N' << 24;
    /** The layout version this code writes and reads. */
    public static final int VERSION = 1;
    /** Bytes of the trailer after its leading 0 (the record count and the CRC). */
    public static final int TRAILER_LENGTH = 12;
    /** The file name prefix; the suffix is the LSN in 16 lowercase hex digits. */
    public static final String PREFIX = "snapshot.";
    /** The suffix of a snapshot being written; such a file is never read, and deleted at open. */
    public static final String TEMP_SUFFIX = ".tmp";
    /** A page with more fragments than this is taken for damage rather than allocated. */
    static final int MAX_FRAGMENTS = 1 << 16;

    private static final int BUFFER = 1 << 16;
    /** The most bytes one varint takes. */
    private static final int VARINT_MAX = 9;
    private static final int CRC_INVERT = 0xFFFF_FFFF;

    private SnapshotFormat() {}

    /** The file name of the snapshot as of {@code lsn}. */
    public static String fileName(long lsn) {
        return PREFIX + HexFormat.of().toHexDigits(lsn);
    }

    /** The LSN in a complete snapshot's file name, or -1 if {@code name} is not one. */
    public static long lsnOf(String name) {
        if (!name.startsWith(PREFIX) || name.length() != PREFIX.length() + 16) {
            return -1;
        }
        String hex = name.substring(PREFIX.length());
        if (!hex.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return -1;
        }
        long lsn = HexFormat.fromHexDigitsToLong(hex);
        return lsn < 0 ? -1 : lsn;
    }

    /** Writes a snapshot through a small buffer: {@link #page} in increasing pid order, then {@link #finish}. */
    static final class Writer {
        private final StorageFile file;
        private final ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(BUFFER));
        private final CRC32C crc = new CRC32C();
        private long position;
        private long previousPid = -1;
        private long records;

        Writer(StorageFile file, long lsn, long pageIds) {
            this.file = file;
            buf.putInt(4, MAGIC);
            buf.putInt(8, VERSION);
            buf.putInt(12, 0);
            buf.putLong(16, lsn);
            buf.putLong(24, pageIds);
            buf.putInt(0, LogFormat.crc(buf, 4, HEADER_LENGTH));
            buf.position(HEADER_LENGTH);
        }

        /**
         * Appends a page's record: its entry (a {@link Page} or a paged-out locations array); pages must
         * come in increasing pid order.
         */
        void page(long pid, Object entry) throws IOException {
            if (pid <= previousPid) {
                throw new IllegalArgumentException("page " + pid + " after page " + previousPid);
            }
            long[] locations = Page.locationsOf(entry);
            put(pid - previousPid);
            put(Page.isFree(entry) ? 0 : Page.fragmentCount(locations));
            for (int i = 0; i < locations.length - 1; i++) { // the trailing ts is not stored: it restarts at 0
                put(locations[i]);
            }
            previousPid = pid;
            records++;
        }

        /** Writes the trailer and everything still buffered; returns the file's length. */
        long finish() throws IOException {
            ensure(1 + TRAILER_LENGTH);
            put(0);
            buf.putLong(records);
            drain();
            buf.putInt((int) crc.getValue() ^ CRC_INVERT);
            buf.flip();
            file.write(buf, position);
            return position + Integer.BYTES;
        }

        private void put(long value) throws IOException {
            ensure(VARINT_MAX);
            buf.position(buf.position() + LogFormat.writeVarint(buf, buf.position(), value));
        }

        private void ensure(int bytes) throws IOException {
            if (buf.remaining() < bytes) {
                drain();
            }
        }

        private void drain() throws IOException {
            buf.flip();
            crc.update(buf.duplicate());
            int length = buf.remaining();
            file.write(buf, position);
            position += length;
            buf.clear();
        }
    }

    /**
     * Reads a snapshot through a small buffer. A damaged file throws {@link CorruptionException} naming
     * where; nothing read may be trusted before {@link #next()} has returned {@code null} (the CRC is
     * checked then).
     */
    static final class Reader {
        private final StorageFile file;
        private final Path path;
        private final long size;
        private final ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(BUFFER));
        private final CRC32C crc = new CRC32C();
        /** File offset of {@code buf}'s first byte. */
        private long bufferAt;
        /** File offset up to which bytes were read into {@code buf} (and, below the final CRC, checksummed). */
        private long readTo;
        private final long lsn;
        private final long pageIds;
        private long previousPid = -1;
        private long records;

        Reader(StorageFile file) throws IOException {
            this.file = file;
            this.path = file.path();
            this.size = file.size();
            if (size < HEADER_LENGTH + 1 + TRAILER_LENGTH) {
                throw corrupt(0, "only " + size + " bytes long");
            }
            buf.limit(0);
            fill();
            if (buf.getInt(4) != MAGIC || buf.getInt(0) != LogFormat.crc(buf, 4, HEADER_LENGTH)) {
                throw corrupt(0, "header damaged (magic or CRC does not match)");
            }
            if (buf.getInt(8) != VERSION) {
                throw corrupt(8, "version " + buf.getInt(8) + "; this Toboggan reads version " + VERSION);
            }
            lsn = buf.getLong(16);
            pageIds = buf.getLong(24);
            if (lsn < 0 || pageIds < 0 || pageIds > PageTable.CAPACITY) {
                throw corrupt(16, "impossible LSN " + lsn + " or page id count " + pageIds);
            }
            buf.position(HEADER_LENGTH);
        }

        /** The LSN the snapshot is as of: replay continues there. */
        long lsn() {
            return lsn;
        }

        /** One past the highest page id the log had named below {@link #lsn()}. */
        long pageIds() {
            return pageIds;
        }

        /**
         * The next page's entry, at version 0: a paged-out locations array, or a free {@link Page};
         * {@code null} after the last one, once the trailer and the CRC have checked out. Its page id is
         * {@link #pid()}.
         */
        Object next() throws IOException {
            long gap = get();
            if (gap == 0) {
                finish();
                return null;
            }
            long pid = previousPid + gap;
            if (gap < 0 || pid >= pageIds) {
                throw corrupt(here(), "page id " + pid + " is not below the header's " + pageIds);
            }
            long count = get();
            if (count < 0 || count > MAX_FRAGMENTS) {
                throw corrupt(here(), "page " + pid + " has " + count + " fragments");
            }
            // one extra long: the trailing ts (0), so the array is the table's paged-out entry as it is
            long[] fragments = new long[(int) Math.max(1, count) * Page.FRAGMENT_LONGS + 1];
            for (int i = 0; i < fragments.length - 1; i++) {
                fragments[i] = get();
            }
            for (int i = 0; i < fragments.length - 1; i += Page.FRAGMENT_LONGS) {
                if (fragments[i] < 0 || fragments[i] >= lsn || fragments[i + 1] < 0 || fragments[i + 2] <= 0
                        || fragments[i + 2] > Integer.MAX_VALUE) {
                    throw corrupt(here(), "page " + pid + " has an impossible fragment (lsn " + fragments[i]
                            + ", pointer " + fragments[i + 1] + ", length " + fragments[i + 2] + ")");
                }
            }
            previousPid = pid;
            records++;
            return count == 0 ? new Page<>(pid, Page.FREE, fragments, 0) : fragments;
        }

        /** The page id of the entry {@link #next()} returned last. */
        long pid() {
            return previousPid;
        }

        private void finish() throws IOException {
            ensure(TRAILER_LENGTH);
            if (buf.remaining() < TRAILER_LENGTH) {
                throw corrupt(here(), "the trailer is cut off");
            }
            long count = buf.getLong();
            long crcAt = here();
            int stored = buf.getInt();
            if (count != records || crcAt + Integer.BYTES != size) {
                throw corrupt(crcAt, "the trailer counts " + count + " records where " + records + " were read, "
                        + "or the file goes on for " + (size - crcAt - Integer.BYTES) + " bytes after it");
            }
            if (stored != ((int) crc.getValue() ^ CRC_INVERT)) {
                throw corrupt(crcAt, "CRC does not match");
            }
        }

        /** A varint; -1 where a valid one cannot be read (the file ends, or it is 2^64-1). */
        private long get() throws IOException {
            ensure(VARINT_MAX);
            int at = buf.position();
            long value = LogFormat.readVarint(buf, at, buf.limit());
            if (value == -1) {
                throw corrupt(here(), "a number is cut off by the end of the file");
            }
            buf.position(at + LogFormat.varintLength(value));
            return value;
        }

        private void ensure(int bytes) throws IOException {
            if (buf.remaining() < bytes && readTo < size) {
                bufferAt += buf.position();
                buf.compact().flip();
                fill();
            }
        }

        /** Appends file bytes after {@code buf}'s limit; checksums those before the final CRC. */
        private void fill() throws IOException {
            int start = buf.limit();
            buf.position(start).limit(buf.capacity());
            int n = file.read(buf, readTo);
            long crcEnd = size - Integer.BYTES;
            int checksummed = (int) Math.max(0, Math.min(n, crcEnd - readTo));
            crc.update(buf.duplicate().position(start).limit(start + checksummed));
            readTo += n;
            buf.limit(start + n).position(0);
        }

        /** The file offset of the next byte to decode. */
        long here() {
            return bufferAt + buf.position();
        }

        private CorruptionException corrupt(long offset, String what) {
            return new CorruptionException(path, offset, "snapshot " + path.getFileName() + ": " + what);
        }
    }
}
