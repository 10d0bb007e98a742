package dev.toboggan.core.log;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.IncompatibleStoreException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * Jazzer fuzz tests of the log's decoders: segment headers, message headers, the {@code stable-tip} file
 * and the {@code format} file. Arbitrary bytes must decode to a valid value or be refused (null, a
 * {@link LogFormat.Defect}, 0, or a clear {@link CorruptionException} / {@link IncompatibleStoreException}),
 * never throw anything else, read past the bytes they were given, or allocate by a length they read.
 * Each target can repair the checksum of its input (the fuzzer's choice), so the fields behind the
 * checksum are fuzzed too, as a crafted file would have them.
 *
 * <p>Under {@code mvn test} each target replays its corpus ({@code src/test/resources/.../
 * LogDecoderFuzzTestInputs/<target>/}); {@code JAZZER_FUZZ=1} fuzzes (docs/testing.md).
 */
class LogDecoderFuzzTest {
    private static final Path DIR = Path.of("/store");

    @FuzzTest(maxDuration = "5m")
    void segmentHeader(FuzzedDataProvider data) {
        int segmentSize = 1 << data.consumeInt(10, 30);
        boolean repair = data.consumeBoolean();
        ByteBuffer buf = LogFormat.le(ByteBuffer.wrap(data.consumeRemainingAsBytes()));
        if (repair && buf.limit() >= LogFormat.SEGMENT_HEADER_LENGTH) {
            buf.putInt(4, LogFormat.SEGMENT_MAGIC);
            buf.putInt(0, LogFormat.crc(buf, 4, LogFormat.SEGMENT_HEADER_LENGTH));
        }
        LogFormat.SegmentHeader header = LogFormat.readSegmentHeader(buf, 0, segmentSize);
        if (header != null) {
            assertThat(header.baseLsn()).isNotNegative();
            assertThat(header.baseLsn() % segmentSize).isZero();
            assertThat(header.stableTip()).isBetween(0L, header.baseLsn());
        }
    }

    @FuzzTest(maxDuration = "5m")
    void message(FuzzedDataProvider data) {
        long expectedSegment = data.consumeLong(0, 1L << 40);
        boolean repair = data.consumeBoolean();
        byte[] bytes = data.consumeRemainingAsBytes();
        ByteBuffer buf = LogFormat.le(ByteBuffer.wrap(bytes));
        int end = bytes.length;
        int announced = LogFormat.peekMessageLength(buf, 0, end);
        if (repair && announced >= 4 && announced <= end) {
            buf.putInt(0, LogFormat.crc(buf, 4, announced));
        }
        LogFormat.MessageHeader header = new LogFormat.MessageHeader();
        LogFormat.Defect defect = LogFormat.readMessage(buf, 0, end, expectedSegment, header);
        if (defect == null) {
            assertThat(header.kind).isNotNull();
            assertThat(header.headerLength).isBetween(7, LogFormat.MAX_MESSAGE_HEADER_LENGTH);
            assertThat(header.bodyLength).isNotNegative();
            assertThat(header.totalLength()).isLessThanOrEqualTo(end).isEqualTo(announced);
        }
    }

    @FuzzTest(maxDuration = "5m")
    void stableTipFile(FuzzedDataProvider data) throws IOException {
        boolean repair = data.consumeBoolean();
        byte[] bytes = data.consumeRemainingAsBytes();
        if (repair && bytes.length >= StableTipFile.LENGTH) {
            ByteBuffer buf = LogFormat.le(ByteBuffer.wrap(bytes));
            buf.putInt(4, StableTipFile.MAGIC);
            buf.putInt(0, LogFormat.crc(buf, 4, StableTipFile.LENGTH));
        }
        SimulatedStorage disk = new SimulatedStorage();
        write(disk, DIR.resolve(StableTipFile.FILE_NAME), bytes);
        assertThat(StableTipFile.read(disk, DIR)).isNotNegative();
    }

    @FuzzTest(maxDuration = "5m")
    void formatFile(FuzzedDataProvider data) throws IOException {
        boolean repair = data.consumeBoolean();
        int segmentSize = 1 << data.consumeInt(10, 30);
        byte[] bytes = data.consumeRemainingAsBytes();
        if (repair) {
            // As a person editing the file and fixing its checksum would leave it.
            String body = new String(bytes, StandardCharsets.UTF_8);
            CRC32C crc = new CRC32C();
            crc.update(body.getBytes(StandardCharsets.UTF_8));
            bytes = (body + "checksum=" + String.format("%08x", crc.getValue()) + "\n").getBytes(StandardCharsets.UTF_8);
        }
        SimulatedStorage disk = new SimulatedStorage();
        write(disk, DIR.resolve(StoreDescriptor.FILE_NAME), bytes);
        try {
            StoreDescriptor.openOrCreate(disk, LogConfig.defaults(DIR).withSegmentSize(segmentSize), false);
        } catch (CorruptionException e) {
            assertThat(e.file()).isEqualTo(DIR.resolve(StoreDescriptor.FILE_NAME));
        } catch (IncompatibleStoreException e) {
            assertThat(e.getMessage()).contains(DIR.toString());
        }
    }

    private static void write(StorageIo io, Path path, byte[] bytes) throws IOException {
        io.createDirectories(path.getParent());
        try (StorageFile f = io.open(path, StorageIo.OpenMode.CREATE)) {
            f.write(ByteBuffer.wrap(bytes), 0);
            f.force();
        }
    }
}
