package dev.toboggan.core.pagecache;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;

/**
 * Random delays before every compare-and-set of the page table, for stress tests: they widen the
 * windows between a read and its CAS so that races which are rare on two cores happen every run
 * (sled's {@code lock_free_delays}).
 *
 * <p>Off in production at no cost: {@link #ENABLED} is a {@code static final} read once from the system
 * property {@code toboggan.jitter}, so with it unset the JIT removes every call. The test suites set it;
 * a test then turns the delays on with {@link #activate} for as long as it needs them.
 */
public final class Jitter {
    /** Whether delays can happen at all in this JVM ({@code -Dtoboggan.jitter=true}). */
    public static final boolean ENABLED = Boolean.getBoolean("toboggan.jitter");

    private static volatile boolean active;

    private Jitter() {}

    /**
     * Turns the delays on or off.
     *
     * @throws IllegalStateException if turning them on in a JVM started without
     *     {@code -Dtoboggan.jitter=true}
     */
    public static void activate(boolean on) {
        if (on && !ENABLED) {
            throw new IllegalStateException("jitter is off: run with -Dtoboggan.jitter=true");
        }
        active = on;
    }

    /** Maybe waits a little: yields, spins or parks for up to 50 µs. */
    static void beforeCas() {
        if (!active) {
            return;
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int roll = random.nextInt(100);
        if (roll < 20) {
            Thread.yield();
        } else if (roll < 30) {
            for (int i = random.nextInt(200); i > 0; i--) {
                Thread.onSpinWait();
            }
        } else if (roll < 33) {
            LockSupport.parkNanos(random.nextLong(1_000, 50_000));
        }
    }
}
