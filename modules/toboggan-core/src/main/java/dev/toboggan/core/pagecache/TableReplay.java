package dev.toboggan.core.pagecache;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.log.LogEntry;
import dev.toboggan.core.log.MessageKind;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Rebuilds the page table from the log's replay at open (SLED-REFERENCE §6.3), in LSN order, on the
 * opening thread before the table is shared:
 * <ul>
 *   <li>a full image (node, meta, counter) makes the page present with that base and no deltas;
 *   <li>a delta is appended only to a present page, and only if it is newer than the page's newest
 *       fragment (a delta of an older base that a later image replaced is dropped);
 *   <li>a free record leaves a tombstone.
 * </ul>
 * The table may start from a snapshot ({@link SnapshotFormat}), replay then continuing at its LSN.
 * Pages come out paged out (a bare locations array, see {@link Page}), at version 0; free pages as
 * tombstones. The log has already dropped canceled
 * records and every message of a batch whose seal did not survive. Replaying the same log twice builds
 * the same table.
 */
final class TableReplay implements Consumer<LogEntry> {
    private final PageTable table;
    private final Path logFile;
    private long maxPid;
    private final Map<LogEntry, Path> missingBlobs = new LinkedHashMap<>();

    /**
     * @param maxPid the highest page id named so far (by the snapshot the table was loaded from), or -1
     */
    TableReplay(PageTable table, Path logFile, long maxPid) {
        this.table = table;
        this.logFile = logFile;
        this.maxPid = maxPid;
    }

    @Override
    public void accept(LogEntry entry) {
        if (!table.plausible(entry.pid())) {
            throw corrupt(logFile, entry, "page id " + entry.pid() + " is far beyond the ids the store's records "
                    + "back");
        }
        maxPid = Math.max(maxPid, entry.pid());
        Object current = table.get(entry.pid());
        Object next = apply(current, entry, logFile);
        if (next != current) {
            table.set(entry.pid(), next);
        }
    }

    /**
     * The replay rules for one message: the entry of its page after it (a free {@link Page} or a
     * paged-out locations array), given the entry before it ({@code null} if none). Snapshots apply the
     * same rules page by page.
     *
     * @return {@code current} itself if the message changes nothing (a stale delta)
     */
    static Object apply(Object current, LogEntry entry, Path logFile) {
        long pid = entry.pid();
        MessageKind kind = entry.kind().inlineVariant();
        if (!PageTable.holds(pid)) {
            throw corrupt(logFile, entry, "page id " + pid + " is beyond the page table's " + PageTable.CAPACITY
                    + " ids");
        }
        MessageKind expectedBase = pid == PageCache.META_PID ? MessageKind.INLINE_META
                : pid == PageCache.COUNTER_PID ? MessageKind.COUNTER : MessageKind.INLINE_NODE;
        boolean reserved = pid < PageCache.FIRST_USER_PID;
        return switch (kind) {
            case FREE -> {
                if (reserved) {
                    throw corrupt(logFile, entry, "the reserved page " + pid + " is freed");
                }
                yield new Page<>(pid, Page.FREE, Page.locations(entry.lsn(), entry.pointer(), entry.length(), 0), 0);
            }
            case INLINE_LINK -> {
                if (reserved) {
                    throw corrupt(logFile, entry, "the reserved page " + pid + " has a delta");
                }
                yield appends(current, entry.lsn())
                        ? Page.appended(Page.locationsOf(current), entry.lsn(), entry.pointer(), entry.length(), 0)
                        : current;
            }
            case INLINE_NODE, INLINE_META, COUNTER -> {
                if (kind != expectedBase) {
                    throw corrupt(logFile, entry, kind + " message for page " + pid + ", which only takes "
                            + expectedBase);
                }
                yield Page.locations(entry.lsn(), entry.pointer(), entry.length(), 0);
            }
            default -> throw corrupt(logFile, entry, "unexpected " + kind + " message in the replay");
        };
    }

    /** Whether a delta at {@code lsn} is appended to {@code current}: a present page, and newer than its newest fragment. */
    private static boolean appends(Object current, long lsn) {
        return current != null && !Page.isFree(current) && lsn > Page.lastLsn(Page.locationsOf(current));
    }

    /**
     * {@link #apply} of one page's messages in a row, {@code entries[from, to)} in log order (LSNs rising, as
     * a snapshot's merge has them): the same result and the same errors, but the deltas that follow the last
     * image are appended to its locations in one copy. A snapshot applies each page's changes since the
     * previous one, and appending a delta at a time copied the page's growing locations array once per delta
     * (a fifth of a snapshot's CPU). Once a delta is appended, every later one is newer, so appended too.
     */
    static Object applyAll(Object current, List<LogEntry> entries, int from, int to, Path logFile) {
        Object page = current;
        int appendedFrom = -1; // entries[appendedFrom, i) are deltas appended to page, not yet copied into it
        for (int i = from; i < to; i++) {
            LogEntry entry = entries.get(i);
            if (entry.kind().inlineVariant() == MessageKind.INLINE_LINK) {
                apply(null, entry, logFile); // a delta's checks, which do not depend on the page
                if (appendedFrom < 0 && appends(page, entry.lsn())) {
                    appendedFrom = i;
                }
                continue;
            }
            page = withDeltas(page, entries, appendedFrom, i);
            appendedFrom = -1;
            page = apply(page, entry, logFile);
        }
        return withDeltas(page, entries, appendedFrom, to);
    }

    /** {@code page}'s locations with the deltas {@code entries[from, to)} appended, at version 0; from -1: none. */
    private static Object withDeltas(Object page, List<LogEntry> entries, int from, int to) {
        if (from < 0) {
            return page;
        }
        long[] base = Page.locationsOf(page);
        long[] more = Arrays.copyOf(base, base.length + (to - from) * Page.FRAGMENT_LONGS);
        int at = base.length - 1; // the base's version slot is overwritten, as Page.appended does
        for (int i = from; i < to; i++) {
            LogEntry entry = entries.get(i);
            more[at] = entry.lsn();
            more[at + 1] = entry.pointer();
            more[at + 2] = entry.length();
            at += Page.FRAGMENT_LONGS;
        }
        more[more.length - 1] = 0;
        return more;
    }

    private static CorruptionException corrupt(Path logFile, LogEntry entry, String what) {
        return new CorruptionException(logFile, entry.pointer(), what + " (message at LSN " + entry.lsn() + ")");
    }

    /** Blob messages the scan skipped because their blob is missing: each must have been replaced. */
    void missingBlob(LogEntry entry, Path blob) {
        missingBlobs.put(entry, blob);
    }

    /**
     * Fails if a skipped blob message was not replaced by a later version of its page: the blob was lost,
     * not deleted by the store, and the page (or a delta of it) with it.
     */
    void checkMissingBlobs() {
        for (Map.Entry<LogEntry, Path> missing : missingBlobs.entrySet()) {
            LogEntry entry = missing.getKey();
            Object page = table.get(entry.pid());
            if (page == null || Page.fragmentLsn(Page.locationsOf(page), 0) < entry.lsn()) {
                throw new CorruptionException(missing.getValue(), 0, "the blob of the message at LSN " + entry.lsn()
                        + " (page " + entry.pid() + ") is missing, and no later version of the page replaces it");
            }
        }
    }

    /** The highest page id any replayed message named, or -1. */
    long maxPid() {
        return maxPid;
    }
}
