package dev.toboggan.core;

import java.nio.file.Path;

/**
 * What an online backup made: a store directory holding the store as it was at one log position.
 *
 * @param directory the backup: a store that opens like the original after a crash at {@code lsn}
 * @param lsn the log position the backup holds everything below: every change that returned before the
 *     backup was asked for, and no part of an atomic batch that was not whole there
 * @param bytes the bytes copied (log segments, blobs and the snapshot; the small files not counted)
 */
public record Backup(Path directory, long lsn, long bytes) {}
