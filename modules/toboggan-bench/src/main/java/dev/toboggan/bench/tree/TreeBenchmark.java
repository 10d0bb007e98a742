package dev.toboggan.bench.tree;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDefaults;
import dev.toboggan.bench.BenchDirs;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Issue 8: the tree on 1 M random keys of 16 bytes with 100-byte values, warm.
 *
 * <ul>
 *   <li>{@link #load}: one thread inserts the keys of a fresh store in random order (target &ge; 1 M ops/s).
 *   <li>{@link #bulkLoad}: the same keys and values into a fresh store the other way a store offers: sorted
 *       (included in the time), then {@link Db#buildTree} and a flush; per entry. Not issue 8's load (one insert
 *       per key), which it does not replace: what a caller holding all the data at once can have instead.
 *   <li>{@link #get1Thread} / {@link #get2Threads}: point reads of present keys (targets &ge; 1.5 M and
 *       &ge; 3 M ops/s), each key taken from a 1 M-element array of key arrays.
 *   <li>{@link #get1ThreadKeyInHand} / {@link #get2ThreadsKeyInHand}: the same reads of the same keys, each
 *       key computed from its number into a buffer of the thread's own, as a caller that has the key in hand
 *       (parsed from a request, say) asks for it. Taking a random key from the array is two cache misses of
 *       the benchmark's own (the array's slot, then the key's object) before the store's first: about two of
 *       the five trips to memory a 1 M-key get makes (docs/benchmarks.md, reads session 4). These measure the
 *       store alone; the first pair is kept for figures comparable with earlier runs.
 *   <li>{@link #mixed2Threads}: 95 % reads, 5 % overwrites, two threads (target &ge; 2 M ops/s);
 *       {@link #mixed2ThreadsKeyInHand}: the same with the key in hand, as above.
 *   <li>{@link #durablePut1Writer} / {@link #durablePut16Writers}: insert then {@code flush()} per op
 *       (targets &ge; 0.8 &times; and &ge; 5 &times; {@link #baseline}, a bare 116-byte write + fdatasync
 *       loop on the same file system).
 *   <li>{@link #reopen}: opening the loaded store again in the same JVM (target &le; 50 ms).
 *   <li>{@link #hashMapLoad}, {@link #hashMapGet1ThreadKeyInHand}, {@link #hashMapGet2ThreadsKeyInHand} and
 *       {@link #hashMapMixed2ThreadsKeyInHand}: the same load, reads and 95/5 mix on a {@code ConcurrentHashMap}
 *       of the same keys and values, in memory, unordered, durable never: not a store, but what this machine
 *       gives the least a lookup can do, measured in the same run as the store (the targets above are
 *       absolute figures; docs/benchmarks.md reads them against it). {@link #skipListLoad},
 *       {@link #skipListGet1ThreadKeyInHand}, {@link #skipListGet2ThreadsKeyInHand} and
 *       {@link #skipListMixed2ThreadsKeyInHand}: the same on a {@code ConcurrentSkipListMap}, the ordered
 *       reference.
 * </ul>
 * With {@code -Dtoboggan.bench.verbose=true} the loaded store's space amplification (bytes on disk over
 * the bytes of its keys and values) is printed after each iteration (target &le; 1.3 after the load).
 * Parameters: {@code durability} ({@code toboggan.durability}: {@code fsync} or {@code os}) and
 * {@code nodeSize} ({@code toboggan.tree.node-split-size}), e.g. {@code -p nodeSize=8KiB}.
 *
 * <p>The forks run with {@code -XX:+UseTransparentHugePages}, as docs/operations.md recommends for a cache
 * of this size (about 1 GB of heap): a read is a chain of cache misses, and on 4 KiB pages each is a TLB
 * miss too. Figures in docs/benchmarks.md before 2026-11-21 11:00 were measured without it;
 * {@code -jvmArgsPrepend -XX:-UseTransparentHugePages} measures as they did.
 */
@Fork(value = 1, jvmArgsPrepend = "-XX:+UseTransparentHugePages")
public class TreeBenchmark extends BenchDefaults {
    static final int KEYS = 1_000_000;
    static final int KEY_SIZE = 16;
    static final int VALUE_SIZE = 100;

    private static final VarHandle LONG_BE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    /**
     * The keys, uniformly spread: key {@code i} is {@link #key(int, byte[])}'s, so a benchmark can compute a
     * key from its number instead of reading it from this array.
     */
    static byte[][] keys() {
        byte[][] keys = new byte[KEYS][KEY_SIZE];
        for (int i = 0; i < KEYS; i++) {
            key(i, keys[i]);
        }
        return keys;
    }

    /**
     * Writes key {@code i} into {@code into}: two 64-bit mixes of {@code i} (Stafford's variant 13, a bijection,
     * so the first half alone keeps the keys distinct).
     */
    static void key(int i, byte[] into) {
        LONG_BE.set(into, 0, mix(i));
        LONG_BE.set(into, 8, mix(i + 0x9E3779B97F4A7C15L));
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Keys {@code 0 .. count-1}, sorted in the trees' (unsigned byte) order. */
    static byte[][] sortedKeys(int count) {
        byte[][] sorted = new byte[count][KEY_SIZE];
        for (int i = 0; i < count; i++) {
            key(i, sorted[i]);
        }
        Arrays.sort(sorted, Arrays::compareUnsigned);
        return sorted;
    }

    /** {@code sorted}'s keys, each with {@code value}, in order; {@code beforeEach} gets each one's index first. */
    static Iterator<Map.Entry<byte[], byte[]>> ascending(byte[][] sorted, byte[] value, IntConsumer beforeEach) {
        return new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < sorted.length;
            }

            @Override
            public Map.Entry<byte[], byte[]> next() {
                beforeEach.accept(next);
                return Map.entry(sorted[next++], value);
            }
        };
    }

    static byte[] value() {
        byte[] value = new byte[VALUE_SIZE];
        new SplittableRandom(VALUE_SIZE).nextBytes(value);
        return value;
    }

    /**
     * Inserts keys {@code 0 .. keys-1} with {@link #value()}, flushes, and waits 3 s for the compaction at rest
     * after the load: the settled store the drivers that measure something else start from.
     */
    static void loadSettled(Db db, int keys) throws InterruptedException {
        byte[] value = value();
        byte[] key = new byte[KEY_SIZE];
        for (int i = 0; i < keys; i++) {
            key(i, key);
            db.insert(key.clone(), value);
        }
        db.flush();
        Thread.sleep(3000);
    }

    static Config config(Path dir, String durability, String nodeSize) {
        return ConfigFactory.parseMap(Map.of("toboggan.directory", dir.toString(), "toboggan.durability", durability,
                "toboggan.tree.node-split-size", nodeSize));
    }

    /** What both states share: the store's parameters, the keys and value, and opening and deleting a store. */
    @State(Scope.Benchmark)
    public abstract static class Store {
        @Param({"fsync"})
        public String durability;
        /** {@code toboggan.tree.node-split-size}. */
        @Param({"4KiB"})
        public String nodeSize;

        final byte[][] keys = keys();
        final byte[] value = value();
        Path dir;
        Db db;

        void open(String name) {
            dir = BenchDirs.create(name);
            db = Toboggan.open(config(dir, durability, nodeSize));
        }

        void delete() {
            db.close();
            BenchDirs.delete(dir);
        }
    }

    /** A store loaded with every key once, for the whole trial. */
    @State(Scope.Benchmark)
    public static class Loaded extends Store {
        @Setup(Level.Trial)
        public void load() {
            open("tree");
            for (byte[] key : keys) {
                db.insert(key, value);
            }
            db.flush();
        }

        @TearDown(Level.Iteration)
        public void report() {
            if (VERBOSE) {
                System.out.printf("%n  [tree] %d keys, %d MB on disk, space amplification %.2f; load %.1f%n", KEYS,
                        db.sizeOnDisk() >> 20, (double) db.sizeOnDisk() / ((long) KEYS * (KEY_SIZE + VALUE_SIZE)),
                        loadAverage());
            }
        }

        @TearDown(Level.Trial)
        public void close() {
            delete();
        }

        byte[] randomKey() {
            return keys[ThreadLocalRandom.current().nextInt(KEYS)];
        }
    }

    /** A key buffer of the thread's own, for the reads that compute their key. */
    @State(Scope.Thread)
    public static class KeyInHand {
        final byte[] key = new byte[KEY_SIZE];

        /** A random present key, computed into {@link #key}: valid until the next call. */
        byte[] randomKey() {
            key(ThreadLocalRandom.current().nextInt(KEYS), key);
            return key;
        }
    }

    /** A fresh, empty store per iteration, and the keys to load into it in random order. */
    @State(Scope.Benchmark)
    public static class Empty extends Store {
        int next;

        @Setup(Level.Iteration)
        public void open() {
            open("tree-load");
            next = 0;
        }

        @TearDown(Level.Iteration)
        public void close() {
            if (VERBOSE) {
                System.out.printf("%n  [tree load] %d inserts, %d MB on disk; load %.1f%n", next, db.sizeOnDisk() >> 20,
                        loadAverage());
            }
            delete();
        }
    }

    @Benchmark
    @Threads(1)
    public byte[] load(Empty state) {
        // Past 1 M the keys come round again as overwrites, for iterations longer than a load.
        return state.db.insert(state.keys[state.next++ % KEYS], state.value);
    }

    /** A fresh, empty store per {@link #bulkLoad} (a load of 1 M entries, about a second). */
    @State(Scope.Benchmark)
    public static class EmptyPerLoad extends Store {
        @Setup(Level.Invocation)
        public void open() {
            open("tree-bulk-load");
        }

        @TearDown(Level.Invocation)
        public void close() {
            delete();
        }
    }

    @Benchmark
    @Threads(1)
    @OperationsPerInvocation(KEYS)
    public long bulkLoad(EmptyPerLoad state) {
        byte[][] sorted = state.keys.clone();
        Arrays.sort(sorted, Arrays::compareUnsigned);
        long built = state.db.buildTree(Db.DEFAULT_TREE, ascending(sorted, state.value, i -> { }));
        state.db.flush();
        return built;
    }

    @Benchmark
    @Threads(1)
    public byte[] get1Thread(Loaded state) {
        return state.db.get(state.randomKey());
    }

    @Benchmark
    @Threads(2)
    public byte[] get2Threads(Loaded state) {
        return state.db.get(state.randomKey());
    }

    @Benchmark
    @Threads(1)
    public byte[] get1ThreadKeyInHand(Loaded state, KeyInHand key) {
        return state.db.get(key.randomKey());
    }

    @Benchmark
    @Threads(2)
    public byte[] get2ThreadsKeyInHand(Loaded state, KeyInHand key) {
        return state.db.get(key.randomKey());
    }

    @Benchmark
    @Threads(2)
    public byte[] mixed2Threads(Loaded state) {
        byte[] key = state.randomKey();
        return ThreadLocalRandom.current().nextInt(100) < 5 ? state.db.insert(key, state.value) : state.db.get(key);
    }

    @Benchmark
    @Threads(2)
    public byte[] mixed2ThreadsKeyInHand(Loaded state, KeyInHand key) {
        byte[] k = key.randomKey();
        // The tree copies the arrays it is given (Tree's contract), so the buffer may be reused after an insert too.
        return ThreadLocalRandom.current().nextInt(100) < 5 ? state.db.insert(k, state.value) : state.db.get(k);
    }

    @Benchmark
    @Threads(1)
    public long durablePut1Writer(Loaded state) {
        state.db.insert(state.randomKey(), state.value);
        return state.db.flush();
    }

    @Benchmark
    @Threads(16)
    public long durablePut16Writers(Loaded state) {
        state.db.insert(state.randomKey(), state.value);
        return state.db.flush();
    }

    /**
     * The machine's reference: the keys and values in a {@code ConcurrentHashMap}, keyed by content (a
     * {@code ByteBuffer} over the key's bytes). A put keeps a copy of its key, as the tree does.
     */
    @State(Scope.Benchmark)
    public static class HashMapLoaded {
        final byte[][] keys = keys();
        final byte[] value = value();
        ConcurrentMap<ByteBuffer, byte[]> map;

        ConcurrentMap<ByteBuffer, byte[]> newMap() {
            return new ConcurrentHashMap<>();
        }

        @Setup(Level.Trial)
        public void load() {
            map = newMap();
            for (byte[] key : keys) {
                map.put(ByteBuffer.wrap(key), value);
            }
        }
    }

    /**
     * The ordered reference: the same in a {@code ConcurrentSkipListMap} (the JDK's ordered concurrent map; keys
     * in {@code ByteBuffer} order, signed where the tree's are unsigned, the same work).
     */
    @State(Scope.Benchmark)
    public static class SkipListLoaded extends HashMapLoaded {
        @Override
        ConcurrentMap<ByteBuffer, byte[]> newMap() {
            return new ConcurrentSkipListMap<>();
        }
    }

    /** An empty {@code ConcurrentHashMap} per iteration, for {@link #hashMapLoad}. */
    @State(Scope.Benchmark)
    public static class HashMapEmpty {
        final byte[][] keys = keys();
        final byte[] value = value();
        ConcurrentMap<ByteBuffer, byte[]> map;
        int next;

        ConcurrentMap<ByteBuffer, byte[]> newMap() {
            return new ConcurrentHashMap<>();
        }

        @Setup(Level.Iteration)
        public void open() {
            map = newMap();
            next = 0;
        }
    }

    /** An empty {@code ConcurrentSkipListMap} per iteration, for {@link #skipListLoad}. */
    @State(Scope.Benchmark)
    public static class SkipListEmpty extends HashMapEmpty {
        @Override
        ConcurrentMap<ByteBuffer, byte[]> newMap() {
            return new ConcurrentSkipListMap<>();
        }
    }

    @Benchmark
    @Threads(1)
    public byte[] hashMapLoad(HashMapEmpty state) {
        return referenceLoad(state);
    }

    @Benchmark
    @Threads(1)
    public byte[] hashMapGet1ThreadKeyInHand(HashMapLoaded state, KeyInHand key) {
        return state.map.get(ByteBuffer.wrap(key.randomKey()));
    }

    @Benchmark
    @Threads(2)
    public byte[] hashMapGet2ThreadsKeyInHand(HashMapLoaded state, KeyInHand key) {
        return state.map.get(ByteBuffer.wrap(key.randomKey()));
    }

    @Benchmark
    @Threads(2)
    public byte[] hashMapMixed2ThreadsKeyInHand(HashMapLoaded state, KeyInHand key) {
        return referenceMixed(state, key);
    }

    @Benchmark
    @Threads(1)
    public byte[] skipListLoad(SkipListEmpty state) {
        return referenceLoad(state);
    }

    @Benchmark
    @Threads(1)
    public byte[] skipListGet1ThreadKeyInHand(SkipListLoaded state, KeyInHand key) {
        return state.map.get(ByteBuffer.wrap(key.randomKey()));
    }

    @Benchmark
    @Threads(2)
    public byte[] skipListGet2ThreadsKeyInHand(SkipListLoaded state, KeyInHand key) {
        return state.map.get(ByteBuffer.wrap(key.randomKey()));
    }

    @Benchmark
    @Threads(2)
    public byte[] skipListMixed2ThreadsKeyInHand(SkipListLoaded state, KeyInHand key) {
        return referenceMixed(state, key);
    }

    private static byte[] referenceLoad(HashMapEmpty state) {
        // As load: past 1 M the keys come round again as overwrites.
        return state.map.put(ByteBuffer.wrap(state.keys[state.next++ % KEYS]), state.value);
    }

    private static byte[] referenceMixed(HashMapLoaded state, KeyInHand key) {
        byte[] k = key.randomKey();
        return ThreadLocalRandom.current().nextInt(100) < 5 ? state.map.put(ByteBuffer.wrap(k.clone()), state.value)
                : state.map.get(ByteBuffer.wrap(k));
    }

    /** The baseline's file: one 116-byte record (a key and a value) appended and fdatasynced per op. */
    @State(Scope.Thread)
    public static class BaselineFile {
        final ByteBuffer record = ByteBuffer.allocateDirect(KEY_SIZE + VALUE_SIZE);
        Path dir;
        FileChannel channel;
        long end;

        @Setup(Level.Trial)
        public void open() throws IOException {
            dir = BenchDirs.create("tree-baseline");
            channel = FileChannel.open(dir.resolve("log"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            channel.close();
            BenchDirs.delete(dir);
        }
    }

    @Benchmark
    @Threads(1)
    public long baseline(BaselineFile file) throws IOException {
        file.record.clear();
        while (file.record.hasRemaining()) {
            file.end += file.channel.write(file.record, file.end);
        }
        file.channel.force(false);
        return file.end;
    }

    /** The loaded store, closed before each timed open. */
    @State(Scope.Benchmark)
    public static class Closed {
        Path dir;
        Db db;

        @Setup(Level.Trial)
        public void load() {
            dir = BenchDirs.create("tree-reopen");
            byte[] value = value();
            try (Db loaded = Toboggan.open(config(dir, "fsync", "4KiB"))) {
                for (byte[] key : keys()) {
                    loaded.insert(key, value);
                }
            }
        }

        @TearDown(Level.Invocation)
        public void closeOpened() {
            db.close();
        }

        @TearDown(Level.Trial)
        public void delete() {
            BenchDirs.delete(dir);
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 3, batchSize = 1)
    @Measurement(iterations = 5, batchSize = 1)
    public Db reopen(Closed state) {
        state.db = Toboggan.open(config(state.dir, "fsync", "4KiB"));
        return state.db;
    }
}
