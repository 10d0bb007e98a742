package dev.toboggan;

import com.typesafe.config.Config;
import dev.toboggan.core.io.FileChannelStorage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.function.ToLongFunction;
import java.util.stream.Stream;

/**
 * A new store made whole or not at all ({@link Toboggan#importDump}, {@link Toboggan#build}): built in a hidden
 * directory beside the target ({@code .NAME.importing}), made durable, closed, and renamed to the target only
 * when complete. So the target holds a whole store or nothing: after a failure, or a crash, there is no store
 * under its name (a crash leaves the hidden directory, which the next attempt refuses to touch).
 */
final class NewStore {
    private NewStore() {}

    /**
     * Refuses a target that exists or has no parent directory.
     *
     * @param making what makes the store, for messages ("an import")
     * @param nothing what the messages say was not done ("nothing was imported")
     */
    static Path checkTarget(Path directory, String making, String nothing) {
        Path target = directory.toAbsolutePath().normalize();
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException("the store directory " + directory + " exists already: " + making
                    + " makes a new store; name a directory that does not exist (" + nothing + ")");
        }
        if (target.getParent() == null || !Files.isDirectory(target.getParent())) {
            throw new IllegalArgumentException("the new store's parent directory " + target.getParent()
                    + " does not exist: create it first (" + nothing + ")");
        }
        Path building = building(target);
        if (Files.exists(building, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException(building + " exists: an earlier attempt to make " + directory + " did "
                    + "not finish; delete it, then try again (" + nothing + ")");
        }
        return target;
    }

    /**
     * Makes the store: opens it in the hidden directory with {@code config}'s settings, lets {@code fill} write
     * it (the store is {@code fill}'s alone), flushes, closes and renames it to {@code directory}.
     *
     * @param making what makes the store, for messages ("an import")
     * @param what what is made, for the message of an IO failure ("import d.dump into")
     * @param nothing what the messages of bad arguments say was not done ("nothing was imported")
     * @return what {@code fill} returned
     */
    static long make(Config config, Path directory, String making, String what, String nothing,
            ToLongFunction<Store> fill) {
        Path target = checkTarget(directory, making, nothing);
        Path made = building(target);
        try {
            long result;
            try (Store store = (Store) Toboggan.open(config, made)) {
                result = fill.applyAsLong(store);
                store.flush();
            }
            // Not ATOMIC_MOVE: a rename onto a directory made there meanwhile (if empty) would replace it; a plain
            // move refuses an existing target and is still one rename beside it.
            Files.move(made, target);
            made = target;
            new FileChannelStorage().syncDirectory(target.getParent());
            return result;
        } catch (IOException e) {
            UncheckedIOException failure = new UncheckedIOException("could not " + what + " " + directory
                    + " (nothing was left there): " + e.getMessage(), e);
            remove(made, failure);
            throw failure;
        } catch (RuntimeException | Error e) {
            remove(made, e);
            throw e;
        }
    }

    private static Path building(Path target) {
        return target.resolveSibling("." + target.getFileName() + ".importing");
    }

    /**
     * Deletes what a failed attempt built (its store, at its hidden name or, if only the last sync failed, at
     * the target): the {@code format} file first, so that what a crash leaves of it never opens as a store,
     * then the rest, deepest first. What cannot be deleted is added to {@code failure}.
     */
    private static void remove(Path store, Throwable failure) {
        if (!Files.exists(store, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try {
            Files.deleteIfExists(store.resolve("format"));
            try (Stream<Path> files = Files.walk(store)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            failure.addSuppressed(new UncheckedIOException("removing what was built at " + store
                    + " failed too: delete it by hand", e));
        }
    }
}
