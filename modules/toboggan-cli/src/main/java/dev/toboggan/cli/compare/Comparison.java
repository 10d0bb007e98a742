package dev.toboggan.cli.compare;

import dev.toboggan.cli.stress.Records;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/** One {@code toboggan compare} run: every store through {@link Workloads}, then the table, CSV and chart. */
public final class Comparison {
    public static final String CSV = "compare.csv";
    public static final String CHART = "compare.png";

    private final int keys;
    private final int ops;
    private final Records records;
    private final List<Peer> stores;
    private final Peer baseline;
    private final long seed;
    private final int warmupPercent;
    private final int rounds;
    private final PrintWriter out;

    /**
     * @param warmupPercent size of the unmeasured first round of every store, in percent of the measured one
     * @param rounds measured rounds; each figure is the median over them
     */
    public Comparison(int keys, int ops, int keyLength, int valueLength, List<Peer> stores, Peer baseline, long seed,
            int warmupPercent, int rounds, PrintWriter out) {
        this.warmupPercent = warmupPercent;
        this.rounds = rounds;
        this.keys = keys;
        this.ops = ops;
        this.records = new Records(keyLength, valueLength);
        this.stores = stores;
        this.baseline = baseline;
        this.seed = seed;
        this.out = out;
    }

    /**
     * Runs every store in a directory of its own under {@code workDir} (a temporary one if {@code null}),
     * and writes the results to {@code reportDir}.
     *
     * @return whether every store was measured and read back only right values
     */
    public boolean run(Path workDir, Path reportDir) throws Exception {
        boolean temporary = workDir == null;
        Path work = temporary ? Files.createTempDirectory("toboggan-compare-") : workDir;
        String subtitle = String.format(Locale.ROOT, "%,d keys, %d+%d bytes, %,d ops%s", keys, records.keyLength(),
                records.valueLength(), ops, rounds > 1 ? ", median of " + rounds + " rounds" : "");
        out.println("toboggan compare: " + subtitle + ", one thread; " + machine());
        Workloads workloads = new Workloads(records, keys, ops, seed);
        List<Workloads.Result> results = new ArrayList<>();
        boolean clean = true;
        try {
            if (warmupPercent > 0) {
                // Every store's code (and this harness) gets compiled by the JIT before anything is measured.
                Workloads warmup = new Workloads(records, Math.max(1, keys * warmupPercent / 100),
                        Math.max(1, ops * warmupPercent / 100), seed + 100);
                out.printf("warming up: every store at %d%% of the sizes, not measured%n", warmupPercent);
                for (Peer peer : stores) {
                    Path dir = work.resolve("warmup-" + peer.label());
                    Files.createDirectories(dir);
                    try {
                        warmup.run(peer, dir);
                    } catch (Exception | LinkageError e) {
                        out.printf("  %s: warm-up failed: %s%n", peer.displayName(), e);
                    } finally {
                        deleteRecursively(dir);
                    }
                }
            }
            List<List<Workloads.Result>> rounds = new ArrayList<>();
            for (int round = 0; round < this.rounds; round++) {
                // Every other round runs the stores in reverse order, so a machine that slows down or speeds
                // up during the run does not favour the stores that run first.
                List<Peer> order = new ArrayList<>(stores);
                if (round % 2 == 1) {
                    java.util.Collections.reverse(order);
                }
                List<Workloads.Result> roundResults = new ArrayList<>();
                for (Peer peer : order) {
                    Path dir = work.resolve(peer.label());
                    Files.createDirectories(dir);
                    out.printf("  round %d: %-16s ...%n", round + 1, peer.displayName());
                    out.flush();
                    try {
                        Workloads.Result r = workloads.run(peer, dir);
                        roundResults.add(r);
                        if (r.wrongValues() > 0) {
                            clean = false;
                            out.printf("  %s read back %,d wrong values%n", peer.displayName(), r.wrongValues());
                        }
                    } catch (Exception | LinkageError e) {
                        clean = false;
                        out.printf("  %s: not measured: %s%n", peer.displayName(), e);
                    } finally {
                        deleteRecursively(dir);
                    }
                }
                rounds.add(roundResults);
            }
            for (Peer peer : stores) {
                Workloads.Result median = median(peer, rounds);
                if (median != null) {
                    results.add(median);
                }
            }
        } finally {
            if (temporary) {
                deleteRecursively(work);
            }
        }
        Workloads.Result base = results.stream().filter(r -> r.peer() == baseline).findFirst().orElse(null);
        if (base == null) {
            out.println("the baseline " + baseline.displayName() + " could not be measured: no ratios");
            out.flush();
            return false;
        }
        printTable(results, base);
        out.println("load average at the end: " + loadAverage());
        Files.createDirectories(reportDir);
        writeCsv(reportDir.resolve(CSV), results, base);
        CompareChart.write(reportDir.resolve(CHART), results, base, subtitle);
        out.printf("wrote %s and %s%n", reportDir.resolve(CSV), reportDir.resolve(CHART));
        out.flush();
        return clean;
    }

    /** The median of each of {@code peer}'s figures over the rounds it was measured in, or {@code null}. */
    private static Workloads.Result median(Peer peer, List<List<Workloads.Result>> rounds) {
        List<Workloads.Result> of = new ArrayList<>();
        for (List<Workloads.Result> round : rounds) {
            round.stream().filter(r -> r.peer() == peer).forEach(of::add);
        }
        if (of.isEmpty()) {
            return null;
        }
        return new Workloads.Result(peer, median(of, Workloads.Result::loadOpsPerSecond),
                median(of, Workloads.Result::readOpsPerSecond), median(of, Workloads.Result::mixedOpsPerSecond),
                (long) median(of, r -> (double) r.diskBytes()), of.stream().mapToLong(Workloads.Result::wrongValues).sum());
    }

    private static double median(List<Workloads.Result> of, java.util.function.ToDoubleFunction<Workloads.Result> figure) {
        double[] values = of.stream().mapToDouble(figure).sorted().toArray();
        int mid = values.length / 2;
        return values.length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    private void printTable(List<Workloads.Result> results, Workloads.Result base) {
        out.printf("%n%-16s %14s %7s %14s %7s %14s %7s %10s %7s%n", "store", "load ops/s", "ratio", "reads ops/s", "ratio",
                "mixed ops/s", "ratio", "disk MiB", "ratio");
        for (Workloads.Result r : results) {
            out.printf("%-16s %,14.0f %7.2f %,14.0f %7.2f %,14.0f %7.2f %,10.1f %7.2f%n", r.peer().displayName(),
                    r.loadOpsPerSecond(), r.loadOpsPerSecond() / base.loadOpsPerSecond(), r.readOpsPerSecond(),
                    r.readOpsPerSecond() / base.readOpsPerSecond(), r.mixedOpsPerSecond(),
                    r.mixedOpsPerSecond() / base.mixedOpsPerSecond(), r.diskBytes() / 1048576.0,
                    (double) r.diskBytes() / base.diskBytes());
        }
        out.printf("ratios: figure / %s's in this run (throughput: higher is better; disk: lower is better)%n",
                base.peer().displayName());
    }

    private void writeCsv(Path file, List<Workloads.Result> results, Workloads.Result base) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            w.write("store,load_ops_per_s,load_ratio,read_ops_per_s,read_ratio,mixed_ops_per_s,mixed_ratio,disk_bytes,"
                    + "disk_ratio\n");
            for (Workloads.Result r : results) {
                w.write(String.format(Locale.ROOT, "%s,%.0f,%.3f,%.0f,%.3f,%.0f,%.3f,%d,%.3f%n", r.peer().label(),
                        r.loadOpsPerSecond(), r.loadOpsPerSecond() / base.loadOpsPerSecond(), r.readOpsPerSecond(),
                        r.readOpsPerSecond() / base.readOpsPerSecond(), r.mixedOpsPerSecond(),
                        r.mixedOpsPerSecond() / base.mixedOpsPerSecond(), r.diskBytes(),
                        (double) r.diskBytes() / base.diskBytes()));
            }
        }
    }

    /** The machine, as the benchmark docs describe it. */
    static String machine() {
        return String.format(Locale.ROOT, "%d CPUs, %s %s, %s %s, max heap %d MiB, load average %s",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name"),
                System.getProperty("java.version"), System.getProperty("os.name"), System.getProperty("os.arch"),
                Runtime.getRuntime().maxMemory() >> 20, loadAverage());
    }

    /** The 1, 5 and 15 minute load averages (Linux), or "unknown": a shared machine's noise, written down. */
    static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
