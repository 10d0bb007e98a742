package dev.toboggan.core.log;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * What {@link Log#open(LogConfig, dev.toboggan.core.io.StorageIo, dev.toboggan.core.Background, LogReplay)}
 * replays into: asked where to start once the store is locked, then fed every message from there on, in
 * the order recovery delivers them.
 */
public interface LogReplay extends Consumer<LogEntry> {

    /**
     * Called once, on the opening thread, with the store's lock held and before the log is read.
     *
     * @return the LSN replay starts at: 0, or the LSN of a snapshot the caller has loaded
     */
    long start() throws IOException;

    /**
     * A message below the promised tip whose blob file is missing, which the scan skipped: the store
     * deletes a blob once a durable later version replaced its page, so the replay must end with such a
     * version of {@code entry}'s page, or the blob was lost (corruption naming {@code blob}).
     */
    default void missingBlob(LogEntry entry, Path blob) {}
}
