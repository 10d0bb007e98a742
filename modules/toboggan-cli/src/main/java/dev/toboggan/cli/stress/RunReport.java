package dev.toboggan.cli.stress;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Writes a stress run's time series to {@code --report DIR}: {@value #CSV} (one row per second) and
 * {@value #CHART}, four panels of it (throughput, latency, memory and disk, space amplification), so a
 * long run can be looked at instead of read.
 */
public final class RunReport {
    public static final String CSV = "stress.csv";
    public static final String CHART = "stress.png";

    private RunReport() {}

    public static void write(Path dir, List<Sample> samples, String title) throws IOException {
        Files.createDirectories(dir);
        try (Writer w = Files.newBufferedWriter(dir.resolve(CSV), StandardCharsets.UTF_8)) {
            w.write(Sample.CSV_HEADER);
            w.write('\n');
            for (Sample s : samples) {
                w.write(s.csv());
                w.write('\n');
            }
        }
        writeChart(dir.resolve(CHART), samples, title);
    }

    private static void writeChart(Path file, List<Sample> samples, String title) throws IOException {
        System.setProperty("java.awt.headless", "true");
        double[] x = new double[samples.size()];
        double[] ops = new double[x.length];
        double[] p50 = new double[x.length];
        double[] p99 = new double[x.length];
        double[] heap = new double[x.length];
        double[] rss = new double[x.length];
        double[] disk = new double[x.length];
        List<Double> ampX = new ArrayList<>();
        List<Double> amp = new ArrayList<>();
        boolean haveRss = true;
        for (int i = 0; i < x.length; i++) {
            Sample s = samples.get(i);
            x[i] = s.second();
            ops[i] = s.opsPerSecond();
            // A second without operations has no latency: a gap in the (logarithmic) latency panel.
            p50[i] = s.opsPerSecond() == 0 ? Double.NaN : s.p50Micros();
            p99[i] = s.opsPerSecond() == 0 ? Double.NaN : s.p99Micros();
            heap[i] = Sample.mib(s.heapBytes());
            rss[i] = Sample.mib(s.residentBytes());
            haveRss &= s.residentBytes() >= 0;
            disk[i] = Sample.mib(s.diskBytes());
            if (!Double.isNaN(s.spaceAmplification())) {
                ampX.add((double) s.second());
                amp.add(s.spaceAmplification());
            }
        }
        List<XYChart> charts = new ArrayList<>();
        charts.add(panel(title + ": throughput", "ops/s"));
        line(charts.get(0), "ops/s", x, ops);
        charts.add(panel("latency", "µs (log scale)"));
        charts.get(1).getStyler().setYAxisLogarithmic(true);
        line(charts.get(1), "p50", x, p50);
        line(charts.get(1), "p99", x, p99);
        charts.add(panel("memory and disk", "MiB"));
        line(charts.get(2), "heap used", x, heap);
        if (haveRss) {
            line(charts.get(2), "resident", x, rss);
        }
        line(charts.get(2), "disk", x, disk);
        charts.add(panel("space amplification", "disk / live bytes"));
        if (!amp.isEmpty()) {
            charts.get(3).addSeries("space amp", ampX, amp).setMarker(SeriesMarkers.NONE);
        }
        BitmapEncoder.saveBitmap(charts, 2, 2, stripPng(file), BitmapEncoder.BitmapFormat.PNG);
    }

    private static XYChart panel(String title, String yTitle) {
        XYChart chart = new XYChartBuilder().width(640).height(360).title(title).xAxisTitle("seconds")
                .yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNW);
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        chart.getStyler().setXAxisTickMarkSpacingHint(60);
        chart.getStyler().setXAxisDecimalPattern("0");
        return chart;
    }

    private static void line(XYChart chart, String name, double[] x, double[] y) {
        if (x.length > 0) {
            chart.addSeries(name, x, y).setMarker(SeriesMarkers.NONE);
        }
    }

    /** XChart appends the extension itself. */
    static String stripPng(Path file) {
        String name = file.toString();
        return name.endsWith(".png") ? name.substring(0, name.length() - 4) : name;
    }
}
