package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.IncompatibleStoreException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import dev.toboggan.core.log.LogFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Jazzer fuzz test of the snapshot decoder ({@link SnapshotFormat.Image}: checked whole at open, its
 * blocks decoded on first access): arbitrary bytes load as a table whose pages then all decode, or are
 * refused with a {@link CorruptionException} naming the file and an offset inside it (at open, or when a
 * block whose CRC was crafted to match is first decoded); nothing else is thrown, and no count or id read
 * from the file allocates beyond what the file backs. The fuzzer chooses whether the header and footer
 * checksums are repaired, so the parts behind them are fuzzed as a crafted file would have them; a second
 * target wraps fuzzed bytes as the one block of an otherwise valid file, so block decoding is fuzzed too.
 *
 * <p>Under {@code mvn test} the targets replay their corpus; {@code JAZZER_FUZZ=1} fuzzes (docs/testing.md).
 */
class SnapshotDecoderFuzzTest {
    private static final Path DIR = Path.of("/store");

    @FuzzTest(maxDuration = "5m")
    void snapshotFile(FuzzedDataProvider data) throws IOException {
        boolean repairHeader = data.consumeBoolean();
        boolean repairFooter = data.consumeBoolean();
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
        if (repairFooter && bytes.length >= SnapshotFormat.HEADER_LENGTH + SnapshotFormat.FOOTER_LENGTH) {
            buf.putInt(bytes.length - 4, LogFormat.crc(buf, 0, bytes.length - 4));
        }
        Path path = write(bytes, lsn);
        SnapshotStore.Loaded loaded;
        try {
            loaded = new SnapshotStore(disk, DIR).loadNewest();
        } catch (IncompatibleStoreException e) {
            assertThat(buf.getInt(8)).isNotEqualTo(SnapshotFormat.VERSION);
            return;
        }
        // A damaged snapshot is passed over (with a warning) for a replay of the whole log: an empty table.
        if (loaded.file() == null) {
            assertThat(loaded.lsn()).isZero();
            return;
        }
        assertThat(loaded.lsn()).isEqualTo(lsn);
        assertThat(loaded.maxPid()).isLessThan(PageTable.UNBACKED_IDS + 2L * bytes.length);
        decodeAll(loaded.table(), loaded.maxPid() + 1, path, bytes.length);
    }

    /** Fuzzed bytes as the records and live map of the one block of a file whose header, index and CRC hold. */
    @FuzzTest(maxDuration = "5m")
    void snapshotBlock(FuzzedDataProvider data) throws IOException {
        int group = data.consumeInt(0, 3);
        int records = data.consumeInt(1, SnapshotFormat.BLOCK_PIDS);
        long lsn = data.consumeLong(0, 1L << 40);
        byte[] block = data.consumeRemainingAsBytes();
        long pageIds = (group + 1L) * SnapshotFormat.BLOCK_PIDS;
        int indexAt = SnapshotFormat.HEADER_LENGTH + block.length;
        int size = indexAt + SnapshotFormat.INDEX_ENTRY_LENGTH + SnapshotFormat.FOOTER_LENGTH;
        ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(size));
        buf.putInt(4, SnapshotFormat.MAGIC).putInt(8, SnapshotFormat.VERSION).putLong(16, lsn).putLong(24, pageIds);
        buf.putInt(0, LogFormat.crc(buf, 4, SnapshotFormat.HEADER_LENGTH));
        buf.position(SnapshotFormat.HEADER_LENGTH);
        buf.put(block).putInt(group).putInt(records).putLong(SnapshotFormat.HEADER_LENGTH);
        buf.putLong(indexAt).putInt(1).putLong(records);
        buf.putInt(size - 4, LogFormat.crc(buf, 0, size - 4));
        Path path = write(buf.array(), lsn);
        PageTable table = new PageTable();
        try (StorageFile f = disk.open(path, StorageIo.OpenMode.READ_ONLY)) {
            table.attach(SnapshotFormat.Image.open(f, 64));
        } catch (CorruptionException e) {
            assertThat(e.file()).isEqualTo(path);
            assertThat(e.offset()).isBetween(0L, (long) size);
            return;
        }
        decodeAll(table, pageIds, path, size);
    }

    private SimulatedStorage disk;

    private Path write(byte[] bytes, long lsn) throws IOException {
        disk = new SimulatedStorage();
        Path path = DIR.resolve(SnapshotFormat.fileName(lsn));
        disk.createDirectories(DIR);
        try (StorageFile f = disk.open(path, StorageIo.OpenMode.CREATE)) {
            f.write(ByteBuffer.wrap(bytes), 0);
        }
        return path;
    }

    /** Every page decodes, or the first block that does not throws a CorruptionException inside the file. */
    private static void decodeAll(PageTable table, long pageIds, Path path, long size) {
        try {
            long[] vacant = new long[1];
            table.forEachVacant(0, pageIds, pid -> vacant[0]++);
            long vacantAfter = 0;
            for (long pid = 0; pid < pageIds; pid++) {
                Object entry = table.get(pid);
                if (entry == null || Page.isFree(entry)) {
                    vacantAfter++;
                }
            }
            assertThat(table.hasUnresolved()).as("every block was decoded").isFalse();
            assertThat(vacantAfter).as("the live maps say what the decoded pages say").isEqualTo(vacant[0]);
        } catch (CorruptionException e) {
            assertThat(e.file()).isEqualTo(path);
            assertThat(e.offset()).isBetween(0L, size);
        }
    }
}
