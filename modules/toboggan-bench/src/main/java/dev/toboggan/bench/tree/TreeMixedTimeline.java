package dev.toboggan.bench.tree;

import com.typesafe.config.ConfigFactory;
import dev.toboggan.Db;
import dev.toboggan.StoreInternals;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDirs;
import dev.toboggan.core.log.LogStats;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.SegmentCleaning;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * {@link TreeBenchmark#mixed2Threads}'s workload (1 M random 16-byte keys with 100-byte values loaded; two
 * threads, each op a get of a random present key or, 5 % of the time, an overwrite of it with the same
 * value) run for a while right after the load, as JMH runs it, with a timeline of what the store did next to
 * the operations: to find what makes a JMH iteration of it fall far below the others.
 *
 * <pre>
 * java -Xlog:gc:file=gc.log -cp modules/toboggan-bench/target/benchmarks.jar \
 *     dev.toboggan.bench.tree.TreeMixedTimeline [--seconds=30] [--every=100] [--segments] [toboggan.key=value ...]
 * </pre>
 *
 * Every {@code --every} milliseconds (default 100) one line: the time since the workload started, the
 * operations each thread completed in the interval and the overwrites among them, the longest single
 * operation of either thread; the segment cleaner's passes, pages rewritten, MB cleaned and segments freed
 * in the interval, the changes {@code SpaceGate} delayed or held and the time writers waited; the cleaner's
 * space amplification gauge and the segments in use; young and old collections and their reported time;
 * snapshots (a change of the newest snapshot's LSN), log forces, MB written; the CPU of the store's
 * background threads ({@code toboggan-*}) and of the garbage collector and JIT (the process's less all
 * Java threads'), in ms. {@code --segments} adds, once a second, every segment's live share, oldest first
 * (a scan of the page table, as a cleaner's pass makes). A closing summary gives the operations per second,
 * and the intervals under half the median rate with what happened in them; the wall clock at which the
 * workload started is printed first, to line the timeline up with the store's debug log. Compare jars with
 * the same driver first on the class path: it uses only public API that main has had since issue 8's
 * cleaner (the store's page cache through {@link StoreInternals}).
 */
public final class TreeMixedTimeline {
    private static final com.sun.management.OperatingSystemMXBean PROCESS =
            ManagementFactory.getPlatformMXBean(com.sun.management.OperatingSystemMXBean.class);
    private static volatile long consumed;

    private TreeMixedTimeline() {}

    /** One worker's running counts: written by the worker only, read by the sampler. */
    static final class Counts {
        final AtomicLong ops = new AtomicLong();
        final AtomicLong writes = new AtomicLong();
        /** The longest operation since the sampler last took it (ns). */
        final AtomicLong longest = new AtomicLong();
        // keep two workers' counters off one cache line
        @SuppressWarnings("unused")
        long p1, p2, p3, p4, p5, p6, p7, p8;
    }

    public static void main(String[] args) throws Exception {
        int seconds = 30;
        int everyMillis = 100;
        boolean segments = false;
        Map<String, String> overrides = new HashMap<>();
        for (String arg : args) {
            if (arg.startsWith("--seconds=")) {
                seconds = Integer.parseInt(arg.substring("--seconds=".length()));
            } else if (arg.startsWith("--every=")) {
                everyMillis = Integer.parseInt(arg.substring("--every=".length()));
            } else if (arg.equals("--segments")) {
                segments = true;
            } else if (arg.indexOf('=') > 0 && !arg.startsWith("-")) {
                overrides.put(arg.substring(0, arg.indexOf('=')), arg.substring(arg.indexOf('=') + 1));
            } else {
                throw new IllegalArgumentException("arguments are --seconds=N, --every=MILLIS, --segments or "
                        + "toboggan.key=value, got '" + arg + "'");
            }
        }
        byte[][] keys = TreeBenchmark.keys();
        byte[] value = TreeBenchmark.value();
        double data = (double) keys.length * (keys[0].length + value.length);
        Path dir = BenchDirs.create("tree-mixed");
        try (Db db = Toboggan.open(ConfigFactory.parseMap(overrides)
                .withFallback(TreeBenchmark.config(dir, "fsync", "4KiB")))) {
            long loadStart = System.nanoTime();
            for (byte[] key : keys) {
                db.insert(key, value);
            }
            db.flush();
            System.out.printf("loaded %d keys in %.1f s, space amplification %.3f%n", keys.length,
                    (System.nanoTime() - loadStart) / 1e9, db.sizeOnDisk() / data);
            run(db, keys, value, seconds, everyMillis, segments, data);
        } finally {
            BenchDirs.delete(dir);
        }
    }

    private static void run(Db db, byte[][] keys, byte[] value, int seconds, int everyMillis,
            boolean segments, double data)
            throws InterruptedException {
        PageCache<?, ?> cache = StoreInternals.pageCache(db);
        SegmentCleaning cleaning = cache.cleaning();
        AtomicBoolean running = new AtomicBoolean(true);
        Counts[] counts = {new Counts(), new Counts()};
        Thread[] workers = new Thread[counts.length];
        for (int t = 0; t < workers.length; t++) {
            Counts c = counts[t];
            SplittableRandom random = new SplittableRandom(t + 1);
            workers[t] = new Thread(() -> {
                long sink = 0;
                while (running.get()) {
                    byte[] key = keys[random.nextInt(keys.length)];
                    long begin = System.nanoTime();
                    if (random.nextInt(100) < 5) {
                        db.insert(key, value);
                        c.writes.setRelease(c.writes.getPlain() + 1);
                    } else {
                        sink += db.get(key).length;
                    }
                    long took = System.nanoTime() - begin;
                    if (took > c.longest.getPlain()) {
                        c.longest.accumulateAndGet(took, Math::max);
                    }
                    c.ops.setRelease(c.ops.getPlain() + 1);
                }
                consumed += sink;
            }, "mixed-" + t);
        }
        List<String> lines = new ArrayList<>();
        List<double[]> rows = new ArrayList<>(); // (ops, pages rewritten) per interval
        System.out.println("ms ops0 ops1 writes longestMs | passes rewritten MBcleaned freed delayed held waitMs amp "
                + "inUse | young old gcMs | snaps forces MBwritten | bgCpuMs gcJitCpuMs");
        Sample last = Sample.take(cache, counts);
        long start = System.nanoTime();
        System.out.println("the workload starts at " + java.time.LocalTime.now());
        for (Thread w : workers) {
            w.start();
        }
        long intervals = (long) seconds * 1000 / everyMillis;
        for (long i = 1; i <= intervals; i++) {
            long wake = start + i * everyMillis * 1_000_000L;
            for (long now = System.nanoTime(); now < wake; now = System.nanoTime()) {
                LockSupport.parkNanos(wake - now);
            }
            Sample s = Sample.take(cache, counts);
            long ops0 = s.ops[0] - last.ops[0];
            long ops1 = s.ops[1] - last.ops[1];
            long longest = Math.max(counts[0].longest.getAndSet(0), counts[1].longest.getAndSet(0));
            String line = String.format("%5d %6d %6d %4d %6.1f | %3d %6d %5.1f %2d %5d %3d %5d %.3f %3d | %d %d %4d | "
                    + "%d %2d %5.1f | %4d %4d", (System.nanoTime() - start) / 1_000_000, ops0, ops1,
                    s.writes - last.writes, longest / 1e6, s.cleaner.passes() - last.cleaner.passes(),
                    s.cleaner.pagesRewritten() - last.cleaner.pagesRewritten(),
                    (s.cleaner.bytesCleaned() - last.cleaner.bytesCleaned()) / 1e6,
                    s.cleaner.segmentsFreed() - last.cleaner.segmentsFreed(),
                    s.cleaner.delayedWrites() - last.cleaner.delayedWrites(),
                    s.cleaner.heldWrites() - last.cleaner.heldWrites(),
                    s.cleaner.writeWaitMillis() - last.cleaner.writeWaitMillis(), s.cleaner.spaceAmplification(),
                    s.segmentsInUse, s.young - last.young, s.old - last.old, s.gcMillis - last.gcMillis,
                    s.snapshotLsn != last.snapshotLsn ? 1 : 0, s.log.forces() - last.log.forces(),
                    (s.log.bytesWritten() - last.log.bytesWritten()) / 1e6,
                    (s.backgroundCpu - last.backgroundCpu) / 1_000_000,
                    (s.processCpu - s.javaCpu - (last.processCpu - last.javaCpu)) / 1_000_000);
            System.out.println(line);
            lines.add(line);
            if (segments && i % (1000 / everyMillis) == 0) {
                StringBuilder shares = new StringBuilder("live % per segment, oldest first:");
                cleaning.liveBytesBySegment().entrySet().stream().sorted(Map.Entry.comparingByKey())
                        .forEach(e -> shares.append(' ').append(e.getValue() * 100 / cache.log().segmentSize()));
                System.out.println(shares);
            }
            rows.add(new double[] {ops0 + ops1, s.cleaner.pagesRewritten() - last.cleaner.pagesRewritten()});
            last = s;
        }
        running.set(false);
        for (Thread w : workers) {
            w.join();
        }
        summarize(lines, rows, everyMillis, db.sizeOnDisk() / data);
    }

    /** Operations per second per second of the run, and the intervals under half the median with their lines. */
    private static void summarize(List<String> lines, List<double[]> rows, int everyMillis, double amplification) {
        double[] ops = rows.stream().mapToDouble(r -> r[0]).toArray();
        double[] sorted = ops.clone();
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        int perSecond = 1000 / everyMillis;
        StringBuilder seconds = new StringBuilder("ops/s per second:");
        for (int s = 0; s + perSecond <= ops.length; s += perSecond) {
            double sum = 0;
            for (int i = s; i < s + perSecond; i++) {
                sum += ops[i];
            }
            seconds.append(String.format(" %.0fk", sum / 1000));
        }
        System.out.println(seconds);
        double total = Arrays.stream(ops).sum();
        System.out.printf("overall %.0f ops/s; per interval median %.0f, min %.0f; space amplification at the end %.3f%n",
                total * 1000 / (ops.length * (double) everyMillis), median, sorted[0], amplification);
        int dips = 0;
        double rewrittenInDips = 0;
        double rewrittenElsewhere = 0;
        for (int i = 0; i < rows.size(); i++) {
            if (ops[i] < median / 2) {
                dips++;
                rewrittenInDips += rows.get(i)[1];
            } else {
                rewrittenElsewhere += rows.get(i)[1];
            }
        }
        System.out.printf("intervals under half the median: %d of %d; pages rewritten per interval in them %.0f, "
                + "elsewhere %.0f%n", dips, rows.size(), dips == 0 ? 0 : rewrittenInDips / dips,
                rewrittenElsewhere / Math.max(1, rows.size() - dips));
        for (int i = 0; i < rows.size(); i++) {
            if (ops[i] < median / 2) {
                System.out.println("dip: " + lines.get(i));
            }
        }
    }

    /** The counters the timeline differences, read at one moment. */
    private record Sample(long[] ops, long writes, SegmentCleaning.Metrics cleaner, int segmentsInUse, long young,
            long old, long gcMillis, long snapshotLsn, LogStats log, long backgroundCpu, long processCpu,
            long javaCpu) {
        static Sample take(PageCache<?, ?> cache, Counts[] counts) {
            long young = 0;
            long old = 0;
            for (GarbageCollectorMXBean collector : ManagementFactory.getGarbageCollectorMXBeans()) {
                long n = Math.max(0, collector.getCollectionCount());
                if (collector.getName().contains("Young")) {
                    young += n;
                } else {
                    old += n;
                }
            }
            return new Sample(new long[] {counts[0].ops.get(), counts[1].ops.get()},
                    counts[0].writes.get() + counts[1].writes.get(), cache.cleaning().metrics(),
                    cache.log().segmentsInUse(), young, old, TreeLoadCost.gcMillis(),
                    cache.snapshots().lastSnapshotLsn(), cache.log().stats(), TreeLoadCost.backgroundCpu(),
                    PROCESS.getProcessCpuTime(), TreeLoadCost.javaCpu());
        }
    }
}
