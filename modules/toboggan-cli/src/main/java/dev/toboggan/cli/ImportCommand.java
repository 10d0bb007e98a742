package dev.toboggan.cli;

import dev.toboggan.Dump;
import dev.toboggan.Toboggan;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code toboggan import}: a new store made of a dump file ({@link Toboggan#importDump}). */
@Command(name = "import", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Makes a new store of a dump file that 'toboggan export' (or Db.export) wrote: every tree and "
                + "entry, and ids that start above every id the exported store handed out. The whole dump is read "
                + "and checked before anything is written; the store appears under --path only once complete and "
                + "durable, so a failure leaves nothing there.",
                "With --check, only reads and checks the dump (a dump kept as a backup: would it import?).",
                "Exit code: 0 imported (or whole), 1 the dump is damaged, incomplete or of a version this Toboggan does not "
                        + "read (the message says where), 2 bad arguments."})
public final class ImportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DUMP", description = "the dump file to read")
    Path dump;

    @Option(names = "--path", paramLabel = "DIR", description = "the new store's directory; it must not exist")
    Path path;

    @Option(names = "--check", description = "only read and check the whole dump, as an import does first; write "
            + "nothing (no --path)")
    boolean check;

    @Mixin
    StoreSettings storeSettings = new StoreSettings();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (!Files.isRegularFile(dump)) {
            throw new ParameterException(spec.commandLine(), "DUMP " + dump + ": no such file");
        }
        if (check) {
            if (path != null) {
                throw new ParameterException(spec.commandLine(), "--check writes nothing: leave out --path");
            }
            return checkOnly();
        }
        if (path == null) {
            throw new ParameterException(spec.commandLine(), "--path is needed: the new store's directory (or --check "
                    + "to only check the dump)");
        }
        if (Files.exists(path)) {
            throw new ParameterException(spec.commandLine(), "--path " + path + " exists already: an import makes a "
                    + "new store; name a directory that does not exist");
        }
        Path parent = path.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new ParameterException(spec.commandLine(), "--path " + path + ": its parent directory does not exist; "
                    + "create it first");
        }
        PrintWriter out = spec.commandLine().getOut();
        Dump read;
        try {
            read = Toboggan.importDump(dump, storeSettings.config(spec), path);
        } catch (IllegalArgumentException e) {
            return damaged(e);
        }
        out.printf("imported %s and %s from %s into %s%n", Commands.count(read.trees(), "tree", "trees"),
                Commands.count(read.entries(), "entry", "entries"), dump, path);
        out.flush();
        return TobogganCli.OK;
    }

    private int checkOnly() {
        Dump read;
        try {
            read = Toboggan.checkDump(dump);
        } catch (IllegalArgumentException e) {
            return damaged(e);
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf("%s is a whole dump: %s and %s (%,d bytes); nothing was written%n", dump,
                Commands.count(read.trees(), "tree", "trees"), Commands.count(read.entries(), "entry", "entries"),
                read.bytes());
        out.flush();
        return TobogganCli.OK;
    }

    /** Reports a dump that would not import: exit code 1. */
    private int damaged(IllegalArgumentException e) {
        spec.commandLine().getErr().println("import: " + e.getMessage());
        spec.commandLine().getErr().flush();
        return TobogganCli.PROBLEMS;
    }
}
