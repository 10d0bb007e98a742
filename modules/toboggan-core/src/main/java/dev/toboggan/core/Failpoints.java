package dev.toboggan.core;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Named failpoints at the store's IO sites, for tests (sled's {@code fail::is_active}). Each armed point
 * holds a bit pattern; every {@link #check} shifts it and fires on a 1 bit, throwing an
 * {@link InjectedFailure} exactly where the real IO error would come from.
 *
 * <p>Off in production at no cost: {@link #ENABLED} is a {@code static final} read once from the system
 * property {@code toboggan.failpoints}, so with it unset the JIT removes every check. The test suites
 * set it.
 */
public final class Failpoints {
    /** Whether failpoints can fire at all in this JVM ({@code -Dtoboggan.failpoints=true}). */
    public static final boolean ENABLED = Boolean.getBoolean("toboggan.failpoints");

    private static final Map<String, AtomicLong> ARMED = new ConcurrentHashMap<>();
    private static final Map<String, Runnable> CALLBACKS = new ConcurrentHashMap<>();

    private Failpoints() {}

    /** Throws if the named point is armed and its next bit is 1. */
    public static void check(String name) throws InjectedFailure {
        if (ENABLED) {
            fireIfArmed(name);
        }
    }

    private static void fireIfArmed(String name) throws InjectedFailure {
        Runnable callback = CALLBACKS.get(name);
        if (callback != null) {
            callback.run();
        }
        AtomicLong pattern = ARMED.get(name);
        if (pattern != null && (pattern.getAndUpdate(p -> p >>> 1) & 1) != 0) {
            throw new InjectedFailure(name);
        }
    }

    /**
     * Arms a point: the k-th check from now fires when bit k of {@code pattern} is set ({@code 1} fires the
     * next check, {@code 0b100} the third).
     *
     * @throws IllegalStateException if the JVM was not started with {@code -Dtoboggan.failpoints=true}
     */
    public static void arm(String name, long pattern) {
        if (!ENABLED) {
            throw new IllegalStateException("failpoints are off: run with -Dtoboggan.failpoints=true");
        }
        ARMED.put(name, new AtomicLong(pattern));
    }

    /**
     * Runs {@code action} on the checking thread at every check of the named point, before any armed
     * failure (fail-rs's {@code cfg_callback}): a test steps in at exactly that moment, for example to write
     * while the store is between two steps that must see the same state.
     *
     * @throws IllegalStateException if the JVM was not started with {@code -Dtoboggan.failpoints=true}
     */
    public static void callback(String name, Runnable action) {
        if (!ENABLED) {
            throw new IllegalStateException("failpoints are off: run with -Dtoboggan.failpoints=true");
        }
        CALLBACKS.put(name, action);
    }

    /** Disarms every point and removes every callback. */
    public static void reset() {
        ARMED.clear();
        CALLBACKS.clear();
    }

    /** The IO error a failpoint injects. */
    public static final class InjectedFailure extends IOException {
        private static final long serialVersionUID = 1L;

        public InjectedFailure(String name) {
            super("injected failure at failpoint " + name);
        }
    }
}
