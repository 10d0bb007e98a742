package dev.toboggan.cli;

import dev.toboggan.cli.store.SegmentWalk;
import dev.toboggan.cli.store.StoreReader;
import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.log.RecoveryReport;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code toboggan verify}: checks every checksum a store has — recovery's (the snapshot, the replayed log),
 * every message of every segment, every page read back from its fragments, every older snapshot file — and
 * reports each problem with its file and byte offset, and in notes what a crash left that loses nothing
 * acknowledged. Read-only ({@link StoreReader}).
 */
@Command(name = "verify", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Checks a store: recovers it in memory, checks every message of every log segment, reads "
                + "every page back and checks its checksums, and recovers from each older snapshot file too. Reports each problem with its file and byte offset.",
                "What a crash or kill leaves (a torn tail, open atomic batches, an older snapshot the cleaner has "
                        + "outgrown) is reported in NOTE lines: not problems, nothing acknowledged was lost.",
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
            return report(out, List.of(), problems, "could not recover the store; nothing else was checked");
        }
        List<String> notes = new ArrayList<>();
        String summary;
        List<StoreReader.SnapshotFile> snapshots;
        SegmentWalk.Result walk;
        RecoveryReport recovery;
        int segmentSize = store.format().segmentSize();
        try (store) {
            snapshots = store.snapshots();
            for (String warning : store.openWarnings()) {
                problems.add(new StoreReader.Defect(path, -1, "recovery: " + warning));
            }
            recovery = store.pageCache().recoveryReport();
            noteWhatACrashLeft(recovery, notes);
            walk = store.walkLog();
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
        summary += checkOlderSnapshots(snapshots, walk, recovery.tip(), segmentSize, notes, problems);
        return report(out, notes, problems, summary);
    }

    /**
     * What recovery cut off the log's end lies past every byte the store had promised durable (below the
     * promise recovery throws instead), so nothing acknowledged was in it: a crash or a kill leaves it, or a
     * copy of a store taken while it ran. Noted, not a problem.
     */
    private static void noteWhatACrashLeft(RecoveryReport recovery, List<String> notes) {
        if (recovery.torn()) {
            notes.add("the log ends in a message that was cut short (" + recovery.end() + "), past everything the "
                    + "store had made durable: what a crash or a kill in the middle of a write leaves; recovery ends "
                    + "the log before it");
        }
        if (recovery.droppedBatches() > 0) {
            notes.add(recovery.droppedBatches() + " atomic batch" + (recovery.droppedBatches() == 1 ? " was" : "es were")
                    + " still open when the store stopped (" + recovery.end() + "): recovery drops each whole, as a "
                    + "crash requires; none had been reported durable");
        }
    }

    /**
     * Recovery reads only the newest usable snapshot; each older one is checked by recovering once more
     * with the newer ones hidden (in memory), so that recovery must load it, and reports why it cannot.
     * An older snapshot whose replay would need a segment the cleaner has freed since (every segment it
     * frees lies below a newer snapshot, which took over its pages first) is no fallback any more: noted,
     * not checked.
     */
    private String checkOlderSnapshots(List<StoreReader.SnapshotFile> snapshots, SegmentWalk.Result walk, long tip,
            int segmentSize, List<String> notes, List<StoreReader.Defect> problems) throws IOException {
        List<Path> newer = new ArrayList<>();
        for (int i = 0; i < snapshots.size(); i++) {
            long freed = i == 0 ? -1 : firstFreedSegment(snapshots.get(i).lsn(), tip, walk, segmentSize);
            if (freed >= 0) {
                notes.add(snapshots.get(i).name() + " is no longer a fallback: replay from it (LSN "
                        + snapshots.get(i).lsn() + ") would need segment LSN " + freed + ", which the segment cleaner "
                        + "freed after " + snapshots.get(0).name() + " took over its pages; recovery uses the newer one");
            } else if (i > 0) {
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

    /**
     * The lowest segment LSN that replay from {@code from} up to {@code tip} needs and the log no longer
     * holds, or -1 if it holds them all.
     */
    private static long firstFreedSegment(long from, long tip, SegmentWalk.Result walk, int segmentSize) {
        Set<Long> bases = new HashSet<>();
        for (SegmentWalk.Segment s : walk.segments()) {
            bases.add(s.baseLsn());
        }
        for (long base = from & -segmentSize; base < tip; base += segmentSize) {
            if (!bases.contains(base)) {
                return base;
            }
        }
        return -1;
    }

    private int report(PrintWriter out, List<String> notes, List<StoreReader.Defect> problems, String summary) {
        out.println(summary);
        for (String note : notes) {
            out.println("NOTE: " + note);
        }
        for (StoreReader.Defect d : problems) {
            out.println("PROBLEM: " + d);
        }
        out.println(problems.isEmpty() ? "OK: " + path + " is clean"
                : "FAILED: " + problems.size() + " problems in " + path);
        out.flush();
        return problems.isEmpty() ? TobogganCli.OK : TobogganCli.PROBLEMS;
    }
}
