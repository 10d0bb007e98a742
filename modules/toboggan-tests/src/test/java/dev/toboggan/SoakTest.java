package dev.toboggan;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The soak run ({@code -Psoak}, 30 minutes by default, {@code -Dtoboggan.soak.minutes=N}): a mixed workload
 * (reads, overwrites, removes, short scans, batches; values from tens of bytes to blobs) on a store in a
 * real directory, over {@code -Dtoboggan.soak.keys} keys (2 million by default, more data than the page
 * cache is meant to hold; {@code -Dtoboggan.soak.config} adds HOCON settings, e.g. a cache bound). Every
 * second it writes a row to {@code target/soak.csv}: operations, p99 latency (µs, from a log-bucketed
 * histogram, within 10 %), heap used after the last collection (MiB), and size on disk (MiB).
 *
 * <p>The criterion for "no leak, no unbounded growth", tolerant because the machine is shared and noisy:
 * after a warm-up (the first fifth of the run), the medians of the last tenth of the rows are compared
 * with those of the tenth right after the warm-up. Heap after GC may grow by at most half plus 64 MiB,
 * size on disk by at most double plus 64 MiB, p99 latency by at most 3 times plus 5 ms, and throughput
 * may fall to no less than half. Charts of such a run: {@code ./toboggan stress --report} (the CLI).
 */
@Tag("soak")
class SoakTest {
    private static final long MINUTES = Long.getLong("toboggan.soak.minutes", 30);
    private static final int KEYS = Integer.getInteger("toboggan.soak.keys", 2_000_000);
    private static final int THREADS = 2;
    private static final long SEED = Long.getLong("toboggan.test.seed", System.nanoTime());
    private static final Path REPORTS = Path.of(System.getProperty("toboggan.report.dir", "target"));
    /** Latency buckets: bucket b holds latencies below 2^(b/4) ns (about 19 % apart). */
    private static final int BUCKETS = 4 * 40;

    private final AtomicBoolean stop = new AtomicBoolean();
    private volatile AtomicLongArray histogram = new AtomicLongArray(BUCKETS);

    record Row(long second, long ops, long p99Micros, long heapMiB, long diskMiB) {}

    @Test
    void throughputLatencyHeapAndDiskStayFlat(@TempDir Path dir) throws Exception {
        System.out.println("SoakTest seed " + SEED + ", " + MINUTES + " min over " + KEYS + " keys");
        Config config = ConfigFactory.parseString(System.getProperty("toboggan.soak.config", ""))
                .withFallback(ConfigFactory.parseString("toboggan.segment-size = 8MiB"));
        List<Row> rows = new ArrayList<>();
        Path csv = REPORTS.resolve("soak.csv");
        Files.createDirectories(REPORTS);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try (Db db = Toboggan.open(config, dir.resolve("store"));
                PrintWriter out = new PrintWriter(Files.newBufferedWriter(csv))) {
            out.println("second,ops,p99_us,heap_after_gc_mib,disk_mib");
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                SplittableRandom r = new SplittableRandom(SEED + t);
                workers.add(pool.submit(() -> work(db, r)));
            }
            long start = System.nanoTime();
            long end = start + TimeUnit.MINUTES.toNanos(MINUTES);
            for (long second = 1; System.nanoTime() < end; second++) {
                Thread.sleep(Math.max(0, TimeUnit.NANOSECONDS.toMillis(start + TimeUnit.SECONDS.toNanos(second)
                        - System.nanoTime())));
                AtomicLongArray done = histogram;
                histogram = new AtomicLongArray(BUCKETS);
                Row row = new Row(second, count(done), p99Micros(done), heapAfterGcMiB(), db.sizeOnDisk() >> 20);
                rows.add(row);
                out.println(row.second() + "," + row.ops() + "," + row.p99Micros() + "," + row.heapMiB() + ","
                        + row.diskMiB());
                out.flush();
                for (Future<?> w : workers) {
                    if (w.isDone()) {
                        w.get(); // a worker that stopped failed: say why
                    }
                }
            }
            stop.set(true);
            for (Future<?> w : workers) {
                w.get(60, TimeUnit.SECONDS);
            }
        } finally {
            stop.set(true);
            pool.shutdownNow();
        }
        System.out.println("SoakTest: " + rows.size() + " rows in " + csv);
        checkFlat(rows);
    }

    private void work(Db db, SplittableRandom r) {
        Tree tree = db.tree("soak");
        while (!stop.get()) {
            byte[] key = ByteBuffer.allocate(8).putLong(r.nextInt(KEYS)).array();
            int roll = r.nextInt(100);
            long t0 = System.nanoTime();
            if (roll < 50) {
                tree.get(key);
            } else if (roll < 80) {
                tree.insert(key, TestKeys.value(t0, length(r)));
            } else if (roll < 90) {
                tree.remove(key);
            } else if (roll < 95) {
                Iterator<Map.Entry<byte[], byte[]>> it = tree.range(key, null);
                for (int i = 0; i < 20 && it.hasNext(); i++) {
                    it.next();
                }
            } else {
                Batch batch = new Batch();
                for (int i = 0; i < 8; i++) {
                    batch.insert(ByteBuffer.allocate(8).putLong(r.nextInt(KEYS)).array(), TestKeys.value(t0 + i, length(r)));
                }
                tree.applyBatch(batch);
            }
            record(System.nanoTime() - t0);
        }
    }

    private static int length(SplittableRandom r) {
        // One in 20 000 a blob (over a quarter of the 8 MiB segment), one in 50 a value page, else inline.
        int roll = r.nextInt(20_000);
        return roll == 0 ? 2_200_000 + r.nextInt(800_000) : roll < 400 ? 2000 + r.nextInt(6000) : 20 + r.nextInt(200);
    }

    private void record(long nanos) {
        int bucket = Math.min(BUCKETS - 1, (int) Math.ceil(4 * Math.log(Math.max(1, nanos)) / Math.log(2)));
        histogram.incrementAndGet(bucket);
    }

    private static long count(AtomicLongArray h) {
        long n = 0;
        for (int b = 0; b < h.length(); b++) {
            n += h.get(b);
        }
        return n;
    }

    private static long p99Micros(AtomicLongArray h) {
        long n = count(h);
        long seen = 0;
        for (int b = 0; b < h.length(); b++) {
            seen += h.get(b);
            if (seen * 100 >= n * 99 && n > 0) {
                return (long) Math.pow(2, b / 4.0) / 1000;
            }
        }
        return 0;
    }

    /** Heap in use right after the last collection of each heap pool (no collection is forced). */
    private static long heapAfterGcMiB() {
        long bytes = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            MemoryUsage usage = pool.getCollectionUsage();
            if (pool.getType() == MemoryType.HEAP && usage != null) {
                bytes += usage.getUsed();
            }
        }
        return bytes >> 20;
    }

    /** The documented criterion (class comment). */
    static void checkFlat(List<Row> rows) {
        assertThat(rows.size()).as("rows: the soak must run long enough to compare").isGreaterThanOrEqualTo(20);
        int warm = rows.size() / 5;
        int tenth = Math.max(2, rows.size() / 10);
        List<Row> early = rows.subList(warm, warm + tenth);
        List<Row> late = rows.subList(rows.size() - tenth, rows.size());
        long heapEarly = median(early.stream().mapToLong(Row::heapMiB));
        long heapLate = median(late.stream().mapToLong(Row::heapMiB));
        long diskEarly = median(early.stream().mapToLong(Row::diskMiB));
        long diskLate = median(late.stream().mapToLong(Row::diskMiB));
        long p99Early = median(early.stream().mapToLong(Row::p99Micros));
        long p99Late = median(late.stream().mapToLong(Row::p99Micros));
        long opsEarly = median(early.stream().mapToLong(Row::ops));
        long opsLate = median(late.stream().mapToLong(Row::ops));
        System.out.printf("SoakTest medians early -> late: heap %d -> %d MiB, disk %d -> %d MiB, p99 %d -> %d us, "
                + "%d -> %d ops/s%n", heapEarly, heapLate, diskEarly, diskLate, p99Early, p99Late, opsEarly, opsLate);
        // Every criterion is checked and reported, not only the first that fails.
        SoftAssertions.assertSoftly(soft -> {
            soft.assertThat(heapLate).as("heap after GC (MiB) at the end vs after warm-up")
                    .isLessThanOrEqualTo(heapEarly + heapEarly / 2 + 64);
            soft.assertThat(diskLate).as("size on disk (MiB) at the end vs after warm-up")
                    .isLessThanOrEqualTo(2 * diskEarly + 64);
            soft.assertThat(p99Late).as("p99 latency (us) at the end vs after warm-up")
                    .isLessThanOrEqualTo(3 * p99Early + 5000);
            soft.assertThat(opsLate).as("operations per second at the end vs after warm-up")
                    .isGreaterThanOrEqualTo(opsEarly / 2);
        });
    }

    private static long median(java.util.stream.LongStream values) {
        long[] sorted = values.sorted().toArray();
        return sorted[sorted.length / 2];
    }
}
