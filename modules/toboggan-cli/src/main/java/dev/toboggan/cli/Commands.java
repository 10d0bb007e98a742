package dev.toboggan.cli;

import dev.toboggan.cli.store.StoreReader;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** What the commands that read a store share. */
final class Commands {
    private Commands() {}

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
