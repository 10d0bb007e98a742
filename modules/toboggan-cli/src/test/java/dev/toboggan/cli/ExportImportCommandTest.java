package dev.toboggan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExportImportCommandTest {
    @TempDir Path tmp;

    @Test
    void aStoreExportedAndImportedOnTheCommandLineHoldsWhatItHeld() throws IOException {
        Path store = tmp.resolve("store");
        long lastId;
        try (Db db = Toboggan.open(store)) {
            for (int i = 0; i < 1000; i++) {
                db.insert(bytes("key-" + i), bytes("value-" + i));
            }
            db.tree("orders").insert(bytes("o1"), bytes("paid"));
            lastId = db.generateId();
        }
        Path dump = tmp.resolve("store.dump");
        CliRun export = CliRun.of("export", "--path", store.toString(), dump.toString());
        assertThat(export.exit()).as(export.all()).isZero();
        assertThat(export.out()).startsWith("exported 2 trees and 1,001 entries (");

        Path copy = tmp.resolve("copy");
        CliRun imported = CliRun.of("import", dump.toString(), "--path", copy.toString());
        assertThat(imported.exit()).as(imported.all()).isZero();
        assertThat(imported.out()).startsWith("imported 2 trees and 1,001 entries from ");
        try (Db db = Toboggan.open(copy)) {
            assertThat(db.size()).isEqualTo(1000);
            assertThat(db.get(bytes("key-999"))).isEqualTo(bytes("value-999"));
            assertThat(db.tree("orders").get(bytes("o1"))).isEqualTo(bytes("paid"));
            assertThat(db.generateId()).isGreaterThan(lastId);
        }
        CliRun verify = CliRun.of("verify", "--path", copy.toString());
        assertThat(verify.exit()).as(verify.all()).isZero();
    }

    @Test
    void aDamagedDumpIsReportedWithWhereByACheckAndByAnImportThatWritesNothing() throws IOException {
        Path store = tmp.resolve("store");
        try (Db db = Toboggan.open(store)) {
            db.insert(bytes("k"), bytes("v"));
        }
        Path dump = tmp.resolve("d");
        assertThat(CliRun.of("export", "--path", store.toString(), dump.toString()).exit()).isZero();
        CliRun whole = CliRun.of("import", dump.toString(), "--check");
        assertThat(whole.exit()).as(whole.all()).isZero();
        assertThat(whole.out()).contains("is a whole dump: 1 tree and 1 entry").contains("nothing was written");
        byte[] bytes = Files.readAllBytes(dump);
        bytes[bytes.length - 30] ^= 1;
        Files.write(dump, bytes);
        CliRun checked = CliRun.of("import", dump.toString(), "--check");
        assertThat(checked.exit()).as(checked.all()).isEqualTo(1);
        assertThat(checked.err()).contains("checksum does not match");
        Path copy = tmp.resolve("copy");
        CliRun r = CliRun.of("import", dump.toString(), "--path", copy.toString());
        assertThat(r.exit()).as(r.all()).isEqualTo(1);
        assertThat(r.err()).startsWith("import: cannot import ").contains("checksum does not match")
                .contains("(the frame at byte ").contains("nothing was imported");
        assertThat(copy).doesNotExist();
    }

    @Test
    void badArgumentsGetAOneLineErrorAndTheUsage() throws IOException {
        CliRun noStore = CliRun.of("export", "--path", tmp.resolve("none").toString(), tmp.resolve("d").toString());
        assertThat(noStore.exit()).isEqualTo(2);
        assertThat(noStore.err()).startsWith("--path " + tmp.resolve("none") + ": no store there")
                .contains("Usage: toboggan export");
        assertThat(tmp.resolve("none")).as("export never creates a store").doesNotExist();

        Path store = tmp.resolve("store");
        Toboggan.open(store).close();
        Files.writeString(tmp.resolve("taken"), "x");
        CliRun dumpExists = CliRun.of("export", "--path", store.toString(), tmp.resolve("taken").toString());
        assertThat(dumpExists.exit()).isEqualTo(2);
        assertThat(dumpExists.err()).contains("exists already").contains("Usage: toboggan export");

        CliRun noDump = CliRun.of("import", tmp.resolve("nothing").toString(), "--path", tmp.resolve("new").toString());
        assertThat(noDump.exit()).isEqualTo(2);
        assertThat(noDump.err()).startsWith("DUMP " + tmp.resolve("nothing") + ": no such file");
        CliRun targetExists = CliRun.of("import", tmp.resolve("taken").toString(), "--path", store.toString());
        assertThat(targetExists.exit()).isEqualTo(2);
        assertThat(targetExists.err()).contains("exists already: an import makes a new store");
        CliRun noParent = CliRun.of("import", tmp.resolve("taken").toString(), "--path",
                tmp.resolve("no/such/new").toString());
        assertThat(noParent.exit()).isEqualTo(2);
        assertThat(noParent.err()).contains("its parent directory does not exist");
        CliRun noPath = CliRun.of("import", tmp.resolve("taken").toString());
        assertThat(noPath.exit()).isEqualTo(2);
        assertThat(noPath.err()).startsWith("--path is needed");
        CliRun checkWithPath = CliRun.of("import", tmp.resolve("taken").toString(), "--check", "--path",
                tmp.resolve("new").toString());
        assertThat(checkWithPath.exit()).isEqualTo(2);
        assertThat(checkWithPath.err()).startsWith("--check writes nothing: leave out --path");
        CliRun badSetting = CliRun.of("import", tmp.resolve("taken").toString(), "--path", tmp.resolve("new").toString(),
                "--set", "toboggan.no-such=1");
        assertThat(badSetting.exit()).isEqualTo(2);
        assertThat(badSetting.err()).startsWith("--set toboggan.no-such: no such setting");
        assertThat(tmp.resolve("new")).doesNotExist();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
