package dev.toboggan.core.log;

import static dev.toboggan.core.log.LogTestSupport.body;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.Background;
import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.IncompatibleStoreException;
import dev.toboggan.core.StorageException;
import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.io.SimulatedStorage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The store directory: its format file, its lock, its permissions, and damage below the durable tip. */
class StoreDirectoryTest {
    @TempDir Path tmp;

    @Test
    void openingWithAnotherSegmentSizeIsAClearErrorThatChangesNothing() {
        SimulatedStorage disk = new SimulatedStorage();
        LogTestSupport.open(LogTestSupport.smallConfig(), disk).log().close();
        byte[] format = disk.content(LogTestSupport.DIR.resolve("format"));
        assertThatThrownBy(() -> LogTestSupport.open(LogTestSupport.smallConfig().withSegmentSize(8192), disk))
                .isInstanceOf(IncompatibleStoreException.class)
                .hasMessageContaining("toboggan.segment-size = 4096").hasMessageContaining("8192");
        assertThatThrownBy(() -> LogTestSupport.open(LogTestSupport.smallConfig().withCompression(true), disk))
                .isInstanceOf(IncompatibleStoreException.class).hasMessageContaining("toboggan.compression");
        assertThat(disk.content(LogTestSupport.DIR.resolve("format"))).isEqualTo(format);
        LogTestSupport.open(LogTestSupport.smallConfig(), disk).log().close();
    }

    @Test
    void aDamagedFormatFileIsReportedAsCorruption() {
        SimulatedStorage disk = new SimulatedStorage();
        LogTestSupport.open(LogTestSupport.smallConfig(), disk).log().close();
        disk.corrupt(LogTestSupport.DIR.resolve("format"), 60, (byte) 1);
        assertThatThrownBy(() -> LogTestSupport.open(LogTestSupport.smallConfig(), disk))
                .isInstanceOf(CorruptionException.class).hasMessageContaining("/store/format");
    }

    @Test
    void aSecondOpenIsRefusedNamingTheLockFile() throws Exception {
        LogConfig config = LogConfig.defaults(tmp.resolve("db")).withSegmentSize(4096);
        try (Log first = Log.open(config, new FileChannelStorage(), Background.NONE, 0, e -> {})) {
            assertThatThrownBy(() -> Log.open(config, new FileChannelStorage(), Background.NONE, 0, e -> {}))
                    .isInstanceOf(StorageException.class)
                    .hasMessageContaining(tmp.resolve("db").resolve("lock").toString())
                    .hasMessageContaining("already open");
            byte[] b = body(0, 0, 10);
            first.reserve(MessageKind.INLINE_NODE, 2, b, 0, b.length).complete();
        }
        Log.open(config, new FileChannelStorage(), Background.NONE, 0, e -> {}).close();
    }

    @Test
    void filesAreReadableByTheirOwnerOnly() throws Exception {
        LogConfig config = LogConfig.defaults(tmp.resolve("db")).withSegmentSize(4096);
        try (Log log = Log.open(config, new FileChannelStorage(), Background.NONE, 0, e -> {})) {
            byte[] big = body(0, 0, 3000);
            log.reserve(MessageKind.INLINE_NODE, 2, big, 0, big.length).complete();
            log.flush();
        }
        for (Path p : List.of(config.logFile(), config.directory().resolve("format"))) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(p))).as("%s", p).isEqualTo("rw-------");
        }
        try (var blobs = Files.list(config.blobDirectory())) {
            blobs.forEach(p -> assertThat(p.toFile().canRead()).isTrue());
        }
    }

    @Test
    void damageBelowTheDurableTipIsCorruptionAndChangesNothing() {
        SimulatedStorage disk = new SimulatedStorage();
        List<long[]> written = new ArrayList<>();
        try (Log log = Log.open(LogTestSupport.smallConfig(), disk, Background.NONE, 0, e -> {})) {
            for (int i = 0; i < 200; i++) {
                byte[] b = body(0, i, 100);
                Reservation r = log.reserve(MessageKind.INLINE_NODE, 2, b, 0, b.length);
                r.complete();
                written.add(new long[] {r.lsn(), r.pointer()});
            }
            log.flush();
        }
        Path logFile = LogTestSupport.DIR.resolve("log");
        long damagedAt = written.get(3)[1] + 20;
        disk.corrupt(logFile, damagedAt, (byte) 0x10);
        byte[] before = disk.content(logFile);
        assertThatThrownBy(() -> LogTestSupport.open(LogTestSupport.smallConfig(), disk))
                .isInstanceOf(CorruptionException.class).hasMessageContaining("/store/log")
                .hasMessageContaining("at byte offset " + written.get(3)[1]).hasMessageContaining("BAD_CRC");
        assertThat(disk.content(logFile)).isEqualTo(before);
    }

    @Test
    void aLeftoverTemporaryFormatFileIsIgnored() throws Exception {
        SimulatedStorage disk = new SimulatedStorage();
        LogTestSupport.open(LogTestSupport.smallConfig(), disk).log().close();
        disk.open(LogTestSupport.DIR.resolve("format.tmp"), dev.toboggan.core.io.StorageIo.OpenMode.CREATE_NEW).close();
        LogTestSupport.open(LogTestSupport.smallConfig(), disk).log().close();
        assertThat(disk.exists(LogTestSupport.DIR.resolve("format.tmp"))).isFalse();
    }

    @Test
    void useAfterCloseAndBadArgumentsAreClearErrors() {
        Log log = LogTestSupport.open(LogTestSupport.smallConfig(), new SimulatedStorage()).log();
        byte[] b = body(0, 0, 10);
        assertThatThrownBy(() -> log.reserve(MessageKind.CAP, 2, b, 0, b.length))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reserve a page kind");
        assertThatThrownBy(() -> log.reserve(MessageKind.INLINE_NODE, -5, b, 0, b.length))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out of range");
        assertThatThrownBy(() -> log.makeStable(1_000_000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("nothing was written");
        log.close();
        assertThatThrownBy(() -> log.reserve(MessageKind.INLINE_NODE, 2, b, 0, b.length))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> LogConfig.defaults(tmp).withSegmentSize(3000))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("toboggan.segment-size");
    }
}
