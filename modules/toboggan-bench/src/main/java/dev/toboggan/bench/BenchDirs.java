package dev.toboggan.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Scratch directories for benchmark files: under {@code -Dtoboggan.bench.dir} if set, else under
 * {@code java.io.tmpdir}. Benchmarks create one per trial or iteration and delete it afterwards, so disk
 * use stays bounded by what one iteration writes. Put the log and its baseline on the same file system:
 * they are, when both come from here.
 */
public final class BenchDirs {
    private BenchDirs() {}

    /** The parent of every scratch directory. */
    public static Path root() {
        String configured = System.getProperty("toboggan.bench.dir");
        return Paths.get(configured != null ? configured : System.getProperty("java.io.tmpdir"));
    }

    /** A new, empty directory. */
    public static Path create(String prefix) {
        try {
            Path root = root();
            Files.createDirectories(root);
            return Files.createTempDirectory(root, "toboggan-bench-" + prefix + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Deletes {@code dir} and everything in it, then fsyncs its parent: that commits the file system's
     * journal now, with the freeing (and, on a {@code discard} mount, the TRIM) of every block the files
     * held, so that work lands in this untimed teardown instead of stalling the next iteration. A no-op
     * for {@code null}.
     */
    public static void delete(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        deleteTree(dir);
        try (FileChannel parent = FileChannel.open(dir.toAbsolutePath().getParent(), StandardOpenOption.READ)) {
            parent.force(true);
        } catch (IOException e) {
            // Not every system can open a directory; the deletion itself succeeded.
        }
    }

    private static void deleteTree(Path dir) {
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                    if (e != null) {
                        throw e;
                    }
                    Files.delete(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
