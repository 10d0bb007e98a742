package dev.toboggan.core.pagecache;

import dev.toboggan.core.TobogganException;
import java.time.Duration;

/**
 * A read or write waited {@code toboggan.send-timeout} for the cache to drop below its capacity and it
 * did not: the Evictor is down or cannot keep up (a stalled disk keeps pages from becoming durable, and
 * only durable pages can be paged out). The operation was not started: nothing was changed and nothing
 * was lost; retry later, or raise {@code toboggan.cache-capacity}.
 */
public final class CacheFullException extends TobogganException {
    private static final long serialVersionUID = 1L;

    CacheFullException(long resident, long capacity, Duration waited) {
        super("the page cache holds " + resident + " bytes, over its toboggan.cache-capacity of " + capacity
                + " plus slack, and did not shrink within " + waited + ": the Evictor is down or behind (is the "
                + "disk stalled?). The operation was not started; retry later");
    }
}
