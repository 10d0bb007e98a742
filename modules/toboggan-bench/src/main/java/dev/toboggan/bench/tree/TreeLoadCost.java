package dev.toboggan.bench.tree;

import com.sun.management.OperatingSystemMXBean;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDirs;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Issue 8's load alone ({@link TreeBenchmark}'s 1 M random 16-byte keys with 100-byte values, {@code fsync},
 * 4 KiB nodes) and what the store does with the space afterwards: where the CPU went, what the segment
 * cleaner did, and the space amplification right after the load's flush and while the store settles.
 *
 * <pre>
 * java -Xms3g -Xmx3g -XX:+AlwaysPreTouch -cp modules/toboggan-bench/target/benchmarks.jar \
 *     dev.toboggan.bench.tree.TreeLoadCost [--warm-up] [toboggan.key=value ...]
 * </pre>
 *
 * {@code --warm-up} first loads the same keys into a store of its own (deleted after), so that the measured
 * load does not pay the JIT's compilations (2–4 µs of process CPU per insert of a cold load).
 * Arguments override the store's settings (e.g. {@code toboggan.max-space-amplification=2.0}). Prints one
 * {@code load:} line (writer CPU and wall rates, the process's CPU per insert and the background threads'
 * share, the cleaner's metrics at the end of the load (with the bytes the process wrote to storage since the
 * load began, from {@code /proc/self/io}), the largest size on disk a thread sampling every
 * 20 ms saw while the load ran), then {@code space:} lines: on disk / (keys × (key +
 * value bytes)) right after the flush and 1, 2, 3, 5 and 10 s later, with the cleaner's own gauge (on disk /
 * live pages as stored) and the pages it had rewritten by then. The cleaner's metrics are read through the
 * store's package-private page cache (reflection), so the class runs against any build's jar put after it
 * on the class path: a base and a new build are compared with the same driver.
 */
public final class TreeLoadCost {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final OperatingSystemMXBean PROCESS =
            ManagementFactory.getPlatformMXBean(OperatingSystemMXBean.class);
    private static final int[] SETTLE_SECONDS = {1, 2, 3, 5, 10};
    /** {@link #writtenBytes} when the measured load began. */
    private static long writtenAtLoad = -1;

    private TreeLoadCost() {}

    public static void main(String[] args) throws Exception {
        Map<String, String> overrides = new HashMap<>();
        boolean warmUp = false;
        for (String arg : args) {
            if (arg.equals("--warm-up")) {
                warmUp = true;
                continue;
            }
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("arguments are toboggan.key=value settings, got '" + arg + "'");
            }
            overrides.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        byte[][] keys = TreeBenchmark.keys();
        byte[] value = TreeBenchmark.value();
        double data = (double) keys.length * (keys[0].length + value.length);
        if (warmUp) {
            Path warm = BenchDirs.create("tree-load-warm-up");
            try (Db db = Toboggan.open(ConfigFactory.parseMap(overrides).withFallback(
                    TreeBenchmark.config(warm, "fsync", "4KiB")))) {
                for (byte[] key : keys) {
                    db.insert(key, value);
                }
            } finally {
                BenchDirs.delete(warm);
            }
            System.out.println("warmed up: one load into a store of its own, deleted");
        }
        Path dir = BenchDirs.create("tree-load");
        Config config = ConfigFactory.parseMap(overrides).withFallback(TreeBenchmark.config(dir, "fsync", "4KiB"));
        try (Db db = Toboggan.open(config)) {
            Method pageCache = db.getClass().getDeclaredMethod("pageCache");
            pageCache.setAccessible(true);
            Object cache = pageCache.invoke(db);
            Object cleaning = cache.getClass().getMethod("cleaning").invoke(cache);
            Method metrics = cleaning.getClass().getMethod("metrics");
            AtomicLong peak = new AtomicLong();
            AtomicBoolean loading = new AtomicBoolean(true);
            Thread sampler = new Thread(() -> {
                while (loading.get()) {
                    peak.accumulateAndGet(db.sizeOnDisk(), Math::max);
                    LockSupport.parkNanos(20_000_000);
                }
            }, "size-sampler");
            sampler.setDaemon(true);
            sampler.start();
            Cost cost = load(db, keys, value);
            loading.set(false);
            sampler.join();
            Object atLoad = metrics.invoke(cleaning);
            System.out.printf("load: %s; cleaner: %s; largest size on disk seen while loading (every 20 ms) %.3f of "
                    + "the keys and values%n", cost, summary(atLoad), peak.get() / data);
            long settleFrom = System.nanoTime();
            db.flush();
            System.out.printf("space: after the flush %.3f (cleaner's gauge %.3f)%n", db.sizeOnDisk() / data,
                    (double) get(atLoad, "spaceAmplification"));
            long settleCpu = PROCESS.getProcessCpuTime();
            for (int seconds : SETTLE_SECONDS) {
                long sleep = settleFrom + seconds * 1_000_000_000L - System.nanoTime();
                if (sleep > 0) {
                    Thread.sleep(sleep / 1_000_000);
                }
                Object m = metrics.invoke(cleaning);
                System.out.printf("space: %2d s later %.3f (cleaner's gauge %.3f), process CPU since the flush %.2f s; "
                        + "cleaner: %s%n", seconds, db.sizeOnDisk() / data, (double) get(m, "spaceAmplification"),
                        (PROCESS.getProcessCpuTime() - settleCpu) / 1e9, summary(m));
            }
        } finally {
            BenchDirs.delete(dir);
        }
    }

    /**
     * What a load cost, all times in nanoseconds: the writer thread's CPU, the wall clock, the process's CPU,
     * the store's background threads' CPU ({@code toboggan-*}), every Java thread's CPU (the rest of the
     * process's is the garbage collector's and the JIT's threads), and the collectors' reported time in ms.
     */
    record Cost(int inserts, long writer, long wall, long process, long background, long java, long gcMillis) {
        @Override
        public String toString() {
            return String.format("%,.0f inserts per writer CPU second, %,.0f per wall second; process CPU %.2f us "
                    + "per insert, of which the store's background threads %.2f us and what runs outside Java "
                    + "threads (GC, JIT) %.2f us; GC time %d ms", inserts * 1e9 / writer, inserts * 1e9 / wall,
                    process / 1e3 / inserts, background / 1e3 / inserts, (process - java) / 1e3 / inserts, gcMillis);
        }
    }

    /** Inserts every key with {@code value} on the calling thread, and says what it cost. */
    static Cost load(Db db, byte[][] keys, byte[] value) {
        writtenAtLoad = writtenBytes();
        long process = PROCESS.getProcessCpuTime();
        long background = backgroundCpu();
        long java = javaCpu();
        long gc = gcMillis();
        long wall = System.nanoTime();
        long cpu = THREADS.getCurrentThreadCpuTime();
        for (byte[] key : keys) {
            db.insert(key, value);
        }
        cpu = THREADS.getCurrentThreadCpuTime() - cpu;
        wall = System.nanoTime() - wall;
        return new Cost(keys.length, cpu, wall, PROCESS.getProcessCpuTime() - process, backgroundCpu() - background,
                javaCpu() - java, gcMillis() - gc);
    }

    private static String summary(Object m) throws ReflectiveOperationException {
        long written = writtenBytes();
        return String.format("passes %d, pages rewritten %d, MB cleaned %.0f, segments freed %d, "
                + "writes delayed %d, held %d, writers waited %d ms; written since the load began %s MB",
                (long) get(m, "passes"), (long) get(m, "pagesRewritten"),
                (long) get(m, "bytesCleaned") / 1e6, (long) get(m, "segmentsFreed"), (long) get(m, "delayedWrites"),
                (long) get(m, "heldWrites"), (long) get(m, "writeWaitMillis"),
                written < 0 || writtenAtLoad < 0 ? "?" : String.valueOf((written - writtenAtLoad) >> 20));
    }

    /** What this process has written to storage so far ({@code /proc/self/io}, Linux); -1 where unknown. */
    private static long writtenBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/io"))) {
                if (line.startsWith("write_bytes:")) {
                    return Long.parseLong(line.substring(12).strip());
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    @SuppressWarnings("unchecked")
    private static <T> T get(Object record, String component) throws ReflectiveOperationException {
        return (T) record.getClass().getMethod(component).invoke(record);
    }

    /** Time the garbage collectors reported so far (pauses, and G1's concurrent cycles). */
    static long gcMillis() {
        long total = 0;
        for (GarbageCollectorMXBean collector : ManagementFactory.getGarbageCollectorMXBeans()) {
            total += Math.max(0, collector.getCollectionTime());
        }
        return total;
    }

    /** CPU time so far of every live Java thread (not the garbage collector's and the JIT's threads). */
    static long javaCpu() {
        long total = 0;
        for (long id : THREADS.getAllThreadIds()) {
            total += Math.max(0, THREADS.getThreadCpuTime(id));
        }
        return total;
    }

    /** CPU time so far of the live threads the store started ({@code toboggan-*}: its actors' dispatchers). */
    static long backgroundCpu() {
        long total = 0;
        for (ThreadInfo thread : THREADS.getThreadInfo(THREADS.getAllThreadIds())) {
            if (thread != null && thread.getThreadName().startsWith("toboggan-")) {
                total += Math.max(0, THREADS.getThreadCpuTime(thread.getThreadId()));
            }
        }
        return total;
    }
}
