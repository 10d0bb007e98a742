package dev.toboggan.cli;

import dev.toboggan.cli.store.StoreReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** What the commands that read or open a store share. */
final class Commands {
    private Commands() {}

    /**
     * Checks that {@code path} holds a store (its {@code format} file), so that opening it cannot create one.
     *
     * @throws ParameterException if it does not
     */
    static void requireStore(CommandSpec spec, Path path) {
        if (!Files.isRegularFile(path.resolve("format"))) {
            throw new ParameterException(spec.commandLine(), "--path " + path + ": no store there (no format file)");
        }
    }

    /**
     * Opens the store at {@code path} read-only.
     *
     * @throws ParameterException if there is no store there (a one-line error and the usage, exit code 2)
     */
    static StoreReader openReader(CommandSpec spec, Path path) throws IOException {
        try {
            return StoreReader.open(path);
        } catch (StoreReader.NoStoreException e) {
            throw new ParameterException(spec.commandLine(), "--path: " + e.getMessage());
        }
    }
}
