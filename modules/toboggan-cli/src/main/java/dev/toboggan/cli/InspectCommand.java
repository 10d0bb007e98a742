package dev.toboggan.cli;

import dev.toboggan.cli.store.SegmentWalk;
import dev.toboggan.cli.store.StoreReader;
import dev.toboggan.core.log.RecoveryReport;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.PageCacheMetrics;
import dev.toboggan.core.pagecache.SegmentCleaning;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code toboggan inspect}: what a store holds — its files, the log's segments, snapshots, trees, pages and
 * the space they take — read without changing anything ({@link StoreReader}).
 */
@Command(name = "inspect", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Shows a store's segments, snapshots, trees, pages and space amplification, without changing it.",
                "Opens the store read-only (recovery runs in memory) and reads every page. The store must not be "
                        + "open elsewhere."})
public final class InspectCommand implements Callable<Integer> {
    /**
     * The columns of the segment table, in order: adding one (the cleaner's state and live share, once
     * the engine exposes them) is one more entry.
     */
    static final List<Column> SEGMENT_COLUMNS = List.of(
            new Column("slot", "%5s", s -> s.walk().slot()),
            new Column("state", "%9s", SegmentView::state),
            new Column("base_lsn", "%14s", s -> s.walk().baseLsn() < 0 ? null : s.walk().baseLsn()),
            new Column("promised_stable_tip", "%20s",
                    s -> s.walk().promisedStableTip() < 0 ? null : s.walk().promisedStableTip()),
            new Column("messages", "%9s", s -> s.walk().messages()),
            new Column("used_bytes", "%12s", s -> s.walk().usedBytes()),
            new Column("live_bytes", "%12s", SegmentView::liveBytes),
            new Column("live_pct", "%8s", s -> String.format(java.util.Locale.ROOT, "%.1f", s.livePercent())));

    /** A column of the segment table: its name (also its JSON key), text format, and value (null: none). */
    record Column(String name, String format, Function<SegmentView, Object> value) {}

    /**
     * A slot as inspect shows it: what the walk found there, the bytes of current pages living in it, and
     * its state in the cleaner's terms ({@code SegmentCleaning}): {@code free}; {@code active} (the log's
     * tail is in it); {@code drainable} (complete, and its live share is under the default
     * {@code cleanup-threshold}: the cleaner drains it next); {@code inactive} (complete, mostly live).
     */
    record SegmentView(SegmentWalk.Segment walk, long liveBytes, int segmentSize, long endLsn) {
        double livePercent() {
            return 100.0 * liveBytes / segmentSize;
        }

        String state() {
            if (walk.baseLsn() < 0) {
                return "free";
            }
            if (walk.baseLsn() + segmentSize > endLsn) {
                return "active";
            }
            return livePercent() < 100 * SegmentCleaning.Policy.DEFAULT.cleanupThreshold() ? "drainable" : "inactive";
        }
    }

    @Option(names = "--path", required = true, paramLabel = "DIR", description = "the store directory")
    Path path;

    @Option(names = "--json", description = "print JSON instead of text")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Map<String, Object> report;
        try (StoreReader store = Commands.openReader(spec, path)) {
            report = inspect(store);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(report));
        } else {
            printText(report, out);
        }
        out.flush();
        return TobogganCli.OK;
    }

    static Map<String, Object> inspect(StoreReader store) throws java.io.IOException {
        PageCache<byte[], byte[]> pc = store.pageCache();
        Map<String, Object> r = new LinkedHashMap<>();
        long sizeOnDisk = store.logAndBlobBytes();
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("directory", store.directory().toAbsolutePath().toString());
        s.put("segment_size", store.format().segmentSize());
        s.put("compression", store.format().compression() ? "zstd" : "none");
        s.put("size_on_disk", sizeOnDisk);
        List<Object> files = new ArrayList<>();
        for (StoreReader.StoreFile f : store.files()) {
            files.add(map("name", f.name(), "bytes", f.bytes()));
        }
        s.put("files", files);
        r.put("store", s);

        RecoveryReport rec = pc.recoveryReport();
        Map<String, Object> recovery = new LinkedHashMap<>();
        recovery.put("summary", rec.toString());
        recovery.put("messages_replayed", rec.messages());
        recovery.put("end", rec.end());
        recovery.put("warnings", store.openWarnings());
        r.put("recovery", recovery);

        SegmentWalk.Result walk = store.walkLog();
        Map<String, Object> log = new LinkedHashMap<>();
        // Where recovery found the log to end: what is on disk (the open itself appends in memory only).
        log.put("end_lsn", rec.tip());
        List<Object> segments = new ArrayList<>();
        Map<Long, Long> live = pc.cleaning().liveBytesBySegment();
        int segmentSize = store.format().segmentSize();
        for (SegmentWalk.Segment seg : walk.segments()) {
            Map<String, Object> row = new LinkedHashMap<>();
            SegmentView view = new SegmentView(seg, seg.baseLsn() < 0 ? 0 : live.getOrDefault(seg.baseLsn(), 0L),
                    segmentSize, rec.tip());
            for (Column c : SEGMENT_COLUMNS) {
                row.put(c.name(), c.value().apply(view));
            }
            segments.add(row);
        }
        log.put("segments", segments);
        log.put("damaged_ranges", walk.defects().size());
        r.put("log", log);

        List<Object> snapshots = new ArrayList<>();
        for (StoreReader.SnapshotFile f : store.snapshots()) {
            snapshots.add(map("file", f.name(), "lsn", f.lsn(), "bytes", f.bytes()));
        }
        r.put("snapshots", snapshots);
        Map<String, Object> trees = new LinkedHashMap<>();
        pc.roots().forEach((name, pid) -> trees.put(name, pid));
        r.put("roots", trees);

        StoreReader.PageScan scan = store.readPages();
        Map<String, Object> pages = new LinkedHashMap<>();
        pages.put("pages", scan.pages());
        pages.put("free_page_ids", scan.freePages());
        pages.put("fragments", scan.fragments());
        pages.put("fragments_per_page", scan.pages() == 0 ? 0.0 : (double) scan.fragments() / scan.pages());
        pages.put("max_fragments", scan.maxFragments());
        pages.put("live_bytes", scan.liveBytes());
        pages.put("unreadable", scan.defect() == null ? null : scan.defect().toString());
        r.put("pages", pages);

        Map<String, Object> cache = new LinkedHashMap<>();
        PageCacheMetrics.Snapshot m = pc.metrics();
        m.ops().forEach((op, stats) -> {
            if (stats.count() > 0) {
                cache.put(op.name().toLowerCase(java.util.Locale.ROOT), map("count", stats.count(), "mean_us",
                        stats.timed() == 0 ? null : Math.round(stats.totalNanos() / 100.0 / stats.timed()) / 10.0));
            }
        });
        r.put("cache_of_this_read", cache);
        r.put("space_amplification", (double) sizeOnDisk / (scan.liveBytes() + store.format().segmentSize()));
        return r;
    }

    private static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @SuppressWarnings("unchecked")
    private static void printText(Map<String, Object> r, PrintWriter out) {
        Map<String, Object> s = (Map<String, Object>) r.get("store");
        out.printf("store %s: segment size %,d, compression %s, %,d bytes of log and blobs on disk%n", s.get("directory"),
                s.get("segment_size"), s.get("compression"), s.get("size_on_disk"));
        for (Object f : (List<Object>) s.get("files")) {
            Map<String, Object> file = (Map<String, Object>) f;
            out.printf("  %-40s %,14d bytes%n", file.get("name"), file.get("bytes"));
        }
        Map<String, Object> rec = (Map<String, Object>) r.get("recovery");
        out.println("recovery (in memory): " + rec.get("summary"));
        for (Object w : (List<Object>) rec.get("warnings")) {
            out.println("  warning: " + w);
        }
        Map<String, Object> log = (Map<String, Object>) r.get("log");
        out.printf("log: ends at LSN %,d; segments:%n", log.get("end_lsn"));
        StringBuilder header = new StringBuilder("  ");
        for (Column c : SEGMENT_COLUMNS) {
            header.append(String.format(c.format(), c.name())).append(' ');
        }
        out.println(header);
        for (Object o : (List<Object>) log.get("segments")) {
            Map<String, Object> row = (Map<String, Object>) o;
            StringBuilder line = new StringBuilder("  ");
            for (Column c : SEGMENT_COLUMNS) {
                Object v = row.get(c.name());
                line.append(String.format(c.format(), v == null ? "-" : v)).append(' ');
            }
            out.println(line);
        }
        if ((int) log.get("damaged_ranges") > 0) {
            out.printf("  %d damaged ranges in the log: run toboggan verify --path for where%n", log.get("damaged_ranges"));
        }
        out.println("snapshots:" + (((List<Object>) r.get("snapshots")).isEmpty() ? " none" : ""));
        for (Object o : (List<Object>) r.get("snapshots")) {
            Map<String, Object> f = (Map<String, Object>) o;
            out.printf("  %-30s LSN %,14d %,12d bytes%n", f.get("file"), f.get("lsn"), f.get("bytes"));
        }
        out.println("roots (meta page): " + r.get("roots"));
        Map<String, Object> p = (Map<String, Object>) r.get("pages");
        out.printf("pages: %,d (%,d free ids), %,d fragments (%.2f per page, at most %d), %,d live bytes%n",
                p.get("pages"), p.get("free_page_ids"), p.get("fragments"), p.get("fragments_per_page"),
                p.get("max_fragments"), p.get("live_bytes"));
        if (p.get("unreadable") != null) {
            out.println("  UNREADABLE: " + p.get("unreadable"));
        }
        out.println("page cache operations of this read: " + r.get("cache_of_this_read"));
        out.printf("space amplification: %.2f (bytes on disk / (live page bytes + one segment))%n",
                r.get("space_amplification"));
    }
}
