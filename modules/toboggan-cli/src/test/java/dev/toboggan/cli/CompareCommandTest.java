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
        CliRun r = CliRun.of("compare", "--keys", "500", "--ops", "500", "--warmup-percent", "0", "--rounds", "2",
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
    void badArgumentsGetAOneLineErrorAndTheUsage() {
        CliRun noBaseline = CliRun.of("compare", "--stores", "rocksdb");
        assertThat(noBaseline.exit()).isEqualTo(2);
        assertThat(noBaseline.err()).startsWith("--baseline toboggan is not among --stores [rocksdb]\n")
                .contains("Usage: toboggan compare");
        CliRun unknownStore = CliRun.of("compare", "--stores", "toboggan,berkeleydb");
        assertThat(unknownStore.exit()).isEqualTo(2);
        assertThat(unknownStore.err()).startsWith("Invalid value for option '--stores'");
    }

    @Test
    void everyCommandHasHelp() {
        for (String command : List.of("stress", "inspect", "verify", "compare")) {
            CliRun r = CliRun.of(command, "--help");
            assertThat(r.exit()).as(r.all()).isZero();
            assertThat(r.out()).startsWith("Usage: toboggan " + command);
        }
        CliRun top = CliRun.of("--help");
        assertThat(top.exit()).isZero();
        assertThat(top.out()).contains("stress").contains("inspect").contains("verify").contains("compare");
    }
}
