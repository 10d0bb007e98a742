package dev.toboggan.core.pagecache;

import dev.toboggan.core.io.SimulatedStorage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code get}, {@code link} and {@code replace} (each retried the way a caller retries a failed CAS),
 * with page-outs, relocations and id generation mixed in, are linearizable against a sequential map of
 * lists. Page-outs and relocations must be invisible. Stress mode only: the page cache does real
 * (simulated) IO, which model checking cannot explore.
 */
@Tag("lincheck")
@Param(name = "pid", gen = IntGen.class, conf = "2:3")
@Param(name = "value", gen = IntGen.class, conf = "1:9")
public class PageCacheLincheckTest {
    private final PageCache<List<Integer>, Integer> pc;

    public PageCacheLincheckTest() {
        pc = Stores.open(new SimulatedStorage(), Stores.small().withConsolidationThreshold(3).withPageInParallelism(1));
        pc.allocate(List.of());
        pc.allocate(List.of());
        pc.flush();
    }

    @Operation
    public List<Integer> get(@Param(name = "pid") int pid) {
        return pc.get(pid).value();
    }

    @Operation
    public List<Integer> link(@Param(name = "pid") int pid, @Param(name = "value") int delta) {
        while (true) {
            CasResult<List<Integer>> r = pc.link(pid, pc.get(pid), delta);
            if (r.succeeded()) {
                return r.page().value();
            }
        }
    }

    @Operation
    public void replace(@Param(name = "pid") int pid, @Param(name = "value") int value) {
        while (!pc.replace(pid, pc.get(pid), List.of(value)).succeeded()) {
            Thread.onSpinWait();
        }
    }

    @Operation
    public void pageOut(@Param(name = "pid") int pid) {
        pc.pageOut(pid);
    }

    @Operation
    public void rewrite(@Param(name = "pid") int pid) {
        pc.rewrite(pid);
    }

    @Operation
    public long generateId() {
        return pc.generateId();
    }

    /** The sequential specification. */
    public static class Spec {
        private final Map<Integer, List<Integer>> pages = new HashMap<>(Map.of(2, List.of(), 3, List.of()));
        private long nextId;

        public List<Integer> get(int pid) {
            return pages.get(pid);
        }

        public List<Integer> link(int pid, int delta) {
            List<Integer> next = new ArrayList<>(pages.get(pid));
            next.add(delta);
            pages.put(pid, List.copyOf(next));
            return pages.get(pid);
        }

        public void replace(int pid, int value) {
            pages.put(pid, List.of(value));
        }

        public void pageOut(int pid) {}

        public void rewrite(int pid) {}

        public long generateId() {
            return nextId++;
        }
    }

    @Test
    void stress() {
        new StressOptions().sequentialSpecification(Spec.class).iterations(30).invocationsPerIteration(300)
                .threads(3).actorsPerThread(3).check(getClass());
    }
}
