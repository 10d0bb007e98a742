package dev.toboggan.cli;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.IncompatibleStoreException;
import dev.toboggan.core.StorageException;
import dev.toboggan.core.io.StoreLockedException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code toboggan} command.
 *
 * <p>Exit codes, the same for every subcommand: {@value #OK} success; {@value #PROBLEMS} the command ran
 * and found something wrong (a wrong value read back, a damaged file); {@value #USAGE} bad arguments
 * (a one-line error, then the usage), or no store where one was named; {@value #STORE_UNUSABLE} the
 * store cannot be opened (locked by another process, created with other settings, damaged).
 */
@Command(name = "toboggan", mixinStandardHelpOptions = true, version = "toboggan 0.1.0-SNAPSHOT",
        description = "Toboggan, an embedded log-structured storage engine for the JVM.",
        subcommands = {StressCommand.class, InspectCommand.class, VerifyCommand.class, CompareCommand.class,
                ExportCommand.class, ImportCommand.class})
public final class TobogganCli implements Runnable {
    static final int OK = 0;
    static final int PROBLEMS = 1;
    static final int USAGE = 2;
    static final int STORE_UNUSABLE = 3;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line with its error handling: bad arguments get a one-line error and the usage. */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new TobogganCli());
        cli.setCaseInsensitiveEnumValuesAllowed(true);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            String oneLine = storeProblem(e);
            if (oneLine == null) {
                throw e;
            }
            commandLine.getErr().println(commandLine.getCommandName() + ": " + oneLine);
            commandLine.getErr().flush();
            return STORE_UNUSABLE;
        });
        return cli;
    }

    /** A one-line explanation of why a store cannot be used, or {@code null} for other exceptions. */
    static String storeProblem(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof StoreLockedException locked) {
                return locked.getMessage();
            }
        }
        if (e instanceof CorruptionException || e instanceof IncompatibleStoreException
                || e instanceof StorageException) {
            return e.getMessage();
        }
        return null;
    }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }
}
