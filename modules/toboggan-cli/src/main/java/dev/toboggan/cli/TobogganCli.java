package dev.toboggan.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code toboggan} command. */
@Command(name = "toboggan", mixinStandardHelpOptions = true, version = "toboggan 0.1.0-SNAPSHOT",
        description = "Toboggan, an embedded log-structured storage engine for the JVM.",
        subcommands = {StressCommand.class})
public final class TobogganCli implements Runnable {

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line with its error handling: bad arguments get a one-line error and the usage. */
    static CommandLine commandLine() {
        return new CommandLine(new TobogganCli());
    }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }
}
