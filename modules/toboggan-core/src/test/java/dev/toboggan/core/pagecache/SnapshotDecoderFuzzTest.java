package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import dev.toboggan.core.log.LogFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Jazzer fuzz test of the snapshot decoder ({@link SnapshotFormat.Reader} as {@link SnapshotStore} loads
 * a snapshot): arbitrary bytes load as a table whose pages are in increasing id order with plausible
 * fragments, or are refused with a {@link CorruptionException} naming the file and an offset inside it;
 * nothing else is thrown, and no count or id read from the file allocates beyond what the file backs.
 * The fuzzer chooses whether the header and trailer checksums are repaired, so the records behind them
 * are fuzzed as a crafted file would have them.
 *
 * <p>Under {@code mvn test} the target replays its corpus; {@code JAZZER_FUZZ=1} fuzzes (docs/testing.md).
 */
class SnapshotDecoderFuzzTest {
    private static final Path DIR = Path.of("/store");

    @FuzzTest(maxDuration = "5m")
    void snapshotFile(FuzzedDataProvider data) throws IOException {
        boolean repairHeader = data.consumeBoolean();
        boolean repairTrailer = data.consumeBoolean();
        byte[] bytes = data.consumeRemainingAsBytes();
        ByteBuffer buf = LogFormat.le(ByteBuffer.wrap(bytes));
        long lsn = 0;
        if (bytes.length >= SnapshotFormat.HEADER_LENGTH) {
            if (repairHeader) {
                buf.putInt(4, SnapshotFormat.MAGIC).putInt(8, SnapshotFormat.VERSION);
                buf.putInt(0, LogFormat.crc(buf, 4, SnapshotFormat.HEADER_LENGTH));
            }
            lsn = Math.max(0, buf.getLong(16));
        }
        if (repairTrailer && bytes.length >= SnapshotFormat.HEADER_LENGTH + SnapshotFormat.TRAILER_LENGTH) {
            buf.putInt(bytes.length - 4, LogFormat.crc(buf, 0, bytes.length - 4));
        }
        SimulatedStorage disk = new SimulatedStorage();
        Path path = DIR.resolve(SnapshotFormat.fileName(lsn));
        disk.createDirectories(DIR);
        try (StorageFile f = disk.open(path, StorageIo.OpenMode.CREATE)) {
            f.write(ByteBuffer.wrap(bytes), 0);
        }
        SnapshotStore store = new SnapshotStore(disk, DIR);
        SnapshotStore.Loaded loaded = store.loadNewest();
        // A damaged snapshot is passed over (with a warning) for a replay of the whole log: an empty table.
        if (loaded.file() == null) {
            assertThat(loaded.lsn()).isZero();
        } else {
            assertThat(loaded.lsn()).isEqualTo(lsn);
            assertThat(loaded.maxPid()).isLessThan(PageTable.UNBACKED_IDS + 2L * bytes.length);
        }
    }

    /** What a damaged snapshot must be refused with, checked directly on the reader. */
    @FuzzTest(maxDuration = "5m")
    void snapshotReader(FuzzedDataProvider data) throws IOException {
        byte[] bytes = data.consumeRemainingAsBytes();
        SimulatedStorage disk = new SimulatedStorage();
        Path path = DIR.resolve(SnapshotFormat.fileName(0));
        disk.createDirectories(DIR);
        try (StorageFile f = disk.open(path, StorageIo.OpenMode.CREATE)) {
            f.write(ByteBuffer.wrap(bytes), 0);
        }
        try (StorageFile f = disk.open(path, StorageIo.OpenMode.READ_ONLY)) {
            SnapshotFormat.Reader reader = new SnapshotFormat.Reader(f);
            long previous = -1;
            for (Object entry = reader.next(); entry != null; entry = reader.next()) {
                assertThat(reader.pid()).isGreaterThan(previous).isLessThan(reader.pageIds());
                previous = reader.pid();
            }
        } catch (CorruptionException e) {
            assertThat(e.file()).isEqualTo(path);
            assertThat(e.offset()).isBetween(0L, (long) bytes.length);
        }
    }
}
