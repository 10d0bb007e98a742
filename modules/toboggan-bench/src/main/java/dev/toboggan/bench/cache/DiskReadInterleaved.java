package dev.toboggan.bench.cache;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link DiskReadBenchmark}'s stores in ONE JVM, read in short alternating rounds, for a machine too
 * loaded for separate JMH forks to compare (the load moves more between two forks a minute apart than
 * the stores differ): each round gives every store the same slice of time, in alternating order, and
 * the figures are per-round ratios to the first store, plus the process CPU time per read (all threads:
 * the readers, the Evictor, GC and JIT), which another process's load hardly moves.
 *
 * <pre>
 * java $FLAGS -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.cache.DiskReadInterleaved \
 *     uniform 1 2 28 8 toboggan lmdb
 * </pre>
 * Arguments: distribution ({@code uniform} or {@code zipf}), reader threads, seconds per round, rounds,
 * warm-up rounds left out of the summary, then the stores ({@code toboggan}, {@code lmdb}; a Toboggan
 * store may carry settings after a colon, e.g. {@code toboggan:toboggan.page-in-parallelism=1}, but two
 * Toboggan stores need two data directories, so only one per run). {@code -Dkeys} (400000) and
 * {@code -Dfraction} (0.25) as the benchmark's parameters; the data sets are the benchmark's.
 */
public final class DiskReadInterleaved {
    private DiskReadInterleaved() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length < 6) {
            System.err.println("usage: DiskReadInterleaved uniform|zipf threads seconds-per-round rounds warm-up-rounds "
                    + "store...");
            System.exit(2);
        }
        String distribution = args[0];
        int threads = Integer.parseInt(args[1]);
        double seconds = Double.parseDouble(args[2]);
        int rounds = Integer.parseInt(args[3]);
        int warmUp = Integer.parseInt(args[4]);
        List<String> names = Arrays.asList(args).subList(5, args.length);
        List<DiskReadBenchmark> stores = new ArrayList<>();
        List<DiskReadBenchmark.ThreadState[]> states = new ArrayList<>();
        for (String name : names) {
            String[] parts = name.split(":", 2);
            DiskReadBenchmark store = new DiskReadBenchmark();
            store.keys = Integer.getInteger("keys", 400_000);
            store.store = parts[0];
            store.distribution = distribution;
            store.cacheFraction = Double.parseDouble(System.getProperty("fraction", "0.25"));
            store.tobogganSettings = parts.length > 1 ? parts[1] : "";
            store.open();
            DiskReadBenchmark.ThreadState[] readers = new DiskReadBenchmark.ThreadState[threads];
            for (int t = 0; t < threads; t++) {
                readers[t] = new DiskReadBenchmark.ThreadState();
                readers[t].seed(store);
            }
            stores.add(store);
            states.add(readers);
        }
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        double[][] readsPerSecond = new double[stores.size()][rounds];
        double[][] cpuMicrosPerRead = new double[stores.size()][rounds];
        for (int r = 0; r < rounds; r++) {
            for (int k = 0; k < stores.size(); k++) {
                int s = r % 2 == 0 ? k : stores.size() - 1 - k;
                DiskReadBenchmark store = stores.get(s);
                store.markIteration();
                long end = System.nanoTime() + (long) (seconds * 1e9);
                AtomicLong reads = new AtomicLong();
                Thread[] readers = new Thread[threads];
                long start = System.nanoTime();
                long cpuStart = os.getProcessCpuTime();
                for (int t = 0; t < threads; t++) {
                    DiskReadBenchmark.ThreadState state = states.get(s)[t];
                    readers[t] = new Thread(() -> {
                        long n = 0;
                        while (System.nanoTime() < end) {
                            for (int i = 0; i < 50; i++) {
                                store.get1Thread(state);
                            }
                            n += 50;
                        }
                        reads.addAndGet(n);
                    });
                    readers[t].start();
                }
                for (Thread reader : readers) {
                    reader.join();
                }
                readsPerSecond[s][r] = reads.get() / ((System.nanoTime() - start) / 1e9);
                cpuMicrosPerRead[s][r] = (os.getProcessCpuTime() - cpuStart) / 1e3 / reads.get();
                System.out.printf("round %d %-40s %10.0f reads/s %8.2f CPU us/read%n", r, names.get(s),
                        readsPerSecond[s][r], cpuMicrosPerRead[s][r]);
                store.report();
            }
        }
        System.out.printf("%n== %s, %d threads, rounds %d..%d of %.1f s; load average now %.1f%n", distribution, threads,
                warmUp, rounds - 1, seconds, os.getSystemLoadAverage());
        for (int s = 0; s < stores.size(); s++) {
            double[] ratios = new double[rounds - warmUp];
            for (int r = warmUp; r < rounds; r++) {
                ratios[r - warmUp] = readsPerSecond[s][r] / readsPerSecond[0][r];
            }
            System.out.printf("%-40s reads/s %s | per-round ratio to %s %s | CPU us/read %s%n", names.get(s),
                    summary(Arrays.copyOfRange(readsPerSecond[s], warmUp, rounds), "%.0f"), names.get(0),
                    summary(ratios, "%.3f"), summary(Arrays.copyOfRange(cpuMicrosPerRead[s], warmUp, rounds), "%.2f"));
        }
        for (DiskReadBenchmark store : stores) {
            store.close();
        }
    }

    /** "median m (min a, max b)". */
    private static String summary(double[] values, String format) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return "median " + String.format(format, sorted[sorted.length / 2]) + " (min " + String.format(format, sorted[0])
                + ", max " + String.format(format, sorted[sorted.length - 1]) + ")";
    }
}
