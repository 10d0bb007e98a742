package dev.toboggan.core;

import java.nio.file.Path;

/**
 * Bytes on disk that a durable record says must be valid are not: a checksum, a header or a length
 * does not match. Names the file and the byte offset. Nothing was changed on disk by the code that
 * threw it; restore the store from a backup, or open a copy with the damaged file removed.
 */
public final class CorruptionException extends TobogganException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final long offset;

    public CorruptionException(Path file, long offset, String what) {
        super("corrupt store: " + what + " in " + file + " at byte offset " + offset
                + "; nothing was changed on disk. Restore from a backup (Db.backup, or a copy of the closed store's directory)");
        this.file = file;
        this.offset = offset;
    }

    public Path file() {
        return file;
    }

    public long offset() {
        return offset;
    }
}
