package dev.toboggan.core.log;

import dev.toboggan.core.TobogganException;

/**
 * A flush attempt (write + force) failed. The windows it was writing are kept in memory and written
 * again by the next attempt, so nothing is lost; after {@code max-flush-retries} consecutive failures
 * the log fails for good.
 */
public final class LogWriteException extends TobogganException {
    private static final long serialVersionUID = 1L;

    private final int consecutiveFailures;

    LogWriteException(Throwable cause, int consecutiveFailures) {
        super("flushing the log failed (attempt " + consecutiveFailures + "): " + cause.getMessage(), cause);
        this.consecutiveFailures = consecutiveFailures;
    }

    public int consecutiveFailures() {
        return consecutiveFailures;
    }
}
