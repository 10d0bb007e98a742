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
 * {@code get}, {@code insert}, {@code remove}, {@code compareAndSwap}, {@code fetchAndUpdate}, {@code clear} and three
 * transactions (a swap of two keys' values, a read of two keys, a take of the first entry by a range read)
 * are linearizable against a sequential map. Nodes are tiny (a few keys split a leaf, and the tree starts two levels deep) and values
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

    /** A {@link Db#transaction} that swaps the values of two keys (absent included); returns what it read. */
    @Operation
    public int swapValues(@Param(name = "key") int k1, @Param(name = "key") int k2) {
        return db.transaction(tx -> {
            byte[] a = tx.get(key(k1));
            byte[] b = tx.get(key(k2));
            put(tx, k1, b);
            put(tx, k2, a);
            return decode(a) * 10 + decode(b);
        });
    }

    private static void put(Transaction tx, int k, byte[] value) {
        if (value == null) {
            tx.remove(key(k));
        } else {
            tx.insert(key(k), value);
        }
    }

    /** A read-only {@link Db#transaction} of two keys: both as of one moment. */
    @Operation
    public int readPair(@Param(name = "key") int k1, @Param(name = "key") int k2) {
        return db.transaction(tx -> decode(tx.get(key(k1))) * 10 + decode(tx.get(key(k2))));
    }

    /**
     * A {@link Db#transaction} that takes the entry with the smallest key ({@link TransactionalTree#first}, a
     * range read) and removes it: a queue's take; returns its key and value, 0 if there was none.
     */
    @Operation
    public int takeFirst() {
        return db.transaction(tx -> {
            Map.Entry<byte[], byte[]> first = tx.first();
            if (first == null) {
                return 0;
            }
            tx.remove(first.getKey());
            return first.getKey()[0] * 10 + decode(first.getValue());
        });
    }

    /** {@link Tree#clear}: every key removed at once (its pages freed, the root made a leaf); returns how many. */
    @Operation
    public long clear() {
        return db.clear();
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

        public int swapValues(int k1, int k2) {
            int a = get(k1);
            int b = get(k2);
            insert(k1, b);
            insert(k2, a);
            return a * 10 + b;
        }

        public int readPair(int k1, int k2) {
            return get(k1) * 10 + get(k2);
        }

        public int takeFirst() {
            if (map.isEmpty()) {
                return 0;
            }
            int k = java.util.Collections.min(map.keySet());
            return k * 10 + map.remove(k);
        }

        public long clear() {
            long removed = map.size();
            map.clear();
            return removed;
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
