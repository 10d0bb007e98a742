package dev.toboggan.engine;

import dev.toboggan.core.TobogganException;
import java.time.Duration;

/**
 * A thread waited {@code toboggan.send-timeout} for room in a full engine mailbox: the store's background
 * work is far behind (a very slow or stalled disk). Nothing was sent and nothing was lost; retry later,
 * or raise {@code toboggan.send-timeout} / {@code toboggan.mailbox-capacity}.
 */
public final class BackpressureTimeoutException extends TobogganException {
    private static final long serialVersionUID = 1L;

    BackpressureTimeoutException(String target, int capacity, Duration waited, Throwable cause) {
        super("the " + target + " has " + capacity + " requests waiting and none finished within " + waited
                + " (toboggan.send-timeout): the store is far behind, the disk may be stalled. Nothing was sent; "
                + "retry later", cause);
    }
}
