package dev.toboggan.bench.journal;

import dev.toboggan.bench.BenchDirs;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorSystem;

/**
 * The CPU time, not only the wall-clock time, that {@code persistAsync} of 10 000 events costs each journal:
 * on a machine shared with other work, wall-clock times swing by 5× from run to run, while CPU time says
 * what the work itself costs. Per run it measures the CPU time of all Java threads (the persistent actor,
 * the journal, the store's flusher; not the JVM's GC and compiler threads), and of the threads of Pekko's
 * plugin dispatcher alone, where the Toboggan and LevelDB journals run (the in-memory journal runs on the
 * default dispatcher, with the persistent actor). Rounds alternate the journals' order; each journal runs
 * in an actor system of its own, one after the other in this JVM.
 *
 * <pre>{@code
 * java -cp benchmarks.jar dev.toboggan.bench.journal.JournalCpu [rounds] [runs] [journals]
 * }</pre>
 *
 * Defaults: 3 rounds, each 3 warm-up and 8 measured runs per journal, journals {@code toboggan,leveldb,inmem}
 * ({@code floor} adds {@link AcknowledgeOnlyJournal}, the bound of any journal).
 * Prints per round and journal the median wall, Java-thread CPU and plugin-dispatcher CPU milliseconds per run.
 */
public final class JournalCpu {
    private JournalCpu() {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        List<String> journals = Arrays.asList((args.length > 2 ? args[2] : "toboggan,leveldb,inmem").split(","));
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
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
                    double[] pluginCpu = new double[runs];
                    for (int i = 0; i < runs; i++) {
                        Map<Long, Long> before = cpuByThread(threads);
                        long start = System.nanoTime();
                        Writer.persistAll(system, "run-" + i, true, JournalBenchmark.EVENTS);
                        wall[i] = (System.nanoTime() - start) / 1e6;
                        Map<Long, Long> after = cpuByThread(threads);
                        for (Map.Entry<Long, Long> thread : after.entrySet()) {
                            double ms = (thread.getValue() - before.getOrDefault(thread.getKey(), 0L)) / 1e6;
                            cpu[i] += ms;
                            ThreadInfo info = threads.getThreadInfo(thread.getKey());
                            if (info != null && info.getThreadName().contains("default-plugin-dispatcher")) {
                                pluginCpu[i] += ms;
                            }
                        }
                    }
                    results.put(journal, new double[][] {wall, cpu, pluginCpu});
                } finally {
                    system.terminate();
                    system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
                    BenchDirs.delete(directory);
                }
            }
            for (String journal : journals) {
                double[][] r = results.get(journal);
                System.out.printf("round %d %-8s persistAsync 10000: wall median %6.1f ms [%s]  java-thread cpu median"
                        + " %6.1f ms [%s]  plugin-dispatcher cpu median %6.1f ms [%s]%n", round, journal,
                        median(r[0]), range(r[0]), median(r[1]), range(r[1]), median(r[2]), range(r[2]));
            }
            System.out.flush();
        }
    }

    /** CPU nanoseconds of every live Java thread, by thread id. */
    private static Map<Long, Long> cpuByThread(ThreadMXBean threads) {
        Map<Long, Long> cpu = new HashMap<>();
        for (long id : threads.getAllThreadIds()) {
            long nanos = threads.getThreadCpuTime(id);
            if (nanos >= 0) {
                cpu.put(id, nanos);
            }
        }
        return cpu;
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
