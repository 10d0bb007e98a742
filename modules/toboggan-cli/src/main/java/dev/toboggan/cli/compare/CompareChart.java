package dev.toboggan.cli.compare;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/** The chart of a compare run: each store's throughput and disk use as ratios to the baseline. */
final class CompareChart {
    private CompareChart() {}

    static void write(Path file, List<Workloads.Result> results, Workloads.Result baseline, String subtitle)
            throws IOException {
        System.setProperty("java.awt.headless", "true");
        CategoryChart speed = new CategoryChartBuilder().width(900).height(420)
                .title("throughput / " + baseline.peer().displayName() + " (higher is better)")
                .xAxisTitle(subtitle).yAxisTitle("ratio").build();
        CategoryChart disk = new CategoryChartBuilder().width(900).height(420)
                .title("bytes on disk / " + baseline.peer().displayName() + " (lower is better)").yAxisTitle("ratio")
                .build();
        for (CategoryChart c : List.of(speed, disk)) {
            c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
            c.getStyler().setLabelsVisible(true);
            c.getStyler().setLabelsFontColorAutomaticEnabled(true);
            c.getStyler().setDecimalPattern("0.00");
        }
        List<String> workloads = List.of("load", "random reads", "mixed 80/20");
        for (Workloads.Result r : results) {
            List<Double> ratios = new ArrayList<>();
            ratios.add(r.loadOpsPerSecond() / baseline.loadOpsPerSecond());
            ratios.add(r.readOpsPerSecond() / baseline.readOpsPerSecond());
            ratios.add(r.mixedOpsPerSecond() / baseline.mixedOpsPerSecond());
            speed.addSeries(r.peer().displayName(), workloads, ratios);
            disk.addSeries(r.peer().displayName(), List.of("after the run"),
                    List.of((double) r.diskBytes() / baseline.diskBytes()));
        }
        String name = file.toString();
        BitmapEncoder.saveBitmap(List.of(speed, disk), 2, 1,
                name.endsWith(".png") ? name.substring(0, name.length() - 4) : name, BitmapEncoder.BitmapFormat.PNG);
    }
}
