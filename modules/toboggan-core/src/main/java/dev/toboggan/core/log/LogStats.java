package dev.toboggan.core.log;

/**
 * Counters of a log since it was opened.
 *
 * @param aborts reservations aborted into canceled records
 * @param windowsWritten IO buffer windows written
 * @param bytesWritten bytes written to the log file
 * @param forces fsyncs of the log file (group commit makes this far lower than flush calls)
 * @param flushFailures failed flush attempts (each retried from memory)
 * @param memoryWaits rotations that found every IO buffer full and had to wait for the flusher
 * @param stableTip the current stable tip
 */
public record LogStats(long aborts, long windowsWritten, long bytesWritten, long forces,
        long flushFailures, long memoryWaits, long stableTip) {}
