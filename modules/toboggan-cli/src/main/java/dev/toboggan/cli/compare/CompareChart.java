package dev.toboggan.cli.compare;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * The chart of a compare run, four panels of grouped bars, one bar per store: throughput as ratios to the
 * baseline store; durable writes as ratios to the bare write + fsync loop; space amplification; reopen time.
 * The in-memory references ({@link Peer#keepsFiles()} false) appear in the first panel only.
 */
final class CompareChart {
    private CompareChart() {}

    static void write(Path file, List<Workloads.Result> results, Workloads.Result baseline, String subtitle,
            Sizes sizes) throws IOException {
        System.setProperty("java.awt.headless", "true");
        String base = baseline.peer().displayName();
        CategoryChart speed = panel("throughput / " + base + "'s (higher is better)", subtitle, "ratio");
        CategoryChart durable = panel("durable writes / bare write + fsync loop (higher is better)", "", "ratio");
        CategoryChart space = panel("space amplification: files / keys and values (lower is better)", "", "ratio");
        CategoryChart reopen = panel("reopen of the loaded store until its first get (lower is better)", "", "ms");
        String threads = sizes.threads() + " threads";
        List<String> workloads = List.of("load", "reads", "reads, " + threads, "mixed 80/20", "mixed 95/5, " + threads,
                "bulk load, sorted");
        List<String> durableWorkloads = List.of("1 writer", sizes.writers() + " writers");
        List<String> spaceMoments = new ArrayList<>(List.of("after the load"));
        if (sizes.settleMillis() > 0) {
            spaceMoments.add("settled");
        }
        spaceMoments.addAll(List.of("closed", "after every workload"));
        for (Workloads.Result r : results) {
            String name = r.peer().displayName();
            List<Double> ratios = new ArrayList<>();
            for (Figure f : List.of(Figure.LOAD, Figure.READ, Figure.READ_THREADS, Figure.MIXED, Figure.MIXED_THREADS,
                    Figure.BULK_LOAD)) {
                ratios.add(r.get(f) / baseline.get(f));
            }
            speed.addSeries(name, workloads, ratios);
            if (!r.peer().keepsFiles()) {
                // The in-memory references have throughputs only.
                continue;
            }
            double bare = r.get(Figure.BARE_FSYNC);
            durable.addSeries(name, durableWorkloads,
                    List.of(r.get(Figure.DURABLE) / bare, r.get(Figure.DURABLE_WRITERS) / bare));
            List<Double> amplification = new ArrayList<>(List.of(r.get(Figure.SPACE_LOADED)));
            if (sizes.settleMillis() > 0) {
                amplification.add(r.get(Figure.SPACE_SETTLED));
            }
            amplification.add(r.get(Figure.SPACE_CLOSED));
            amplification.add(r.get(Figure.SPACE_END));
            space.addSeries(name, spaceMoments, amplification);
            reopen.addSeries(name, List.of("reopen"), List.of(r.get(Figure.REOPEN_MS)));
        }
        String name = file.toString();
        BitmapEncoder.saveBitmap(List.of(speed, durable, space, reopen), 2, 2,
                name.endsWith(".png") ? name.substring(0, name.length() - 4) : name, BitmapEncoder.BitmapFormat.PNG);
    }

    private static CategoryChart panel(String title, String xTitle, String yTitle) {
        CategoryChart c = new CategoryChartBuilder().width(900).height(420).title(title).xAxisTitle(xTitle)
                .yAxisTitle(yTitle).build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        c.getStyler().setLabelsVisible(true);
        c.getStyler().setLabelsFontColorAutomaticEnabled(true);
        c.getStyler().setDecimalPattern("0.00");
        return c;
    }
}
