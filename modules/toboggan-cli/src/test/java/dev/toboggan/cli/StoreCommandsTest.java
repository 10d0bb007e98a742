package dev.toboggan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.cli.store.KilledStores;
import dev.toboggan.cli.store.SegmentWalk;
import dev.toboggan.cli.store.StoreReader;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code inspect} and {@code verify}: what they report, that they change nothing, and their errors. */
class StoreCommandsTest {
    @TempDir Path tmp;

    /** A closed store with a few thousand keys, a few large values (own pages) and a second tree. */
    private Path store() {
        Path dir = tmp.resolve("store");
        try (Db db = Toboggan.open(dir)) {
            for (int i = 0; i < 3000; i++) {
                byte[] key = ByteBuffer.allocate(8).putLong(i).array();
                db.insert(key, ("value " + i).repeat(i % 100 == 0 ? 300 : 3).getBytes(StandardCharsets.UTF_8));
            }
            db.tree("other").insert("k".getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
        }
        return dir;
    }

    @Test
    void verifyFindsACleanStoreClean() {
        Path dir = store();
        CliRun r = CliRun.of("verify", "--path", dir.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.out()).contains("OK: " + dir + " is clean").doesNotContain("PROBLEM");
    }

    @Test
    void verifyNamesTheFileAndOffsetOfAFlippedByte() throws IOException {
        Path dir = store();
        Path log = dir.resolve("log");
        // The first message of the log starts right after the first segment's 24-byte header.
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "rw")) {
            f.seek(30);
            int b = f.read();
            f.seek(30);
            f.write(b ^ 0x10);
        }
        CliRun r = CliRun.of("verify", "--path", dir.toString());
        assertThat(r.exit()).as(r.all()).isEqualTo(1);
        assertThat(r.out()).contains("PROBLEM: " + log + " at byte 24").contains("FAILED");
    }

    /** The id generator's mark file is a store file like the others: damage in it is a problem verify names. */
    @Test
    void verifyNamesADamagedIdMarkFile() throws IOException {
        Path dir = store();
        Path marks = dir.resolve("id-mark");
        byte[] bytes = new byte[24];
        bytes[4] = 'T';
        bytes[5] = 'B';
        bytes[6] = 'G';
        bytes[7] = 'I';
        Files.write(marks, bytes); // the right magic, a wrong checksum
        CliRun r = CliRun.of("verify", "--path", dir.toString());
        assertThat(r.exit()).as(r.all()).isEqualTo(1);
        assertThat(r.out()).contains("PROBLEM: " + marks).contains("checksum").contains("FAILED");
    }

    @Test
    void verifyChecksTheOlderSnapshotsTooNotOnlyTheOneRecoveryLoads() throws IOException {
        Path dir = store();
        try (Db db = Toboggan.open(dir)) { // a change and a clean close: a second snapshot
            db.insert("second".getBytes(StandardCharsets.UTF_8), new byte[] {1});
        }
        List<Path> snapshots;
        try (Stream<Path> files = Files.list(dir)) {
            snapshots = files.filter(p -> p.getFileName().toString().startsWith("snapshot.")).sorted().toList();
        }
        assertThat(snapshots).hasSizeGreaterThanOrEqualTo(2);
        Path older = snapshots.get(0);
        try (RandomAccessFile f = new RandomAccessFile(older.toFile(), "rw")) {
            f.seek(f.length() / 2);
            int b = f.read();
            f.seek(f.length() / 2);
            f.write(b ^ 0x01);
        }
        CliRun r = CliRun.of("verify", "--path", dir.toString());
        assertThat(r.exit()).as(r.all()).isEqualTo(1);
        assertThat(r.out()).contains("PROBLEM: " + older + ": recovering from it (newer snapshots set aside)")
                .contains(older + " cannot be used").contains("in " + older + " at byte offset");
    }

    @Test
    void verifyNotesWhatAKillLeavesWithoutCallingItAProblem() {
        Path killed = tmp.resolve("killed");
        KilledStores.withUnsealedBatch(tmp.resolve("live"), killed);
        CliRun r = CliRun.of("verify", "--path", killed.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.out()).contains("NOTE: 1 atomic batch").contains("OK: " + killed + " is clean")
                .doesNotContain("PROBLEM");
    }

    @Test
    void verifyNotesATornTailPastTheDurableTip() throws IOException {
        Path killed = tmp.resolve("killed");
        KilledStores.withUnsealedBatch(tmp.resolve("live"), killed);
        // The kill cut the batch's manifest (the first message recovery drops) short: flip a byte of it.
        long offset;
        try (StoreReader store = StoreReader.open(killed)) {
            long tip = store.pageCache().recoveryReport().tip();
            int segmentSize = store.format().segmentSize();
            SegmentWalk.Segment tail = store.walkLog().segments().stream()
                    .filter(s -> s.baseLsn() >= 0 && s.baseLsn() == (tip & -segmentSize)).findFirst().orElseThrow();
            offset = (long) tail.slot() * segmentSize + (tip - tail.baseLsn());
        }
        try (RandomAccessFile f = new RandomAccessFile(killed.resolve("log").toFile(), "rw")) {
            f.seek(offset + 6);
            int b = f.read();
            f.seek(offset + 6);
            f.write(b ^ 0x40);
        }
        CliRun r = CliRun.of("verify", "--path", killed.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.out()).contains("NOTE: the log ends in a message that was cut short").contains("torn message at LSN")
                .contains("OK: " + killed + " is clean").doesNotContain("PROBLEM");
    }

    @Test
    void verifyNotesAnOlderSnapshotTheCleanerHasOutgrown() {
        Path killed = tmp.resolve("killed");
        KilledStores.cleanedAfterItsOlderSnapshot(tmp.resolve("live"), killed);
        CliRun r = CliRun.of("verify", "--path", killed.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.out()).containsPattern("NOTE: .*snapshot\\.[0-9a-f]{16} .*no longer a fallback")
                .contains("OK: " + killed + " is clean").doesNotContain("PROBLEM");
    }

    @Test
    void inspectAndVerifyChangeNothingOnDisk() throws IOException {
        Path dir = store();
        Map<String, String> before = fingerprint(dir);
        assertThat(CliRun.of("inspect", "--path", dir.toString()).exit()).isZero();
        assertThat(CliRun.of("verify", "--path", dir.toString()).exit()).isZero();
        assertThat(fingerprint(dir)).isEqualTo(before);
    }

    @Test
    void inspectJsonParsesAndDescribesTheStore() {
        Path dir = store();
        CliRun r = CliRun.of("inspect", "--path", dir.toString(), "--json");
        assertThat(r.exit()).as(r.all()).isZero();
        Config json = ConfigFactory.parseString(r.out(), ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON));
        assertThat(json.getInt("store.segment_size")).isEqualTo(8 << 20);
        assertThat(json.getString("store.compression")).isEqualTo("none");
        assertThat(json.getLong("pages.pages")).isPositive();
        assertThat(json.getLong("pages.live_bytes")).isPositive();
        assertThat(json.getIsNull("pages.unreadable")).isTrue();
        assertThat(json.getLong("log.end_lsn")).isPositive();
        assertThat(json.getConfigList("log.segments")).isNotEmpty();
        assertThat(json.getConfigList("log.segments").get(0).getLong("messages")).isPositive();
        Config active = json.getConfigList("log.segments").stream().filter(seg -> seg.getString("state").equals("active"))
                .findFirst().orElseThrow();
        assertThat(active.getLong("live_bytes")).as("the tail segment holds the store's pages").isPositive();
        assertThat(json.getConfigList("snapshots")).isNotEmpty();
        assertThat(json.getObject("roots").keySet()).contains("tree/other");
        assertThat(json.getDouble("space_amplification")).isPositive();
        assertThat(json.getStringList("recovery.warnings")).isEmpty();
    }

    @Test
    void aLockedStoreOrAMissingDirectorySaysSoInOneLine() {
        Path dir = store();
        try (Db open = Toboggan.open(dir)) {
            CliRun r = CliRun.of("verify", "--path", dir.toString());
            assertThat(r.exit()).as(r.all()).isEqualTo(3);
            assertThat(r.err()).startsWith("verify: the store is already open: ").hasLineCount(1);
            CliRun inspect = CliRun.of("inspect", "--path", dir.toString());
            assertThat(inspect.exit()).as(inspect.all()).isEqualTo(3);
        }
        CliRun missing = CliRun.of("inspect", "--path", tmp.resolve("nothing-here").toString());
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).startsWith("--path: " + tmp.resolve("nothing-here") + " does not exist or is not a directory\n")
                .contains("Usage: toboggan inspect");
        CliRun notAStore = CliRun.of("verify", "--path", tmp.toString());
        assertThat(notAStore.exit()).isEqualTo(2);
        assertThat(notAStore.err()).startsWith("--path: " + tmp + " holds no Toboggan store (it has no 'format' file)\n");
    }

    /** Every file's name, size, modification time and content hash. */
    private static Map<String, String> fingerprint(Path dir) throws IOException {
        Map<String, String> files = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                files.put(dir.relativize(p).toString(), Files.size(p) + " " + Files.getLastModifiedTime(p) + " "
                        + java.util.Arrays.hashCode(Files.readAllBytes(p)));
            }
        }
        return files;
    }
}
