package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.Test;

/** The compact snapshot records a table is loaded with, and their installation on first read. */
class SnapshotPagesTest {

    private static SnapshotPages pages() {
        SnapshotPages pages = new SnapshotPages();
        pages.add(2, 1, new long[] {10, 100, 5});
        pages.add(3, 0, new long[] {11, 105, 3}); // free: its free record
        pages.add(70_000, 2, new long[] {12, 108, 300, 1L << 40, 1L << 41, Integer.MAX_VALUE});
        return pages;
    }

    @Test
    void recordsComeBackAsTheEntriesTheyStandFor() {
        PageTable table = new PageTable(pages());
        assertThat((long[]) table.get(2)).containsExactly(10, 100, 5, 0);
        assertThat(Page.isFree(table.get(3))).isTrue();
        assertThat(Page.locationsOf(table.get(3))).containsExactly(11, 105, 3, 0);
        assertThat((long[]) table.get(70_000)).containsExactly(12, 108, 300, 1L << 40, 1L << 41, Integer.MAX_VALUE, 0);
        assertThat(table.get(4)).isNull();
        assertThat(table.isAbsentOrFree(3)).isTrue();
        assertThat(table.isAbsentOrFree(4)).isTrue();
        assertThat(table.isAbsentOrFree(2)).isFalse();
        Object first = table.get(2);
        assertThat(table.get(2)).as("installed once, then the slot's own entry").isSameAs(first);
        assertThat(table.compareAndSet(2, first, Page.locations(1, 2, 3, 4))).isTrue();
        assertThat((long[]) table.get(2)).containsExactly(1, 2, 3, 4);
    }

    @Test
    void threadsRacingOnAnUnreadSlotAllGetTheSameEntry() throws Exception {
        for (int round = 0; round < 200; round++) {
            PageTable table = new PageTable(pages());
            CyclicBarrier start = new CyclicBarrier(2);
            Object[] seen = new Object[2];
            Thread[] threads = new Thread[2];
            for (int t = 0; t < 2; t++) {
                int me = t;
                threads[t] = new Thread(() -> {
                    try {
                        start.await();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                    seen[me] = table.get(70_000);
                });
                threads[t].start();
            }
            for (Thread thread : threads) {
                thread.join();
            }
            assertThat(seen[0]).isNotNull().isSameAs(seen[1]);
        }
    }
}
