package dev.toboggan;

/**
 * Ends a {@link Tree#watchPrefix watch} whose subscriber fell too far behind: its buffer of undelivered
 * events was full when the next one came. Writers never wait for a watch, so the watch ends instead of
 * dropping events silently. To go on, subscribe again (with a larger buffer, or a faster subscriber), then
 * read the prefix's entries: every change made after the new subscription is in that read, in an event, or
 * in both.
 */
public final class WatchOverflowException extends IllegalStateException {
    WatchOverflowException(String message) {
        super(message);
    }
}
