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
        if (!Files.isRegularFile(dump)) {
            throw new IllegalArgumentException("the dump " + dump + " does not exist or is not a file");
        }
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
        boolean complete = false;
        try {
            try (Store store = (Store) Toboggan.open(config, building)) {
                // The file is read again as it is written in: a change since the check fails this pass, not the store.
                DumpFormat.read(dump, new DumpFormat.Visitor() {
                    Tree tree;

                    @Override
                    public void tree(String name) {
                        tree = store.tree(name);
                    }

                    @Override
                    public void entry(byte[] key, byte[] value) {
                        tree.insert(key, value);
                    }
                });
                store.pageCache().advanceIdsPast(checked.lastId());
                store.flush();
            }
            // Not ATOMIC_MOVE: a rename onto a directory made there meanwhile (if empty) would replace it; a plain
            // move refuses an existing target and is still one rename beside it.
            Files.move(building, target);
            new FileChannelStorage().syncDirectory(target.getParent());
            complete = true;
            return checked;
        } catch (IOException e) {
            throw new UncheckedIOException("could not import " + dump + " into " + directory + " (nothing was left "
                    + "there): " + e.getMessage(), e);
        } finally {
            if (!complete) {
                deletePartial(building);
            }
        }
    }

    /** Deletes what a failed import built, deepest first. */
    private static void deletePartial(Path building) {
        if (!Files.exists(building, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> files = Files.walk(building)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("the import failed, and removing what it built at " + building
                    + " failed too: delete it by hand", e);
        }
    }
}
