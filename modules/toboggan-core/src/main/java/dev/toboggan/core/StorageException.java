package dev.toboggan.core;

import java.io.IOException;
import java.nio.file.Path;

/** An IO operation on a store file failed; names the file and the operation. */
public final class StorageException extends TobogganException {
    private static final long serialVersionUID = 1L;

    public StorageException(String operation, Path file, IOException cause) {
        super(operation + " failed on " + file + ": " + cause.getMessage(), cause);
    }
}
