package dev.toboggan.core.io;

import java.io.IOException;
import java.nio.file.Path;

/** Another process, or another open store in this JVM, holds the directory's lock file. */
public final class StoreLockedException extends IOException {
    private static final long serialVersionUID = 1L;

    private final Path lockFile;

    public StoreLockedException(Path lockFile) {
        super("the store is already open: " + lockFile + " is locked by another process or by another open "
                + "store in this JVM; close that one first, or open a different directory");
        this.lockFile = lockFile;
    }

    public Path lockFile() {
        return lockFile;
    }
}
