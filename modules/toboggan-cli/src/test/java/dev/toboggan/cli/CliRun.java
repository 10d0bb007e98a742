package dev.toboggan.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** One run of the {@code toboggan} command line in this JVM: its exit code and what it printed. */
record CliRun(int exit, String out, String err) {
    static CliRun of(String... args) {
        CommandLine cli = TobogganCli.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int exit = cli.execute(args);
        return new CliRun(exit, out.toString(), err.toString());
    }

    /** Everything printed, for assertion messages. */
    String all() {
        return "exit " + exit + "\n--- out\n" + out + "--- err\n" + err;
    }
}
