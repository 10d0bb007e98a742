package dev.toboggan.core.pagecache;

import java.util.HashMap;
import java.util.Map;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The page table is linearizable: reads, and changes made as the page cache makes them (read a version,
 * build the next one, compare-and-set from the exact object read, retry on a lost CAS), behave like a
 * sequential map from page id to value. Pids span two second-level chunks, so lazy chunk creation races
 * too. Model checking explores interleavings exhaustively up to its bounds; stress runs real threads.
 */
@Tag("lincheck")
@Param(name = "pid", gen = IntGen.class, conf = "0:2")
@Param(name = "value", gen = IntGen.class, conf = "1:3")
public class PageTableLincheckTest {
    private static final long[] PIDS = {5, PageTable.L2_SIZE + 5, 2L * PageTable.L2_SIZE};

    private final PageTable table = new PageTable();

    private static Integer valueOf(Page<?> page) {
        return page == null ? null : (Integer) page.value;
    }

    @Operation
    public Integer get(@Param(name = "pid") int pid) {
        return valueOf((Page<?>) table.get(PIDS[pid]));
    }

    /** Sets the value if it is {@code expected} now (0 stands for "no page yet"). */
    @Operation
    public boolean compareAndSet(@Param(name = "pid") int pid, @Param(name = "value") int expected,
            @Param(name = "value") int value) {
        long p = PIDS[pid];
        while (true) {
            Page<?> current = (Page<?>) table.get(p);
            if (current == null ? expected != 0 : (Integer) current.value != expected) {
                return false;
            }
            long ts = current == null ? 1 : current.ts() + 1;
            if (table.compareAndSet(p, current, new Page<>(p, value, new long[] {ts, 0, 0, ts}, 0))) {
                return true;
            }
        }
    }

    /** Adds {@code delta} to the value (from 0 if no page yet), as a link does: returns the new value. */
    @Operation
    public int add(@Param(name = "pid") int pid, @Param(name = "value") int delta) {
        long p = PIDS[pid];
        while (true) {
            Page<?> current = (Page<?>) table.get(p);
            Integer now = valueOf(current);
            int next = (now == null ? 0 : now) + delta;
            long ts = current == null ? 1 : current.ts() + 1;
            if (table.compareAndSet(p, current, new Page<>(p, next, new long[] {ts, 0, 0, ts}, 0))) {
                return next;
            }
        }
    }

    /** The sequential specification. */
    public static class Spec {
        private final Map<Integer, Integer> values = new HashMap<>();

        public Integer get(int pid) {
            return values.get(pid);
        }

        public boolean compareAndSet(int pid, int expected, int value) {
            if (values.getOrDefault(pid, 0) != expected) {
                return false;
            }
            values.put(pid, value);
            return true;
        }

        public int add(int pid, int delta) {
            return values.merge(pid, delta, Integer::sum);
        }
    }

    @Test
    void modelChecking() {
        new ModelCheckingOptions().sequentialSpecification(Spec.class).iterations(10).invocationsPerIteration(300)
                .threads(3).actorsPerThread(3).check(getClass());
    }

    @Test
    void stress() {
        new StressOptions().sequentialSpecification(Spec.class).iterations(20).invocationsPerIteration(2_000)
                .threads(3).actorsPerThread(3).check(getClass());
    }
}
