package dev.toboggan.cli.stress;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Everything that went wrong in a stress run: wrong values read back, and exceptions. Keeps the first
 * {@link #KEPT} descriptions; the threads stop once {@link #STOP_AFTER} are reported.
 */
final class Failures {
    static final int KEPT = 20;
    private static final int STOP_AFTER = 1000;

    private final AtomicLong wrong = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final List<String> first = new ArrayList<>();

    void wrong(String what) {
        wrong.incrementAndGet();
        keep("WRONG: " + what);
    }

    void error(String where, Throwable e) {
        errors.incrementAndGet();
        keep("ERROR in " + where + ": " + e);
    }

    private synchronized void keep(String line) {
        if (first.size() < KEPT) {
            first.add(line);
        }
    }

    /** Whether the threads should go on (they stop once there is no point). */
    boolean proceed() {
        return wrong.get() + errors.get() < STOP_AFTER;
    }

    long wrongCount() {
        return wrong.get();
    }

    long errorCount() {
        return errors.get();
    }

    boolean any() {
        return wrong.get() + errors.get() > 0;
    }

    synchronized List<String> first() {
        return new ArrayList<>(first);
    }
}
