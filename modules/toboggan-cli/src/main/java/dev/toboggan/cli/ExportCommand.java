package dev.toboggan.cli;

import dev.toboggan.Db;
import dev.toboggan.Dump;
import dev.toboggan.Toboggan;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code toboggan export}: a store's trees, entries and ids to a dump file ({@link Db#export}). */
@Command(name = "export", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Writes every tree of a store, with its entries in key order and where its id generator stands, "
                + "to a dump file that 'toboggan import' makes a new store of, with this or a later version of "
                + "Toboggan (docs/operations.md, \"Export and import\"). The dump appears under its name only once "
                + "complete.",
                "The store must not be open elsewhere; it is opened (recovering it if it was not closed), read and "
                        + "closed, and nothing in it changes but what an open and a close write. Exit code: 0 written, "
                        + "2 bad arguments or no store there, 3 the store cannot be opened."})
public final class ExportCommand implements Callable<Integer> {
    @Option(names = "--path", required = true, paramLabel = "DIR", description = "the store directory")
    Path path;

    @Parameters(index = "0", paramLabel = "DUMP", description = "the dump file to write; it must not exist")
    Path dump;

    @Mixin
    StoreSettings storeSettings = new StoreSettings();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Commands.requireStore(spec, path);
        try (Db db = Toboggan.open(storeSettings.config(spec), path)) {
            Dump written;
            try {
                written = db.export(dump);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
            PrintWriter out = spec.commandLine().getOut();
            out.printf("exported %s and %s (%,d bytes) to %s%n", Commands.count(written.trees(), "tree", "trees"),
                    Commands.count(written.entries(), "entry", "entries"), written.bytes(), written.file());
            out.flush();
        }
        return TobogganCli.OK;
    }
}
