package dev.toboggan.cli.store;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.pagecache.Batch;
import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.PageCacheConfig;
import dev.toboggan.core.pagecache.SegmentCleaning;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * Store directories as a kill of the process leaves them, for the CLI's tests: each is a copy of a live
 * store's files taken at a chosen moment (nothing writes while it is copied), so the copy holds exactly what
 * had reached the disk then. The live store is closed cleanly afterwards and left in its own directory.
 */
public final class KilledStores {
    private static final int SEGMENT_SIZE = 64 * 1024;

    private KilledStores() {}

    /** A store killed while an atomic batch was open: the batch's changes are on disk, its seal is not. */
    public static void withUnsealedBatch(Path live, Path copy) {
        try (PageCache<byte[], byte[]> pc = open(live)) {
            for (int i = 0; i < 50; i++) {
                pc.allocate(bytes(i, 200));
            }
            pc.flush();
            try (Batch batch = pc.openBatch()) {
                for (int i = 0; i < 3; i++) {
                    pc.allocate(bytes(100 + i, 200));
                }
                pc.log().makeDurable(pc.log().maxReservedLsn());
                copy(live, copy);
            }
        }
    }

    /**
     * A store killed right after a cleaning pass: a snapshot, then overwrites, then a pass that took a newer
     * snapshot and freed the segments written between the two. The older snapshot is still on disk, but
     * replay from it would need the freed segments.
     */
    public static void cleanedAfterItsOlderSnapshot(Path live, Path copy) {
        try (PageCache<byte[], byte[]> pc = open(live)) {
            List<Long> pids = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                pids.add(pc.allocate(bytes(i, 1000)).pid());
            }
            overwrite(pc, pids, 10);
            if (pc.snapshots().takeSnapshot() < 0) {
                throw new IllegalStateException("the first snapshot covered nothing new");
            }
            overwrite(pc, pids, 20);
            SegmentCleaning.Metrics before = pc.cleaning().metrics();
            pc.cleaning().pass(new SegmentCleaning.Policy(0.9, 1.1));
            if (pc.cleaning().metrics().segmentsFreed() == before.segmentsFreed()) {
                throw new IllegalStateException("the cleaning pass freed no segment: " + pc.cleaning().metrics());
            }
            copy(live, copy);
        }
    }

    private static void overwrite(PageCache<byte[], byte[]> pc, List<Long> pids, int rounds) {
        for (int round = 0; round < rounds; round++) {
            for (long pid : pids) {
                Page<byte[]> view = pc.get(pid);
                if (!pc.replace(pid, view, bytes(round, 1000)).succeeded()) {
                    throw new IllegalStateException("no other writer, yet replacing page " + pid + " failed");
                }
            }
        }
        pc.flush();
    }

    private static PageCache<byte[], byte[]> open(Path directory) {
        LogConfig log = LogConfig.defaults(directory).withSegmentSize(SEGMENT_SIZE);
        return PageCache.open(PageCacheConfig.of(log), new FileChannelStorage(), Background.NONE, RawPages.INSTANCE);
    }

    private static byte[] bytes(int seed, int length) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) seed);
        return b;
    }

    private static void copy(Path from, Path to) {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : files.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
