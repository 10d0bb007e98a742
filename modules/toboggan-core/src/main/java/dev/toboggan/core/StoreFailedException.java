package dev.toboggan.core;

/**
 * The store hit an error it cannot retry (an IO error that persisted, a full disk, corruption) and
 * stopped: every call after the failure throws this, naming the first cause. Everything acknowledged
 * as durable before the failure is on disk; close the store and reopen it once the cause is fixed.
 */
public final class StoreFailedException extends TobogganException {
    private static final long serialVersionUID = 1L;

    public StoreFailedException(Throwable cause) {
        super("the store has failed and accepts no more calls: " + cause.getMessage()
                + " -- close it, fix the cause, and reopen it; acknowledged durable writes are on disk", cause);
    }

    /** With a message of its own (a close of a store that had failed, say). */
    public StoreFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
