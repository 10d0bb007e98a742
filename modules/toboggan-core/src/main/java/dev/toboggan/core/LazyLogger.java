package dev.toboggan.core;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A class's SLF4J logger, created when the class first logs instead of when it is initialized.
 *
 * <p>Why: SLF4J binds its backend and the backend reads its configuration on the first
 * {@code LoggerFactory.getLogger}, which took 0.25–0.35 s in a fresh JVM with logback (see
 * docs/benchmarks.md, issue 6). A {@code static final Logger} in a class on the open path made every store
 * open in a fresh JVM pay that, though a clean open logs nothing. With this, only a store that has
 * something to say (a torn tail cut, a snapshot passed over) initializes logging.
 *
 * <p>Thread safety: {@link #get} may race; both racers get the same logger from SLF4J, so the field is
 * only a cache.
 */
public final class LazyLogger {
    private final Class<?> owner;
    private volatile Logger logger;

    private LazyLogger(Class<?> owner) {
        this.owner = owner;
    }

    public static LazyLogger of(Class<?> owner) {
        return new LazyLogger(owner);
    }

    /** The logger, initializing logging if this is the JVM's first use of it. */
    public Logger get() {
        Logger l = logger;
        if (l == null) {
            l = LoggerFactory.getLogger(owner);
            logger = l;
        }
        return l;
    }
}
