package dev.toboggan.cli.compare;

import dev.toboggan.cli.Directories;
import dev.toboggan.cli.stress.Records;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiFunction;

/** One {@code toboggan compare} run: every store through {@link Workloads}, then the tables, CSV and chart. */
public final class Comparison {
    public static final String CSV = "compare.csv";
    public static final String CHART = "compare.png";

    private final Sizes sizes;
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
    public Comparison(Sizes sizes, int keyLength, int valueLength, List<Peer> stores, Peer baseline, long seed,
            int warmupPercent, int rounds, PrintWriter out) {
        this.sizes = sizes;
        this.warmupPercent = warmupPercent;
        this.rounds = rounds;
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
        String subtitle = String.format(Locale.ROOT, "%,d keys, %d+%d bytes, %,d ops per thread, %,d durable writes%s",
                sizes.keys(), records.keyLength(), records.valueLength(), sizes.ops(), sizes.durableOps(),
                rounds > 1 ? ", median of " + rounds + " rounds" : "");
        out.println("toboggan compare: " + subtitle + "; " + sizes.threads() + " reader threads, " + sizes.writers()
                + " durable writers; " + machine());
        out.flush();
        List<Workloads.Result> results = new ArrayList<>();
        boolean clean = true;
        try {
            if (warmupPercent > 0) {
                // Every store's code (and this harness) gets compiled by the JIT before anything is measured.
                Sizes small = sizes.scaled(warmupPercent);
                Workloads warmup = new Workloads(new Entries(records, small.keys()), small, seed + 100);
                out.printf("warming up: every store at %d%% of the sizes, not measured%n", warmupPercent);
                out.flush();
                for (Peer peer : stores) {
                    Path dir = work.resolve("warmup-" + peer.label());
                    Files.createDirectories(dir);
                    try {
                        warmup.run(peer, dir, work);
                    } catch (Exception | LinkageError e) {
                        out.printf("  %s: warm-up failed: %s%n", peer.displayName(), e);
                    } finally {
                        Directories.deleteRecursively(dir);
                    }
                }
            }
            Workloads workloads = new Workloads(new Entries(records, sizes.keys()), sizes, seed);
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
                    out.printf("  round %d: %-16s ... ", round + 1, peer.displayName());
                    out.flush();
                    long start = System.nanoTime();
                    try {
                        // The previous store's garbage is not this one's to collect.
                        System.gc();
                        Workloads.Result r = workloads.run(peer, dir, work);
                        roundResults.add(r);
                        out.printf("%.0f s, load average %s%n", (System.nanoTime() - start) / 1e9, loadAverage());
                        if (r.wrongValues() > 0) {
                            clean = false;
                            out.printf("  %s read back %,d wrong values%n", peer.displayName(), r.wrongValues());
                        }
                    } catch (Exception | LinkageError e) {
                        clean = false;
                        out.printf("%n  %s: not measured: %s%n", peer.displayName(), e);
                    } finally {
                        Directories.deleteRecursively(dir);
                    }
                    out.flush();
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
                Directories.deleteRecursively(work);
            }
        }
        Workloads.Result base = results.stream().filter(r -> r.peer() == baseline).findFirst().orElse(null);
        if (base == null) {
            out.println("the baseline " + baseline.displayName() + " could not be measured: no ratios");
            out.flush();
            return false;
        }
        printTables(results, base);
        out.println("load average at the end: " + loadAverage());
        Files.createDirectories(reportDir);
        writeCsv(reportDir.resolve(CSV), results, base);
        CompareChart.write(reportDir.resolve(CHART), results, base, subtitle, sizes);
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
        Map<Figure, Double> medians = new EnumMap<>(Figure.class);
        for (Figure f : Figure.values()) {
            double[] values = of.stream().mapToDouble(r -> r.get(f)).filter(v -> !Double.isNaN(v)).sorted().toArray();
            if (values.length > 0) {
                int mid = values.length / 2;
                medians.put(f, values.length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2);
            }
        }
        return new Workloads.Result(peer, medians, of.stream().mapToLong(Workloads.Result::wrongValues).sum());
    }

    /** A column of a printed table: its header and how it shows a store's result. */
    private record Column(String header, int width, BiFunction<Workloads.Result, Workloads.Result, String> cell) {}

    private static Column figure(String header, Figure f, String format) {
        return new Column(header, 14, (r, base) -> show(format, r.get(f)));
    }

    private static Column ratio(Figure f) {
        return new Column("ratio", 7, (r, base) -> show("%.2f", r.get(f) / base.get(f)));
    }

    private static Column quotient(String header, Figure of, Figure per) {
        return new Column(header, 9, (r, base) -> show("%.2f", r.get(of) / r.get(per)));
    }

    private static String show(String format, double value) {
        if (Double.isNaN(value)) {
            return "-";
        }
        if (Double.isInfinite(value)) {
            return "unsettled";
        }
        return String.format(Locale.ROOT, format, value);
    }

    private void printTables(List<Workloads.Result> results, Workloads.Result base) {
        String threads = sizes.threads() + "t";
        printTable("throughput, ops/s", results, base, List.of(
                figure("load", Figure.LOAD, "%,.0f"), ratio(Figure.LOAD),
                figure("reads 1t", Figure.READ, "%,.0f"), ratio(Figure.READ),
                figure("reads " + threads, Figure.READ_THREADS, "%,.0f"), ratio(Figure.READ_THREADS),
                figure("mixed 80/20 1t", Figure.MIXED, "%,.0f"), ratio(Figure.MIXED),
                figure("95/5 " + threads, Figure.MIXED_THREADS, "%,.0f"), ratio(Figure.MIXED_THREADS),
                figure("bulk, sorted", Figure.BULK_LOAD, "%,.0f"), ratio(Figure.BULK_LOAD)));
        String writers = sizes.writers() + "w";
        // The in-memory references have no files: they have rows in the throughput table only.
        List<Workloads.Result> stores = results.stream().filter(r -> r.peer().keepsFiles()).toList();
        printTable("durable writes, ops/s (bare: write + force(false) of the same bytes to a plain file, "
                + "measured just before the store's)", stores, base, List.of(
                figure("bare fsync", Figure.BARE_FSYNC, "%,.0f"),
                figure("put+sync 1w", Figure.DURABLE, "%,.0f"), ratio(Figure.DURABLE),
                quotient("/ bare", Figure.DURABLE, Figure.BARE_FSYNC),
                figure("put+sync " + writers, Figure.DURABLE_WRITERS, "%,.0f"), ratio(Figure.DURABLE_WRITERS),
                quotient("/ bare", Figure.DURABLE_WRITERS, Figure.BARE_FSYNC),
                quotient("/ 1w", Figure.DURABLE_WRITERS, Figure.DURABLE)));
        printTable("space amplification (files / keys and values) and reopen", stores, base, List.of(
                figure("after load", Figure.SPACE_LOADED, "%.2f"), ratio(Figure.SPACE_LOADED),
                figure("settled", Figure.SPACE_SETTLED, "%.2f"), figure("settled in ms", Figure.SETTLE_MS, "%,.0f"),
                figure("closed", Figure.SPACE_CLOSED, "%.2f"), ratio(Figure.SPACE_CLOSED),
                figure("reopen ms", Figure.REOPEN_MS, "%,.1f"), ratio(Figure.REOPEN_MS),
                new Column("end MiB", 10, (r, b) -> show("%,.1f", r.get(Figure.DISK_BYTES) / 1048576.0)),
                ratio(Figure.DISK_BYTES)));
        out.printf("ratios: figure / %s's in this run (throughput: higher is better; space, time, disk: lower is "
                + "better)%n", base.peer().displayName());
    }

    private void printTable(String title, List<Workloads.Result> results, Workloads.Result base, List<Column> columns) {
        StringBuilder header = new StringBuilder(String.format("%n%s%n%-16s", title, "store"));
        for (Column c : columns) {
            header.append(' ').append(String.format("%" + c.width() + "s", c.header()));
        }
        out.println(header);
        for (Workloads.Result r : results) {
            StringBuilder row = new StringBuilder(String.format("%-16s", r.peer().displayName()));
            for (Column c : columns) {
                row.append(' ').append(String.format("%" + c.width() + "s", c.cell().apply(r, base)));
            }
            out.println(row);
        }
    }

    /**
     * One row per store: each {@link Figure} (empty if not measured, or not settled for {@code settle_ms})
     * and, where it has one, its ratio to the baseline store's; then the durable writes over the bare loop.
     */
    private static void writeCsv(Path file, List<Workloads.Result> results, Workloads.Result base) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            StringBuilder header = new StringBuilder("store");
            for (Figure f : Figure.values()) {
                header.append(',').append(f.column());
                if (f.hasRatio()) {
                    header.append(',').append(ratioColumn(f));
                }
            }
            header.append(",durable_1_writer_per_bare,durable_writers_per_bare,durable_writers_per_1_writer\n");
            w.write(header.toString());
            for (Workloads.Result r : results) {
                StringBuilder row = new StringBuilder(r.peer().label());
                for (Figure f : Figure.values()) {
                    row.append(',').append(csv(r.get(f), f.kind() == Figure.Kind.AMPLIFICATION ? "%.3f"
                            : f.kind() == Figure.Kind.TIME ? "%.1f" : "%.0f"));
                    if (f.hasRatio()) {
                        row.append(',').append(csv(r.get(f) / base.get(f), "%.3f"));
                    }
                }
                row.append(',').append(csv(r.get(Figure.DURABLE) / r.get(Figure.BARE_FSYNC), "%.3f"))
                        .append(',').append(csv(r.get(Figure.DURABLE_WRITERS) / r.get(Figure.BARE_FSYNC), "%.3f"))
                        .append(',').append(csv(r.get(Figure.DURABLE_WRITERS) / r.get(Figure.DURABLE), "%.3f"))
                        .append('\n');
                w.write(row.toString());
            }
        }
    }

    /** The CSV column of a figure's ratio: the existing {@code load_ratio} style for the throughputs and disk. */
    private static String ratioColumn(Figure f) {
        String column = f.column();
        return (column.endsWith("_ops_per_s") ? column.substring(0, column.length() - "_ops_per_s".length())
                : column.endsWith("_bytes") ? column.substring(0, column.length() - "_bytes".length()) : column)
                + "_ratio";
    }

    private static String csv(double value, String format) {
        return Double.isNaN(value) || Double.isInfinite(value) ? "" : String.format(Locale.ROOT, format, value);
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
}
