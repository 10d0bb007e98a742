package dev.toboggan;

import com.typesafe.config.Config;
import dev.toboggan.core.io.FileChannelStorage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * {@link Toboggan#importDump}: a new store made of a dump. The whole dump is read and checked before
 * anything is written; the store is built in a hidden directory beside the target ({@code .NAME.importing}),
 * made durable, closed, and renamed to the target only when complete. So the target holds a whole import or
 * nothing: after a failure, or a crash, there is no store under its name.
 */
final class DumpImport {
    private DumpImport() {}

    static Dump run(Path dump, Config config, Path directory) {
        if (dump == null || config == null || directory == null) {
            throw new IllegalArgumentException("the dump, the settings and the new store's directory must not be null");
        }
        Path target = directory.toAbsolutePath().normalize();
        DumpFormat.requireFile(dump);
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException("the store directory " + directory + " exists already: an import makes "
                    + "a new store; name a directory that does not exist (nothing was imported)");
        }
        if (target.getParent() == null || !Files.isDirectory(target.getParent())) {
            throw new IllegalArgumentException("the new store's parent directory " + target.getParent()
                    + " does not exist: create it first (nothing was imported)");
        }
        Path building = target.resolveSibling("." + target.getFileName() + ".importing");
        if (Files.exists(building, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException(building + " exists: an earlier import into " + directory + " did not "
                    + "finish; delete it, then import again (nothing was imported)");
        }
        Dump checked = DumpFormat.read(dump, DumpFormat.Visitor.CHECK_ONLY);
        Path made = building;
        try {
            try (Store store = (Store) Toboggan.open(config, building)) {
                // The file is read again as it is written in: a change since the check fails this pass, not the store.
                // Each tree is built bottom-up (BulkLoad: full leaves, each node written once): the store is this
                // import's alone until it is renamed into place.
                BulkLoad[] loading = new BulkLoad[1];
                DumpFormat.read(dump, new DumpFormat.Visitor() {
                    @Override
                    public void tree(String name) {
                        if (loading[0] != null) {
                            loading[0].finish();
                        }
                        loading[0] = ((BLinkTree) store.tree(name)).bulkLoad();
                    }

                    @Override
                    public void entry(byte[] key, byte[] value) {
                        loading[0].add(key, value);
                    }
                });
                if (loading[0] != null) {
                    loading[0].finish();
                }
                store.pageCache().advanceIdsPast(checked.lastId());
                store.flush();
            }
            // Not ATOMIC_MOVE: a rename onto a directory made there meanwhile (if empty) would replace it; a plain
            // move refuses an existing target and is still one rename beside it.
            Files.move(building, target);
            made = target;
            new FileChannelStorage().syncDirectory(target.getParent());
            return checked;
        } catch (IOException e) {
            UncheckedIOException failure = new UncheckedIOException("could not import " + dump + " into " + directory
                    + " (nothing was left there): " + e.getMessage(), e);
            remove(made, failure);
            throw failure;
        } catch (RuntimeException | Error e) {
            remove(made, e);
            throw e;
        }
    }

    /**
     * Deletes what a failed import built (its store, at its hidden name or, if only the last sync failed, at
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
            failure.addSuppressed(new UncheckedIOException("removing what the import built at " + store
                    + " failed too: delete it by hand", e));
        }
    }
}
