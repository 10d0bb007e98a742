package dev.toboggan.core.pagecache;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.IncompatibleStoreException;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.log.LogFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.function.LongConsumer;
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
 * then one block per group of 4096 page ids (group g: ids g*4096 .. g*4096+4095) that has a record, in
 * increasing group order; a block is its records, in increasing page id order (varints, see LogFormat),
 *  +----------+-------+----------------------------+-----+
 *  | pid gap  | count | lsn | pointer | length     | ... |   count triples; a free page: count 0
 *  +----------+-------+----------------------------+-----+   and one triple (its free record)
 *  pid gap = pid - previous record's pid (the block's first counts from g*4096 - 1), so never 0
 * then the block's live map: 64 longs (512 bytes), bit i of long j set iff page g*4096 + 64j + i has a
 * record that is not free (every other id of the group below "page ids" is free or was never written)
 *
 * then the index, one 16-byte entry per block, in block order
 *  +----------+----------+--------------------+
 *  | group    | records  | offset of the block|
 *  +----------+----------+--------------------+
 *
 * then the footer (24 bytes), which ends the file
 *  +--------------------+----------+--------------------+--------+
 *  | offset of the index| blocks   | records            | crc32c |
 *  +--------------------+----------+--------------------+--------+
 *  crc32c = CRC32C(every byte before it) ^ 0xFFFFFFFF
 * </pre>
 *
 * <p>An open ({@link Image#open}) reads the header, footer and index, maps the blocks and checks the CRC
 * over the whole file, so a damaged snapshot is found at open (and recovery falls back to an older one),
 * but decodes no record: a block is decoded when one of its pages is first needed ({@link PageTable}). A
 * block whose records do not decode even though the CRC matched (a crafted file, or a bug of the writer)
 * throws {@link CorruptionException} at that first access.
 *
 * <p>Written in one pass through a small buffer, in page id order, so a table of any size needs no array
 * of one entry per page (the writer keeps one index entry per block until the end).
 */
public final class SnapshotFormat {
    /** Bytes of the header. */
    public static final int HEADER_LENGTH = 32;
    /** The magic word, "TBSN" little-endian. */
    public static final int MAGIC = 'T' | 'B' << 8 | 'S' << 16 | 'N' << 24;
    /** The layout version this code writes and reads; version 1 (one record stream, no index) is refused. */
    public static final int VERSION = 2;
    /** Page ids per block: a block's pages are decoded together. */
    public static final int BLOCK_PIDS = 4096;
    static final int BLOCK_BITS = 12;
    /** Bytes of a block's live map: one bit per page id of its group. */
    public static final int LIVE_MAP_LENGTH = BLOCK_PIDS / 8;
    /** Bytes of an index entry. */
    public static final int INDEX_ENTRY_LENGTH = 16;
    /** Bytes of the footer: index offset (8), blocks (4), records (8), CRC (4). */
    public static final int FOOTER_LENGTH = 24;
    /** The file name prefix; the suffix is the LSN in 16 lowercase hex digits. */
    public static final String PREFIX = "snapshot.";
    /** The suffix of a snapshot being written; such a file is never read, and deleted at open. */
    public static final String TEMP_SUFFIX = ".tmp";
    /** A page with more fragments than this is taken for damage rather than allocated. */
    static final int MAX_FRAGMENTS = 1 << 16;
    /** The most bytes of blocks one mapping holds; a larger snapshot is mapped in several regions. */
    static final int MAX_REGION = 1 << 30;

    private static final int BUFFER = 1 << 16;
    private static final int LIVE_MAP_LONGS = BLOCK_PIDS / Long.SIZE;
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

    /** The group (block) a page id belongs to. */
    static int groupOf(long pid) {
        return (int) (pid >>> BLOCK_BITS);
    }

    /** Writes a snapshot through a small buffer: {@link #page} in increasing pid order, then {@link #finish}. */
    static final class Writer {
        private final StorageFile file;
        private final ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(BUFFER));
        private final CRC32C crc = new CRC32C();
        private final long[] liveMap = new long[LIVE_MAP_LONGS];
        /** Index entries so far: (group << 32 | records, offset) pairs. */
        private long[] index = new long[64];
        private int blocks;
        private long position;
        private long previousPid = -1;
        private long records;
        private int group = -1;
        private long blockAt;
        private int blockRecords;

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
            if (groupOf(pid) != group) {
                endBlock();
                group = groupOf(pid);
                blockAt = position + buf.position();
                previousPid = ((long) group << BLOCK_BITS) - 1;
            }
            long[] locations = Page.locationsOf(entry);
            boolean free = Page.isFree(entry);
            put(pid - previousPid);
            put(free ? 0 : Page.fragmentCount(locations));
            for (int i = 0; i < locations.length - 1; i++) { // the trailing ts is not stored: it restarts at 0
                put(locations[i]);
            }
            if (!free) {
                int bit = (int) pid & (BLOCK_PIDS - 1);
                liveMap[bit >>> 6] |= 1L << bit;
            }
            previousPid = pid;
            records++;
            blockRecords++;
        }

        /** Writes the last block's live map, the index, the footer and everything still buffered; returns the file's length. */
        long finish() throws IOException {
            endBlock();
            long indexAt = position + buf.position();
            for (int b = 0; b < blocks; b++) {
                ensure(INDEX_ENTRY_LENGTH);
                buf.putInt((int) (index[2 * b] >>> 32)).putInt((int) index[2 * b]).putLong(index[2 * b + 1]);
            }
            ensure(FOOTER_LENGTH);
            buf.putLong(indexAt).putInt(blocks).putLong(records);
            drain();
            buf.putInt((int) crc.getValue() ^ CRC_INVERT);
            buf.flip();
            file.write(buf, position);
            return position + Integer.BYTES;
        }

        private void endBlock() throws IOException {
            if (group < 0) {
                return;
            }
            ensure(LIVE_MAP_LENGTH);
            for (long word : liveMap) {
                buf.putLong(word);
            }
            Arrays.fill(liveMap, 0);
            if (2 * blocks == index.length) {
                index = Arrays.copyOf(index, index.length * 2);
            }
            index[2 * blocks] = (long) group << 32 | blockRecords;
            index[2 * blocks + 1] = blockAt;
            blocks++;
            blockRecords = 0;
            group = -1;
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

    /** Receives a block's pages as {@link Image#decodeBlock} decodes them, in increasing pid order. */
    interface PageSink {
        void page(long pid, Object entry);
    }

    /**
     * A snapshot whose integrity was checked as a whole (header, index, footer, CRC over every byte) and
     * whose blocks are mapped, not decoded. Immutable: any thread may decode any block, any number of
     * times; each call builds new entries.
     */
    static final class Image {
        private final Path path;
        private final long lsn;
        private final long pageIds;
        private final long records;
        /** Per block, in block (and group) order: its group, its records, where it starts and ends. */
        private final int[] groups;
        private final int[] blockRecords;
        private final long[] blockStart;
        private final long[] blockEnd;
        /** Per block, the mapping that holds it whole, and that mapping's file offset. */
        private final int[] blockRegion;
        private final ByteBuffer[] regions;
        private final long[] regionStart;

        private Image(Path path, long lsn, long pageIds, long records, int[] groups, int[] blockRecords,
                long[] blockStart, long[] blockEnd, int[] blockRegion, ByteBuffer[] regions, long[] regionStart) {
            this.path = path;
            this.lsn = lsn;
            this.pageIds = pageIds;
            this.records = records;
            this.groups = groups;
            this.blockRecords = blockRecords;
            this.blockStart = blockStart;
            this.blockEnd = blockEnd;
            this.blockRegion = blockRegion;
            this.regions = regions;
            this.regionStart = regionStart;
        }

        /**
         * Checks a snapshot file whole and maps its blocks.
         *
         * @throws CorruptionException naming the file and an offset, if anything does not check out
         * @throws IncompatibleStoreException if the file is a snapshot of another layout version
         */
        static Image open(StorageFile file) throws IOException {
            return open(file, MAX_REGION);
        }

        /** {@link #open(StorageFile)} with mappings of at most {@code maxRegion} bytes of blocks (tests use small ones). */
        static Image open(StorageFile file, int maxRegion) throws IOException {
            Path path = file.path();
            long size = file.size();
            if (size < HEADER_LENGTH + FOOTER_LENGTH) {
                throw corrupt(path, 0, "only " + size + " bytes long");
            }
            ByteBuffer header = readFully(file, 0, HEADER_LENGTH);
            if (header.getInt(4) != MAGIC || header.getInt(0) != LogFormat.crc(header, 4, HEADER_LENGTH)) {
                throw corrupt(path, 0, "header damaged (magic or CRC does not match)");
            }
            if (header.getInt(8) != VERSION) {
                throw new IncompatibleStoreException("snapshot " + path + " has layout version " + header.getInt(8)
                        + "; this Toboggan reads version " + VERSION + " only (version 1 came from a pre-release"
                        + " Toboggan). Nothing was changed. Open the store with the Toboggan that wrote it, or, if"
                        + " its segments were never cleaned, move the snapshot.* files away: the next open then"
                        + " replays the whole log and refuses, changing nothing, if a cleaned segment is missing");
            }
            long lsn = header.getLong(16);
            long pageIds = header.getLong(24);
            if (lsn < 0 || pageIds < 0 || pageIds > PageTable.CAPACITY) {
                throw corrupt(path, 16, "impossible LSN " + lsn + " or page id count " + pageIds);
            }
            long footerAt = size - FOOTER_LENGTH;
            ByteBuffer footer = readFully(file, footerAt, FOOTER_LENGTH);
            long indexAt = footer.getLong(0);
            long blockCount = Integer.toUnsignedLong(footer.getInt(8));
            long records = footer.getLong(12);
            if (indexAt < HEADER_LENGTH || indexAt > footerAt || (footerAt - indexAt) != blockCount * INDEX_ENTRY_LENGTH
                    || blockCount > PageTable.CAPACITY / BLOCK_PIDS || records < 0) {
                throw corrupt(path, footerAt, "the footer's index (at " + indexAt + ", " + blockCount + " blocks) or "
                        + "record count " + records + " does not fit the file's " + size + " bytes");
            }
            int blocks = (int) blockCount;
            ByteBuffer index = readFully(file, indexAt, blocks * INDEX_ENTRY_LENGTH);
            int[] groups = new int[blocks];
            int[] blockRecords = new int[blocks];
            long[] blockStart = new long[blocks];
            long[] blockEnd = new long[blocks];
            long groupsBelowIds = (pageIds + BLOCK_PIDS - 1) >>> BLOCK_BITS;
            long counted = 0;
            for (int b = 0; b < blocks; b++) {
                int at = b * INDEX_ENTRY_LENGTH;
                groups[b] = index.getInt(at);
                blockRecords[b] = index.getInt(at + 4);
                blockStart[b] = index.getLong(at + 8);
                blockEnd[b] = b + 1 < blocks ? index.getLong(at + INDEX_ENTRY_LENGTH + 8) : indexAt;
                long group = Integer.toUnsignedLong(groups[b]);
                boolean ordered = b == 0 ? blockStart[b] == HEADER_LENGTH
                        : group > Integer.toUnsignedLong(groups[b - 1]);
                if (!ordered || group >= groupsBelowIds || blockRecords[b] <= 0 || blockRecords[b] > BLOCK_PIDS
                        || blockEnd[b] - blockStart[b] < LIVE_MAP_LENGTH + 2L * blockRecords[b]) {
                    throw corrupt(path, indexAt + at, "index entry " + b + " (group " + group + ", " + blockRecords[b]
                            + " records, bytes " + blockStart[b] + ".." + blockEnd[b] + ") is out of order or "
                            + "does not fit");
                }
                counted += blockRecords[b];
            }
            if (counted != records || (blocks == 0 && indexAt != HEADER_LENGTH)) {
                throw corrupt(path, footerAt, "the index counts " + counted + " records and ends at " + indexAt
                        + ", the footer " + records);
            }
            // Map whole blocks into regions of at most maxRegion bytes (one, unless the snapshot is huge).
            int[] blockRegion = new int[blocks];
            ByteBuffer[] regions = new ByteBuffer[Math.max(1, blocks)];
            long[] regionStart = new long[regions.length];
            int regionCount = 0;
            CRC32C crc = new CRC32C();
            crc.update(header.duplicate().position(0).limit(HEADER_LENGTH));
            for (int first = 0; first < blocks; ) {
                int last = first;
                while (last + 1 < blocks && blockEnd[last + 1] - blockStart[first] <= maxRegion) {
                    last++;
                }
                long length = blockEnd[last] - blockStart[first];
                if (length > Integer.MAX_VALUE) {
                    throw corrupt(path, indexAt + (long) first * INDEX_ENTRY_LENGTH, "block " + first + " is "
                            + length + " bytes long, more than a snapshot block can be");
                }
                ByteBuffer region = LogFormat.le(file.readOnlyView(blockStart[first], (int) length));
                crc.update(region.duplicate());
                for (int b = first; b <= last; b++) {
                    blockRegion[b] = regionCount;
                }
                regionStart[regionCount] = blockStart[first];
                regions[regionCount++] = region;
                first = last + 1;
            }
            crc.update(index.duplicate().position(0).limit(blocks * INDEX_ENTRY_LENGTH));
            crc.update(footer.duplicate().position(0).limit(FOOTER_LENGTH - Integer.BYTES));
            if (footer.getInt(FOOTER_LENGTH - Integer.BYTES) != ((int) crc.getValue() ^ CRC_INVERT)) {
                throw corrupt(path, size - Integer.BYTES, "CRC does not match");
            }
            return new Image(path, lsn, pageIds, records, groups, blockRecords, blockStart, blockEnd, blockRegion,
                    Arrays.copyOf(regions, regionCount), Arrays.copyOf(regionStart, regionCount));
        }

        private static ByteBuffer readFully(StorageFile file, long at, int length) throws IOException {
            ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(length));
            if (file.read(buf, at) != length) {
                throw corrupt(file.path(), at, "the file ends inside the " + length + " bytes read there");
            }
            return buf.flip();
        }

        Path path() {
            return path;
        }

        /** The LSN the snapshot is as of: replay continues there. */
        long lsn() {
            return lsn;
        }

        /** One past the highest page id the log had named below {@link #lsn()}. */
        long pageIds() {
            return pageIds;
        }

        /** Records (pages with a version) in the whole snapshot. */
        long records() {
            return records;
        }

        int blocks() {
            return groups.length;
        }

        /** The block holding page {@code pid}'s group, or -1 if the snapshot has no record in that group. */
        int blockOf(long pid) {
            if (pid < 0 || pid >= pageIds) {
                return -1;
            }
            int found = Arrays.binarySearch(groups, groupOf(pid));
            return found < 0 ? -1 : found;
        }

        /** The word of block {@code b}'s live map that holds page {@code pid}'s bit (bit {@code pid & 63}). */
        private long liveWord(int b, long pid) {
            int bit = (int) pid & (BLOCK_PIDS - 1);
            long mapAt = blockEnd[b] - LIVE_MAP_LENGTH + (long) (bit >>> 6) * Long.BYTES;
            return regions[blockRegion[b]].getLong((int) (mapAt - regionStart[blockRegion[b]]));
        }

        /**
         * Calls {@code action} with every id in {@code [from, to)}, all of block {@code b}'s group, that
         * has no record or a free one, from the live map alone (64 ids per read).
         */
        void forEachVacant(int b, long from, long to, LongConsumer action) {
            for (long pid = from; pid < to; ) {
                long wordBase = pid & ~63L;
                long wordEnd = Math.min(to, wordBase + 64);
                long vacant = ~liveWord(b, pid) & (-1L << pid);
                while (vacant != 0) {
                    long vacantPid = wordBase + Long.numberOfTrailingZeros(vacant);
                    if (vacantPid >= wordEnd) {
                        break;
                    }
                    action.accept(vacantPid);
                    vacant &= vacant - 1;
                }
                pid = wordEnd;
            }
        }

        /**
         * Decodes block {@code b} and hands its pages to {@code sink} in increasing pid order: paged-out
         * locations arrays at version 0, free pages as free {@link Page}s.
         *
         * @throws CorruptionException if the block does not decode (the CRC matched, so the file was crafted
         *     or written wrong)
         */
        void decodeBlock(int b, PageSink sink) {
            ByteBuffer region = regions[blockRegion[b]];
            long base = regionStart[blockRegion[b]];
            int at = (int) (blockStart[b] - base);
            int end = (int) (blockEnd[b] - base) - LIVE_MAP_LENGTH;
            long groupBase = Integer.toUnsignedLong(groups[b]) << BLOCK_BITS;
            long groupEnd = Math.min(pageIds, groupBase + BLOCK_PIDS);
            long pid = groupBase - 1;
            long[] liveMap = new long[LIVE_MAP_LONGS];
            for (int r = 0; r < blockRecords[b]; r++) {
                long gap = LogFormat.readVarint(region, at, end);
                at += varint(region, at, end, gap, base);
                long count = LogFormat.readVarint(region, at, end);
                at += varint(region, at, end, count, base);
                if (gap <= 0 || gap > BLOCK_PIDS || pid + gap >= groupEnd) {
                    throw corrupt(path, base + at, "page id " + (pid + gap) + " is outside its block's ids " + groupBase
                            + ".." + (groupEnd - 1) + " or out of order");
                }
                pid += gap;
                if (count < 0 || count > MAX_FRAGMENTS) {
                    throw corrupt(path, base + at, "page " + pid + " has " + count + " fragments");
                }
                // one extra long: the trailing ts (0), so the array is the table's paged-out entry as it is
                long[] fragments = new long[(int) Math.max(1, count) * Page.FRAGMENT_LONGS + 1];
                for (int i = 0; i < fragments.length - 1; i++) {
                    long value = LogFormat.readVarint(region, at, end);
                    at += varint(region, at, end, value, base);
                    fragments[i] = value;
                }
                for (int i = 0; i < fragments.length - 1; i += Page.FRAGMENT_LONGS) {
                    if (fragments[i] < 0 || fragments[i] >= lsn || fragments[i + 1] < 0 || fragments[i + 2] <= 0 || fragments[i + 2] > Integer.MAX_VALUE) {
                        throw corrupt(path, base + at, "page " + pid + " has an impossible fragment (lsn "
                                + fragments[i] + ", pointer " + fragments[i + 1] + ", length " + fragments[i + 2] + ")");
                    }
                }
                if (count > 0) {
                    liveMap[(int) (pid - groupBase) >>> 6] |= 1L << pid;
                }
                sink.page(pid, count == 0 ? new Page<>(pid, Page.FREE, fragments, 0) : fragments);
            }
            if (at != end) {
                throw corrupt(path, base + at, "block " + b + " has " + (end - at) + " bytes after its "
                        + blockRecords[b] + " records");
            }
            for (int word = 0; word < LIVE_MAP_LONGS; word++) {
                if (liveMap[word] != liveWord(b, groupBase + 64L * word)) {
                    throw corrupt(path, blockEnd[b] - LIVE_MAP_LENGTH + 8L * word, "the live map of block " + b
                            + " disagrees with its records");
                }
            }
        }

        /** The length of the varint {@code value} just read at {@code at}, which must have been readable. */
        private int varint(ByteBuffer region, int at, int end, long value, long base) {
            if (value == -1) {
                throw corrupt(path, base + at, "a number runs past the end of its block");
            }
            return LogFormat.varintLength(value);
        }

        /**
         * Every page in increasing pid order, one block decoded at a time: {@link Cursor#next()} until it
         * returns {@code null}.
         */
        Cursor pages() {
            return new Cursor();
        }

        /** Iterates an image's pages; see {@link #pages()}. Not thread-safe. */
        final class Cursor {
            private int block;
            private final long[] pids = new long[BLOCK_PIDS];
            private final Object[] entries = new Object[BLOCK_PIDS];
            private int count;
            private int next;
            private long pid = -1;

            /** The next page's entry, or {@code null} after the last one; its id is {@link #pid()}. */
            Object next() {
                while (next == count) {
                    if (block == blocks()) {
                        return null;
                    }
                    count = 0;
                    next = 0;
                    decodeBlock(block++, (p, entry) -> {
                        pids[count] = p;
                        entries[count++] = entry;
                    });
                }
                pid = pids[next];
                Object entry = entries[next];
                entries[next++] = null;
                return entry;
            }

            /** The page id of the entry {@link #next()} returned last. */
            long pid() {
                return pid;
            }
        }

        private static CorruptionException corrupt(Path path, long offset, String what) {
            return new CorruptionException(path, offset, "snapshot " + path.getFileName() + ": " + what);
        }
    }
}
