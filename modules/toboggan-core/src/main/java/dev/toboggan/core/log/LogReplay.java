package dev.toboggan.core.log;

import java.io.IOException;
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
}
