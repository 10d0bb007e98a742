package dev.toboggan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class StressCommandTest {
    @TempDir Path tmp;

    private record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
        CommandLine cli = TobogganCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void aShortRunVerifiesEverythingItWrote() {
        Run r = run("stress", "--seconds", "1", "--threads", "2", "--durable-percent", "5", "--path",
                tmp.resolve("store").toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("OK: everything written was recovered intact").contains("0 wrong, 0 missing");
        assertThat(Files.exists(tmp.resolve("store").resolve("log"))).as("--path keeps the store").isTrue();
    }

    @Test
    void badArgumentsGetAOneLineErrorAndTheUsage() {
        Run r = run("stress", "--threads", "0");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).startsWith("--threads must be at least 1, was 0").contains("Usage: toboggan stress");
        Run unknown = run("stress", "--bogus");
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.err()).startsWith("Unknown option: '--bogus'");
    }
}
