package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.log.LogEntry;
import dev.toboggan.core.log.MessageKind;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A snapshot applies a page's changes in one go ({@link TableReplay#applyAll}); it must give what applying
 * them one by one ({@link TableReplay#apply}, the rules of recovery's replay) gives, errors included.
 */
class TableReplayTest {
    private static final Path LOG = Path.of("log");
    private static final long PID = PageCache.FIRST_USER_PID + 3;

    @Test
    void aPagesChangesAppliedInOneGoGiveWhatTheyGiveOneByOne() {
        SplittableRandom random = new SplittableRandom(11);
        for (int run = 0; run < 5_000; run++) {
            Object start = switch (random.nextInt(4)) {
                case 0 -> null; // a page the previous snapshot did not have
                case 1 -> new Page<>(PID, Page.FREE, Page.locations(400, 1, 24, 0), 0);
                case 2 -> Page.locations(400, 1, 24, 0);
                default -> Page.appended(Page.locations(300, 1, 24, 0), 900, 2, 30, 0); // deltas newer than some changes
            };
            List<LogEntry> changes = new ArrayList<>();
            long lsn = 100 + random.nextInt(700); // some changes older than the starting page's newest fragment
            for (int i = random.nextInt(12); i > 0; i--) {
                lsn += 1 + random.nextInt(200);
                MessageKind kind = switch (random.nextInt(10)) {
                    case 0 -> MessageKind.FREE;
                    case 1, 2 -> MessageKind.INLINE_NODE;
                    default -> MessageKind.INLINE_LINK;
                };
                changes.add(new LogEntry(kind, PID, lsn, lsn * 2, 10 + random.nextInt(90)));
            }
            Object oneByOne = start;
            for (LogEntry change : changes) {
                oneByOne = TableReplay.apply(oneByOne, change, LOG);
            }
            List<LogEntry> around = new ArrayList<>(); // another page's changes on both sides, as in a snapshot
            around.add(new LogEntry(MessageKind.INLINE_NODE, PID - 1, 1, 2, 10));
            around.addAll(changes);
            around.add(new LogEntry(MessageKind.INLINE_NODE, PID + 1, 1, 2, 10));
            Object together = TableReplay.applyAll(start, around, 1, 1 + changes.size(), LOG);
            assertThat(describe(together)).as("run %d from %s: %s", run, describe(start), changes)
                    .isEqualTo(describe(oneByOne));
        }
    }

    @Test
    void aBadChangeFailsTheSameWayInOneGo() {
        long reserved = PageCache.COUNTER_PID;
        List<LogEntry> changes = List.of(
                new LogEntry(MessageKind.COUNTER, reserved, 10, 20, 12),
                new LogEntry(MessageKind.INLINE_LINK, reserved, 11, 22, 12));
        assertThatThrownBy(() -> TableReplay.apply(TableReplay.apply(null, changes.get(0), LOG), changes.get(1), LOG))
                .isInstanceOf(CorruptionException.class).hasMessageContaining("has a delta");
        assertThatThrownBy(() -> TableReplay.applyAll(null, changes, 0, 2, LOG))
                .isInstanceOf(CorruptionException.class).hasMessageContaining("has a delta");
    }

    /** A page's entry as text: free or not, and its locations. */
    private static String describe(Object entry) {
        if (entry == null) {
            return "absent";
        }
        return (Page.isFree(entry) ? "free " : "") + Arrays.toString(Page.locationsOf(entry));
    }
}
