package dev.toboggan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.cli.stress.RunReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StressCommandTest {
    @TempDir Path tmp;

    @Test
    void aShortRunChecksEverythingItReadAndWritesItsReport() throws IOException {
        Path store = tmp.resolve("store");
        Path report = tmp.resolve("report");
        CliRun r = CliRun.of("stress", "--seconds", "1", "--threads", "2", "--keys", "2000", "--durable-percent", "5",
                "--path", store.toString(), "--report", report.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.out()).contains("OK: every value read back").contains("reopened in").contains("ops/s")
                .contains("backed up online").contains("opened the backup in")
                .contains("imported them into a new store").contains("opened the store imported from the export in")
                .contains("watch of every key, applied:").contains("watch of every key, durable:")
                .contains("each key's last one its final version");
        assertThat(Files.exists(store.resolve("log"))).as("--path keeps the store").isTrue();
        List<String> csv = Files.readAllLines(report.resolve(RunReport.CSV));
        assertThat(csv.get(0)).isEqualTo("second,ops_per_s,p50_us,p99_us,heap_mib,rss_mib,disk_mib,space_amp,max_us");
        assertThat(csv).hasSizeGreaterThanOrEqualTo(2);
        assertThat(csv.get(1).split(",", -1)).hasSize(9);
        assertThat(Long.parseLong(csv.get(1).split(",")[1])).as("ops in the first second").isPositive();
        byte[] png = Files.readAllBytes(report.resolve(RunReport.CHART));
        assertThat(png).startsWith(0x89, 'P', 'N', 'G');

        CliRun again = CliRun.of("stress", "--seconds", "1", "--path", store.toString());
        assertThat(again.exit()).as("a store with keys would read back as wrong").isEqualTo(2);
        assertThat(again.err()).startsWith("--path " + store + " already holds a store; stress needs a new directory");
    }

    @Test
    void sequentialRunsWithEveryOperationAreCheckedToo() {
        CliRun r = CliRun.of("stress", "--seconds", "1", "--threads", "3", "--keys", "500", "--sequential",
                "--mix", "insert=5,remove=2,cas=3,scan=3,batch=1,tx=1,get=1,snapshot=2", "--preload-percent", "0",
                "--durable-percent", "0", "--path", tmp.resolve("seq").toString());
        assertThat(r.exit()).as(r.all()).isZero();
    }

    @Test
    void storeSettingsShapeTheRunAndWrongOnesAreUsageErrors() {
        CliRun small = CliRun.of("stress", "--seconds", "1", "--threads", "2", "--keys", "2000",
                "--set", "toboggan.cache-capacity=1MiB", "--path", tmp.resolve("small-cache").toString());
        assertThat(small.exit()).as(small.all()).isZero();
        CliRun typo = CliRun.of("stress", "--set", "toboggan.cache-capacty=64MiB", "--path", tmp.resolve("t").toString());
        assertThat(typo.exit()).isEqualTo(2);
        assertThat(typo.err()).startsWith("--set toboggan.cache-capacty: no such setting");
        CliRun tooSmall = CliRun.of("stress", "--set", "toboggan.cache-capacity=1KiB", "--path", tmp.resolve("s").toString());
        assertThat(tooSmall.exit()).isEqualTo(2);
        assertThat(tooSmall.err()).contains("toboggan.cache-capacity must be at least 1MiB");
        assertThat(tmp.resolve("t")).as("nothing was created").doesNotExist();
        assertThat(tmp.resolve("s")).doesNotExist();
    }

    @Test
    void badArgumentsGetAOneLineErrorAndTheUsage() {
        CliRun r = CliRun.of("stress", "--threads", "0");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).startsWith("--threads must be at least 1, was 0\n").contains("Usage: toboggan stress");
        CliRun mix = CliRun.of("stress", "--mix", "get=50,fly=3");
        assertThat(mix.exit()).isEqualTo(2);
        assertThat(mix.err()).startsWith("--mix: unknown operation 'fly' (ops: get, insert, remove, cas, scan, batch, tx, snapshot)\n");
        CliRun unknown = CliRun.of("stress", "--bogus");
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.err()).startsWith("Unknown option: '--bogus'");
        CliRun notANumber = CliRun.of("stress", "--seconds", "soon");
        assertThat(notANumber.exit()).isEqualTo(2);
        assertThat(notANumber.err()).startsWith("Invalid value for option '--seconds': 'soon' is not an int");
    }
}
