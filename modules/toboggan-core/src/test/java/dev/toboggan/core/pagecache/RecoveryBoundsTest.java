package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.toboggan.core.Background;
import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import dev.toboggan.core.log.Log;
import dev.toboggan.core.log.LogFormat;
import dev.toboggan.core.log.MessageKind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Damaged stores found by the fuzz tests (docs/testing.md) open with a clear error, in bounded time and
 * memory. A page id far beyond what a store's records back, in a checksummed snapshot header or log
 * message, is refused as corruption instead of believed: believing it made open allocate the page table
 * and the reusable ids below it, gigabytes from a few bytes.
 */
class RecoveryBoundsTest {
    private final SimulatedStorage disk = new SimulatedStorage();

    @Test
    void aSnapshotCountingFarMorePageIdsThanItHoldsIsPassedOverForTheLog() throws IOException {
        PageCache<List<Integer>, Integer> pc = Stores.open(disk);
        long pid = pc.allocate(List.of(7)).pid();
        pc.close();
        Path snapshot = newestSnapshot();
        long lsn = SnapshotFormat.lsnOf(snapshot.getFileName().toString());
        // A valid snapshot (checksums right) that claims 2^31 page ids and holds no page.
        ByteBuffer file = LogFormat.le(ByteBuffer.allocate(SnapshotFormat.HEADER_LENGTH + 1 + 12));
        file.putInt(4, SnapshotFormat.MAGIC).putInt(8, SnapshotFormat.VERSION).putLong(16, lsn).putLong(24, 1L << 31);
        file.putInt(0, LogFormat.crc(file, 4, SnapshotFormat.HEADER_LENGTH));
        file.put(SnapshotFormat.HEADER_LENGTH, (byte) 0).putLong(SnapshotFormat.HEADER_LENGTH + 1, 0);
        int crcAt = SnapshotFormat.HEADER_LENGTH + 9;
        file.putInt(crcAt, LogFormat.crc(file, 0, crcAt));
        overwrite(snapshot, file);

        pc = Stores.open(disk);
        try {
            assertThat(pc.get(pid).value()).containsExactly(7);
        } finally {
            pc.close();
        }
    }

    @Test
    void aLogMessageNamingAFarPageIdIsCorruptionNotAnAllocation() {
        PageCache<List<Integer>, Integer> pc = Stores.open(disk);
        pc.allocate(List.of(7));
        pc.close();
        Log log = Log.open(Stores.small().log(), disk, Background.NONE, 0, entry -> { });
        log.reserve(MessageKind.INLINE_NODE, 1L << 31, new byte[] {1}, 0, 1).complete();
        log.close();

        assertThatThrownBy(() -> Stores.open(disk)).isInstanceOf(CorruptionException.class)
                .hasMessageContaining("page id " + (1L << 31)).hasMessageContaining("log")
                .hasMessageContaining("at byte offset");
    }

    /**
     * Regression (DamagedStoreFuzzTest, corpus input crash-0e356ba5...): a log cut to nothing under a
     * snapshot failed the open with a CorruptionException, but the open's clean-up then waited for ever
     * in the log's final flush.
     */
    @Test
    void aLogCutShortUnderItsSnapshotIsCorruptionNotAHang() throws IOException {
        PageCache<List<Integer>, Integer> pc = Stores.open(disk);
        long pid = pc.allocate(List.of(7)).pid();
        pc.close();
        disk.truncateDurably(Stores.DIR.resolve("log"), 0);

        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            assertThatThrownBy(() -> Stores.open(disk)).isInstanceOf(CorruptionException.class)
                    .hasMessageContaining("/store/log").hasMessageContaining("at byte offset");
        });
        // The failed open released the store: it can be opened again (and fails the same way).
        assertThatThrownBy(() -> Stores.open(disk)).isInstanceOf(CorruptionException.class);
        assertThat(pid).isPositive();
    }

    /**
     * Regression (DamagedStoreFuzzTest: newest snapshot and one blob file deleted): recovery skipped a
     * blob message whose file was missing below the durable tip as if the store had deleted the blob after
     * replacing its page, and opened a store whose tree referenced a page that was not there.
     */
    @Test
    void aBlobLostBelowTheDurableTipIsCorruptionNamingIt() throws IOException {
        PageCache<List<Integer>, Integer> pc = Stores.open(disk);
        pc.allocate(blobSized());
        pc.flush();
        crashAfterMoreSegments(pc);
        List<Path> blobs = disk.list(Stores.DIR.resolve("blobs"));
        assertThat(blobs).hasSize(1);
        disk.deleteIfExists(blobs.get(0));
        disk.syncDirectory(Stores.DIR.resolve("blobs"));

        assertThatThrownBy(() -> Stores.open(disk)).isInstanceOf(CorruptionException.class)
                .hasMessageContaining(blobs.get(0).toString()).hasMessageContaining("is missing");
    }

    /** A blob the store deleted itself, once a durable later version replaced its page, is no damage. */
    @Test
    void aBlobDeletedAfterItsPageWasReplacedIsSkipped() throws IOException {
        PageCache<List<Integer>, Integer> pc = Stores.open(disk);
        Page<List<Integer>> page = pc.allocate(blobSized());
        pc.flush();
        assertThat(pc.replace(page.pid(), page, List.of(1)).succeeded()).isTrue();
        crashAfterMoreSegments(pc);
        for (Path blob : disk.list(Stores.DIR.resolve("blobs"))) {
            disk.deleteIfExists(blob);
        }
        disk.syncDirectory(Stores.DIR.resolve("blobs"));

        pc = Stores.open(disk);
        try {
            assertThat(pc.get(page.pid()).value()).containsExactly(1);
        } finally {
            pc.close();
        }
    }

    /** A page value whose message goes to a blob file (over a quarter of the 1 KiB segment). */
    private static List<Integer> blobSized() {
        List<Integer> large = new java.util.ArrayList<>();
        for (int i = 0; i < 400; i++) {
            large.add(i * 1000);
        }
        return large;
    }

    /** Writes and flushes later segments, whose headers promise what came before durable, then crashes. */
    private void crashAfterMoreSegments(PageCache<List<Integer>, Integer> pc) {
        for (int i = 0; i < 400; i++) {
            pc.allocate(List.of(i));
            if (i % 20 == 0) {
                pc.flush();
            }
        }
        pc.flush();
        disk.powerLoss();
        pc.abandon();
    }

    private Path newestSnapshot() throws IOException {
        return new SnapshotStore(disk, Stores.DIR).newestFirst().get(0);
    }

    private void overwrite(Path path, ByteBuffer content) throws IOException {
        disk.deleteIfExists(path);
        try (StorageFile f = disk.open(path, StorageIo.OpenMode.CREATE_NEW)) {
            f.write(content.clear(), 0);
            f.force();
        }
        disk.syncDirectory(Stores.DIR);
    }
}
