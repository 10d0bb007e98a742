package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.log.LogEntry;
import dev.toboggan.core.log.MessageKind;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A snapshot applies the log's changes page by page, each page's in log order: {@link SnapshotWriter#byPid}
 * must order them exactly as a stable sort by pid does, whether it packs (pid, position) or falls back.
 */
class SnapshotOrderTest {

    @Test
    void ordersByPidAndKeepsEachPagesChangesInLogOrder() {
        SplittableRandom random = new SplittableRandom(6);
        for (long pidBound : new long[] {1, 7, 5_000, 1L << 40, Long.MAX_VALUE}) {
            List<LogEntry> changes = new ArrayList<>();
            for (int i = 0; i < 20_000; i++) {
                changes.add(new LogEntry(MessageKind.INLINE_NODE, random.nextLong(pidBound), i, 24L * i, 24));
            }
            List<LogEntry> expected = new ArrayList<>(changes);
            expected.sort(Comparator.comparingLong(LogEntry::pid)); // stable: log order within a pid
            assertThat(SnapshotWriter.byPid(new ArrayList<>(changes))).as("pids below %d", pidBound)
                    .isEqualTo(expected);
        }
        assertThat(SnapshotWriter.byPid(new ArrayList<>())).isEmpty();
    }
}
