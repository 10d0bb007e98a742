package dev.toboggan.core.pagecache;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.log.LogEntry;
import dev.toboggan.core.log.MessageKind;
import java.nio.file.Path;
import java.util.Arrays;
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
 * Pages come out paged out (fragments only), at version 0. The log has already dropped canceled
 * records and every message of a batch whose seal did not survive. Replaying the same log twice builds
 * the same table.
 */
final class TableReplay implements Consumer<LogEntry> {
    private final PageTable table;
    private final Path logFile;
    private long maxPid = -1;

    TableReplay(PageTable table, Path logFile) {
        this.table = table;
        this.logFile = logFile;
    }

    @Override
    public void accept(LogEntry entry) {
        long pid = entry.pid();
        MessageKind kind = entry.kind().inlineVariant();
        if (!PageTable.holds(pid)) {
            throw corrupt(entry, "page id " + pid + " is beyond the page table's " + PageTable.CAPACITY + " ids");
        }
        MessageKind expectedBase = pid == PageCache.META_PID ? MessageKind.INLINE_META
                : pid == PageCache.COUNTER_PID ? MessageKind.COUNTER : MessageKind.INLINE_NODE;
        boolean reserved = pid < PageCache.FIRST_USER_PID;
        maxPid = Math.max(maxPid, pid);
        Page<?> current = table.get(pid);
        switch (kind) {
            case FREE -> {
                if (reserved) {
                    throw corrupt(entry, "the reserved page " + pid + " is freed");
                }
                table.set(pid, Page.based(pid, Page.FREE, entry.lsn(), entry.pointer(), entry.length(), 0));
            }
            case INLINE_LINK -> {
                if (reserved) {
                    throw corrupt(entry, "the reserved page " + pid + " has a delta");
                }
                if (current != null && !current.isFree() && entry.lsn() > current.lastLsn()) {
                    table.set(pid, withFragment(current, entry));
                }
            }
            case INLINE_NODE, INLINE_META, COUNTER -> {
                if (kind != expectedBase) {
                    throw corrupt(entry, kind + " message for page " + pid + ", which only takes " + expectedBase);
                }
                table.set(pid, Page.based(pid, null, entry.lsn(), entry.pointer(), entry.length(), 0));
            }
            default -> throw corrupt(entry, "unexpected " + kind + " message in the replay");
        }
    }

    private static Page<?> withFragment(Page<?> page, LogEntry entry) {
        long[] fragments = Arrays.copyOf(page.fragments, page.fragments.length + Page.FRAGMENT_LONGS);
        fragments[page.fragments.length] = entry.lsn();
        fragments[page.fragments.length + 1] = entry.pointer();
        fragments[page.fragments.length + 2] = entry.length();
        return new Page<>(page.pid, null, fragments, 0);
    }

    private CorruptionException corrupt(LogEntry entry, String what) {
        return new CorruptionException(logFile, entry.pointer(), what + " (message at LSN " + entry.lsn() + ")");
    }

    /** The highest page id any replayed message named, or -1. */
    long maxPid() {
        return maxPid;
    }
}
