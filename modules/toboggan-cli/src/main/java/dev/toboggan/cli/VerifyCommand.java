package dev.toboggan.cli;

import dev.toboggan.cli.store.SegmentWalk;
import dev.toboggan.cli.store.StoreReader;
import dev.toboggan.core.CorruptionException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code toboggan verify}: checks every checksum a store has — recovery's (the snapshot, the replayed log),
 * every message of every segment, every page read back from its fragments, every older snapshot file — and
 * reports each problem with its file and byte offset. Read-only ({@link StoreReader}).
 */
@Command(name = "verify", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Checks a store: recovers it in memory, checks every message of every log segment, reads "
                + "every page back and checks its checksums, and recovers from each older snapshot file too. Reports each problem with its file and byte offset.",
                "Changes nothing on disk (it takes the store's lock while it reads). Exit code: 0 clean, 1 problems "
                        + "found, 2 bad arguments or no store there, 3 the store is locked or cannot be read."})
public final class VerifyCommand implements Callable<Integer> {
    @Option(names = "--path", required = true, paramLabel = "DIR", description = "the store directory")
    Path path;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<StoreReader.Defect> problems = new ArrayList<>();
        StoreReader store;
        try {
            store = Commands.openReader(spec, path);
        } catch (CorruptionException e) {
            problems.add(new StoreReader.Defect(e.file(), e.offset(), "recovery: " + e.getMessage()));
            return report(out, problems, "could not recover the store; nothing else was checked");
        }
        String summary;
        List<StoreReader.SnapshotFile> snapshots;
        try (store) {
            snapshots = store.snapshots();
            for (String warning : store.openWarnings()) {
                problems.add(new StoreReader.Defect(path, -1, "recovery: " + warning));
            }
            SegmentWalk.Result walk = store.walkLog();
            problems.addAll(walk.defects());
            long messages = walk.segments().stream().mapToLong(SegmentWalk.Segment::messages).sum();
            long segments = walk.segments().stream().filter(s -> s.baseLsn() >= 0).count();
            StoreReader.PageScan pages = store.readPages();
            if (pages.defect() != null) {
                problems.add(pages.defect());
            }
            summary = String.format("checked %,d messages in %,d segments and %,d pages (%,d fragments, %,d bytes)%s",
                    messages, segments, pages.pages(), pages.fragments(), pages.liveBytes(),
                    pages.defect() != null ? "; page reading stopped at the first unreadable page" : "");
        }
        summary += checkOlderSnapshots(snapshots, problems);
        return report(out, problems, summary);
    }

    /**
     * Recovery reads only the newest usable snapshot; each older one is checked by recovering once more
     * with the newer ones hidden (in memory), so that recovery must load it, and reports why it cannot.
     */
    private String checkOlderSnapshots(List<StoreReader.SnapshotFile> snapshots, List<StoreReader.Defect> problems)
            throws java.io.IOException {
        List<Path> newer = new ArrayList<>();
        for (int i = 0; i < snapshots.size(); i++) {
            if (i > 0) {
                try (StoreReader older = StoreReader.open(path, newer)) {
                    for (String warning : older.openWarnings()) {
                        problems.add(new StoreReader.Defect(path.resolve(snapshots.get(i).name()), -1,
                                "recovering from it (newer snapshots set aside): " + warning));
                    }
                } catch (CorruptionException e) {
                    problems.add(new StoreReader.Defect(e.file(), e.offset(), "recovering from "
                            + snapshots.get(i).name() + " (newer snapshots set aside): " + e.getMessage()));
                }
            }
            newer.add(path.resolve(snapshots.get(i).name()));
        }
        return String.format("; %d snapshot files", snapshots.size());
    }

    private int report(PrintWriter out, List<StoreReader.Defect> problems, String summary) {
        out.println(summary);
        for (StoreReader.Defect d : problems) {
            out.println("PROBLEM: " + d);
        }
        out.println(problems.isEmpty() ? "OK: " + path + " is clean"
                : "FAILED: " + problems.size() + " problems in " + path);
        out.flush();
        return problems.isEmpty() ? TobogganCli.OK : TobogganCli.PROBLEMS;
    }
}
