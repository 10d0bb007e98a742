package dev.toboggan.bench.journal;

import dev.toboggan.bench.BenchDirs;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorSystem;

/**
 * The CPU time, not only the wall-clock time, that {@code persistAsync} of 10 000 events costs each journal:
 * on a machine shared with other work, wall-clock times swing by 5× from run to run, while the CPU time
 * the process spends per run (all its threads: the persistent actor, the journal, the store's flusher, GC)
 * says what the journal's own work costs. Rounds alternate the journals' order; each journal runs in an
 * actor system of its own, one after the other in this JVM.
 *
 * <pre>{@code
 * java -cp benchmarks.jar <the flags of BenchFlags> dev.toboggan.bench.journal.JournalCpu [rounds] [runs] [journals]
 * }</pre>
 *
 * Defaults: 3 rounds, each 3 warm-up and 8 measured runs per journal, journals {@code toboggan,leveldb,inmem}.
 * Prints per round and journal the median wall and CPU milliseconds per run.
 */
public final class JournalCpu {
    private JournalCpu() {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        List<String> journals = Arrays.asList((args.length > 2 ? args[2] : "toboggan,leveldb,inmem").split(","));
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        for (int round = 1; round <= rounds; round++) {
            List<String> order = new ArrayList<>(journals);
            if (round % 2 == 0) {
                java.util.Collections.reverse(order);
            }
            Map<String, double[][]> results = new LinkedHashMap<>();
            for (String journal : order) {
                Path directory = BenchDirs.create("journal-cpu-" + journal);
                ActorSystem system = ActorSystem.create("bench", Journals.config(journal, directory));
                try {
                    for (int i = 0; i < 3; i++) {
                        Writer.persistAll(system, "warm-up-" + i, true, JournalBenchmark.EVENTS);
                    }
                    double[] wall = new double[runs];
                    double[] cpu = new double[runs];
                    for (int i = 0; i < runs; i++) {
                        long cpuStart = os.getProcessCpuTime();
                        long start = System.nanoTime();
                        Writer.persistAll(system, "run-" + i, true, JournalBenchmark.EVENTS);
                        wall[i] = (System.nanoTime() - start) / 1e6;
                        cpu[i] = (os.getProcessCpuTime() - cpuStart) / 1e6;
                    }
                    results.put(journal, new double[][] {wall, cpu});
                } finally {
                    system.terminate();
                    system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
                    BenchDirs.delete(directory);
                }
            }
            for (String journal : journals) {
                double[][] r = results.get(journal);
                System.out.printf("round %d %-8s persistAsync 10000: wall median %7.1f ms [%s]  cpu median %7.1f ms [%s]%n",
                        round, journal, median(r[0]), range(r[0]), median(r[1]), range(r[1]));
            }
            System.out.flush();
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static String range(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return String.format("%.0f-%.0f", sorted[0], sorted[sorted.length - 1]);
    }
}
