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

    /** {@code n} and the noun for one or for many: "1 tree", "2 trees" (thousands grouped). */
    static String count(long n, String one, String many) {
        return String.format("%,d %s", n, n == 1 ? one : many);
    }

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
