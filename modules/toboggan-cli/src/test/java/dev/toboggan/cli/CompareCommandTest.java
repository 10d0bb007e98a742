package dev.toboggan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.cli.compare.Comparison;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CompareCommandTest {
    @TempDir Path tmp;

    @Test
    void aSmallRunWritesATableOfRatiosACsvAndAChart() throws IOException {
        Path out = tmp.resolve("out");
        CliRun r = CliRun.of("compare", "--keys", "500", "--ops", "500", "--durable-ops", "16", "--settle", "0",
                "--warmup-percent", "0", "--rounds", "2",
                "--stores", "toboggan,mvstore,leveldb", "--path", tmp.resolve("work").toString(), "--out", out.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.out()).contains("Toboggan").contains("H2 MVStore").contains("LevelDB (iq80)")
                .contains("ratios: figure / Toboggan's in this run");
        List<String> csv = Files.readAllLines(out.resolve(Comparison.CSV));
        assertThat(csv).hasSize(4);
        assertThat(csv.get(1)).startsWith("toboggan,").contains(",1.000,");
        assertThat(Files.readAllBytes(out.resolve(Comparison.CHART))).startsWith(0x89, 'P', 'N', 'G');
    }

    @Test
    void theIssuesWholeListIsMeasuredOnEveryStoreWithItsRatios() throws IOException {
        Path out = tmp.resolve("out");
        CliRun r = CliRun.of("compare", "--keys", "300", "--ops", "300", "--durable-ops", "32", "--writers", "4",
                "--settle", "1", "--warmup-percent", "0", "--stores", "toboggan,rocksdb", "--path",
                tmp.resolve("work").toString(), "--out", out.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        assertThat(r.out()).contains("reads 2t").contains("95/5 2t").contains("put+sync 4w").contains("bare fsync")
                .contains("reopen ms").contains("settled");
        List<String> csv = Files.readAllLines(out.resolve(Comparison.CSV));
        assertThat(csv).hasSize(3);
        List<String> columns = List.of(csv.get(0).split(","));
        assertThat(columns).contains("read_threads_ops_per_s", "mixed_95_5_threads_ops_per_s", "bare_fsync_ops_per_s",
                "durable_1_writer_ops_per_s", "durable_writers_ops_per_s", "durable_1_writer_per_bare",
                "durable_writers_per_bare", "space_amp_loaded", "space_amp_settled", "settle_ms", "space_amp_closed",
                "reopen_ms", "reopen_ms_ratio");
        for (String row : csv.subList(1, 3)) {
            List<String> cells = List.of(row.split(",", -1));
            assertThat(cells).hasSameSizeAs(columns);
            for (int c = 1; c < columns.size(); c++) {
                if (!columns.get(c).equals("settle_ms")) {
                    // settle_ms is empty only if the files still changed after a second: a store's own business.
                    assertThat(Double.parseDouble(cells.get(c))).as(columns.get(c) + " of " + cells.get(0)).isPositive();
                }
            }
        }
    }

    @Test
    void theInMemoryReferencesGetThroughputRowsAndRatiosAndNothingElse() throws IOException {
        Path out = tmp.resolve("out");
        CliRun r = CliRun.of("compare", "--keys", "300", "--ops", "300", "--durable-ops", "16", "--writers", "4",
                "--settle", "0", "--warmup-percent", "0", "--stores", "toboggan,hashmap,skiplist", "--path",
                tmp.resolve("work").toString(), "--out", out.toString());
        assertThat(r.exit()).as(r.all()).isZero();
        String[] tables = r.out().split("\n\n");
        String throughput = List.of(tables).stream().filter(t -> t.startsWith("throughput")).findFirst().orElseThrow();
        assertThat(throughput).contains("hash map, memory").contains("skip list, memory");
        String durable = List.of(tables).stream().filter(t -> t.startsWith("durable")).findFirst().orElseThrow();
        assertThat(durable).contains("Toboggan").doesNotContain("memory");
        List<String> csv = Files.readAllLines(out.resolve(Comparison.CSV));
        assertThat(csv).hasSize(4);
        List<String> columns = List.of(csv.get(0).split(","));
        List<String> hashMap = List.of(csv.get(2).split(",", -1));
        assertThat(hashMap.get(0)).isEqualTo("hashmap");
        assertThat(Double.parseDouble(hashMap.get(columns.indexOf("read_ops_per_s")))).isPositive();
        assertThat(Double.parseDouble(hashMap.get(columns.indexOf("read_ratio")))).isPositive();
        assertThat(hashMap.get(columns.indexOf("reopen_ms"))).isEmpty();
        assertThat(hashMap.get(columns.indexOf("durable_1_writer_ops_per_s"))).isEmpty();
        assertThat(Files.readAllBytes(out.resolve(Comparison.CHART))).startsWith(0x89, 'P', 'N', 'G');
    }

    @Test
    void badArgumentsGetAOneLineErrorAndTheUsage() {
        CliRun noBaseline = CliRun.of("compare", "--stores", "rocksdb");
        assertThat(noBaseline.exit()).isEqualTo(2);
        assertThat(noBaseline.err()).startsWith("--baseline toboggan is not among --stores [rocksdb]\n")
                .contains("Usage: toboggan compare");
        CliRun unknownStore = CliRun.of("compare", "--stores", "toboggan,berkeleydb");
        assertThat(unknownStore.exit()).isEqualTo(2);
        assertThat(unknownStore.err()).startsWith("Invalid value for option '--stores'");
        CliRun tooFewDurableOps = CliRun.of("compare", "--durable-ops", "10", "--writers", "16");
        assertThat(tooFewDurableOps.exit()).isEqualTo(2);
        assertThat(tooFewDurableOps.err()).startsWith("--durable-ops 10 must be at least --writers 16")
                .contains("Usage: toboggan compare");
        CliRun tooFewKeys = CliRun.of("compare", "--keys", "8");
        assertThat(tooFewKeys.exit()).isEqualTo(2);
        assertThat(tooFewKeys.err()).startsWith("every writer and thread overwrites keys of its own: --keys 8 must be "
                + "at least --writers 16");
        CliRun negativeSettle = CliRun.of("compare", "--settle", "-1");
        assertThat(negativeSettle.exit()).isEqualTo(2);
        assertThat(negativeSettle.err()).startsWith("--settle must be at least 0 seconds, was -1");
        CliRun noThreads = CliRun.of("compare", "--threads", "0");
        assertThat(noThreads.exit()).isEqualTo(2);
        assertThat(noThreads.err()).startsWith("--threads and --writers must be from 1 to 256, were 0 and 16");
    }

    @Test
    void everyCommandHasHelp() {
        for (String command : List.of("stress", "inspect", "verify", "compare", "export", "import")) {
            CliRun r = CliRun.of(command, "--help");
            assertThat(r.exit()).as(r.all()).isZero();
            assertThat(r.out()).startsWith("Usage: toboggan " + command);
        }
        CliRun top = CliRun.of("--help");
        assertThat(top.exit()).isZero();
        assertThat(top.out()).contains("stress").contains("inspect").contains("verify").contains("compare")
                .contains("export").contains("import");
    }
}
