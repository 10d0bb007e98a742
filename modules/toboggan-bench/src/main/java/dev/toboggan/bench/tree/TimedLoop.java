package dev.toboggan.bench.tree;

import java.util.function.IntConsumer;

/**
 * A thread that repeats one operation (a get, an insert) beside what a driver measures, and times each: how many
 * ran and the longest, counted only between {@link #measure} and {@link #stop}, so its warm-up (the JIT, the first
 * cache misses) stays out of the figures. The counters belong to the loop's thread; {@link #stop} joins it, which
 * makes them visible to the caller.
 */
final class TimedLoop {
    private final Thread thread;
    private volatile boolean measuring;
    private volatile boolean stopped;
    /** What the operation threw, ending the loop; read after the join. */
    private Throwable failure;
    private long count;
    private long longestNanos;

    /** Starts a thread named {@code name} that calls {@code operation} with 0, 1, 2, … until stopped. */
    TimedLoop(String name, IntConsumer operation) {
        thread = new Thread(() -> {
            try {
                for (int i = 0; !stopped; i++) {
                    long start = System.nanoTime();
                    operation.accept(i);
                    long took = System.nanoTime() - start;
                    if (measuring) {
                        count++;
                        longestNanos = Math.max(longestNanos, took);
                    }
                }
            } catch (RuntimeException | Error e) {
                failure = e;
            }
        }, name);
        thread.start();
    }

    /** Operations from now on are counted. */
    void measure() {
        measuring = true;
    }

    /** Stops the loop and waits for it; rethrows what the operation threw, if it failed. */
    void stop() throws InterruptedException {
        stopped = true;
        thread.join();
        if (failure != null) {
            throw new IllegalStateException(thread.getName() + " failed", failure);
        }
    }

    /** The operations counted (after {@link #stop}). */
    long count() {
        return count;
    }

    /** The longest operation counted, in milliseconds (after {@link #stop}). */
    double longestMillis() {
        return longestNanos / 1e6;
    }
}
