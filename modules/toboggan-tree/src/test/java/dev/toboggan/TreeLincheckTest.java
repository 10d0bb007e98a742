package dev.toboggan;

import dev.toboggan.core.io.SimulatedStorage;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code get}, {@code insert}, {@code remove}, {@code compareAndSwap} and {@code fetchAndUpdate} are
 * linearizable against a sequential map. Nodes are tiny (a few keys split a leaf, and the tree starts two levels deep) and values
 * of two bytes or more live in value pages, so the operations race with splits, parent links and value
 * page frees. Stress mode only: the page cache does real (simulated) IO, which model checking cannot
 * explore.
 */
@Tag("lincheck")
@Param(name = "key", gen = IntGen.class, conf = "1:6")
@Param(name = "value", gen = IntGen.class, conf = "0:3")
public class TreeLincheckTest {
    private static final int KEY_LENGTH = 12;

    private final Store db;

    public TreeLincheckTest() {
        db = PageCacheBackend.open(new SimulatedStorage(), PageCacheBackend.smallConfig(1024), new TreeSettings(64, 1));
        for (int k = 2; k <= 6; k += 2) {
            db.insert(key(k), value(1));
        }
    }

    private static byte[] key(int k) {
        byte[] key = new byte[KEY_LENGTH];
        Arrays.fill(key, (byte) k);
        return key;
    }

    /** Value {@code v} is {@code v} bytes long (0 for none); from 2 bytes on it gets a page of its own. */
    private static byte[] value(int v) {
        if (v == 0) {
            return null;
        }
        byte[] value = new byte[v];
        Arrays.fill(value, (byte) v);
        return value;
    }

    private static int decode(byte[] value) {
        return value == null ? 0 : value.length;
    }

    @Operation
    public int get(@Param(name = "key") int k) {
        return decode(db.get(key(k)));
    }

    @Operation
    public int insert(@Param(name = "key") int k, @Param(name = "value") int v) {
        return decode(v == 0 ? db.remove(key(k)) : db.insert(key(k), value(v)));
    }

    @Operation
    public int remove(@Param(name = "key") int k) {
        return decode(db.remove(key(k)));
    }

    @Operation
    public String compareAndSwap(@Param(name = "key") int k, @Param(name = "value") int expected,
            @Param(name = "value") int v) {
        SwapResult r = db.compareAndSwap(key(k), value(expected), value(v));
        return r.succeeded() + "/" + decode(r.current());
    }

    /** {@link Tree#fetchAndUpdate} with the next value in 0, 1, 2, 3, 0 (0: absent, so it inserts and removes too). */
    @Operation
    public int fetchAndUpdate(@Param(name = "key") int k) {
        return decode(db.fetchAndUpdate(key(k), current -> value((decode(current) + 1) % 4)));
    }

    /** The sequential specification: a map from key to value, 0 meaning absent. */
    public static class Spec {
        private final Map<Integer, Integer> map = new HashMap<>(Map.of(2, 1, 4, 1, 6, 1));

        public int get(int k) {
            return map.getOrDefault(k, 0);
        }

        public int insert(int k, int v) {
            Integer previous = v == 0 ? map.remove(k) : map.put(k, v);
            return previous == null ? 0 : previous;
        }

        public int remove(int k) {
            Integer previous = map.remove(k);
            return previous == null ? 0 : previous;
        }

        public String compareAndSwap(int k, int expected, int v) {
            int current = map.getOrDefault(k, 0);
            if (current != expected) {
                return "false/" + current;
            }
            if (v == 0) {
                map.remove(k);
            } else {
                map.put(k, v);
            }
            return "true/" + v;
        }

        public int fetchAndUpdate(int k) {
            int current = map.getOrDefault(k, 0);
            if (current == 3) {
                map.remove(k);
            } else {
                map.put(k, current + 1);
            }
            return current;
        }
    }

    @Test
    void stress() {
        new StressOptions().sequentialSpecification(Spec.class).iterations(25).invocationsPerIteration(250)
                .threads(3).actorsPerThread(3).check(getClass());
    }
}
