package dev.toboggan.core.pagecache;

import dev.toboggan.core.log.LogFormat;
import java.nio.ByteBuffer;

/**
 * The pages a snapshot loaded at open, kept compact until each is first touched: per page its record
 * (fragment count and (lsn, pointer, length) triples, as varints) in chunks of bytes, and per page id
 * where that record is. An open thus allocates no object per page; the {@link PageTable} turns a
 * record into its paged-out entry (a locations array, or a free {@link Page}) on the first read of its
 * slot. About 20 bytes per page (8 of index, 10 to 12 of record for a consolidated page) instead of
 * the 48 of a locations array.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li>Built by one thread ({@link #add}, in pid order) before the table is shared; read-only after
 *       ({@link #load}, {@link #isAbsentOrFree} from any thread). The table is published to other
 *       threads by the page cache's construction (final fields and the threads that open it), so the
 *       arrays filled here are visible to every later reader.
 *   <li>Index: a two-level radix like {@link PageTable}'s, of longs: 0 = the snapshot has no record for
 *       the pid; else {@code 1 + (chunk << 32 | offset)}, the free flag in the record's count (0).
 *   <li>Records never straddle chunks: a record that does not fit in the current chunk starts a new one,
 *       sized to hold it if it is larger than {@value #CHUNK} bytes.
 *   <li>A record's bytes stay after its page is loaded (the image is not shrunk): the cost is bounded
 *       by the snapshot's size and paid once.
 * </ul>
 */
final class SnapshotPages {
    private static final int CHUNK = 1 << 22;
    /** The most bytes one varint takes (LogFormat's encoding). */
    private static final int VARINT_MAX = 9;

    private final long[][] index = new long[PageTable.L1_SIZE][];
    private ByteBuffer[] chunks = new ByteBuffer[16];
    private int current = -1;
    private long pages;
    private long bytes;

    /** Adds the record of {@code pid}: {@code count} fragments (0: free, one triple) from {@code triples}. */
    void add(long pid, int count, long[] triples) {
        int longs = Math.max(1, count) * Page.FRAGMENT_LONGS;
        int need = (longs + 1) * VARINT_MAX;
        if (current < 0 || chunks[current].remaining() < need) {
            newChunk(need);
        }
        ByteBuffer chunk = chunks[current];
        int at = chunk.position();
        int end = at + LogFormat.writeVarint(chunk, at, count);
        for (int i = 0; i < longs; i++) {
            end += LogFormat.writeVarint(chunk, end, triples[i]);
        }
        chunk.position(end);
        bytes += end - at;
        long[] slots = index[(int) (pid >>> PageTable.L2_BITS)];
        if (slots == null) {
            slots = new long[PageTable.L2_SIZE];
            index[(int) (pid >>> PageTable.L2_BITS)] = slots;
        }
        slots[(int) pid & (PageTable.L2_SIZE - 1)] = 1 + ((long) current << 32 | at);
        pages++;
    }

    private void newChunk(int need) {
        if (++current == chunks.length) {
            chunks = java.util.Arrays.copyOf(chunks, chunks.length * 2);
        }
        chunks[current] = LogFormat.le(ByteBuffer.allocate(Math.max(CHUNK, need)));
    }

    private long where(long pid) {
        if (!PageTable.holds(pid)) {
            return 0;
        }
        long[] slots = index[(int) (pid >>> PageTable.L2_BITS)];
        return slots == null ? 0 : slots[(int) pid & (PageTable.L2_SIZE - 1)];
    }

    /** Whether the snapshot has no record for {@code pid}, or records it free. */
    boolean isAbsentOrFree(long pid) {
        long where = where(pid);
        return where == 0 || chunks[(int) ((where - 1) >>> 32)].get((int) (where - 1)) == 0;
    }

    /**
     * A new paged-out entry for {@code pid} decoded from its record (version 0), a free {@link Page}, or
     * {@code null} if the snapshot has no record for it.
     */
    Object load(long pid) {
        long where = where(pid);
        if (where == 0) {
            return null;
        }
        ByteBuffer chunk = chunks[(int) ((where - 1) >>> 32)];
        int at = (int) (where - 1);
        int limit = chunk.limit();
        long count = LogFormat.readVarint(chunk, at, limit);
        at += LogFormat.varintLength(count);
        int longs = (int) Math.max(1, count) * Page.FRAGMENT_LONGS;
        long[] locations = new long[longs + 1]; // the trailing ts: 0, as after any open
        for (int i = 0; i < longs; i++) {
            long value = LogFormat.readVarint(chunk, at, limit);
            locations[i] = value;
            at += LogFormat.varintLength(value);
        }
        return count == 0 ? new Page<>(pid, Page.FREE, locations, 0) : locations;
    }

    /** Records held. */
    long pages() {
        return pages;
    }

    /** Bytes of records held (the chunks' capacity is at most one chunk more). */
    long bytes() {
        return bytes;
    }
}
