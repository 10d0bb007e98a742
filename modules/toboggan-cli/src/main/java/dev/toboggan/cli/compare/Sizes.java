package dev.toboggan.cli.compare;

/**
 * How much each workload of a compare run does.
 *
 * @param keys entries loaded
 * @param ops operations of each thread of the read and mixed workloads
 * @param durableOps durable writes of each durable workload (over all its writers) and of the bare fsync loop
 * @param threads threads of the multi-threaded read and mixed workloads
 * @param writers writers of the group-commit durable workload
 * @param settleMillis longest wait for the files to stop changing after the load (0: not waited for)
 */
public record Sizes(int keys, int ops, int durableOps, int threads, int writers, long settleMillis) {
    /**
     * @throws IllegalArgumentException naming the size that is out of range
     */
    public Sizes {
        if (keys < 1 || ops < 1 || durableOps < 1 || threads < 1 || writers < 1 || settleMillis < 0) {
            throw new IllegalArgumentException("sizes must be positive (the settle time at least 0): " + this);
        }
        if (writers > keys || threads > keys) {
            throw new IllegalArgumentException("every writer and thread overwrites keys of its own: --keys " + keys
                    + " must be at least --writers " + writers + " and --threads " + threads);
        }
        if (durableOps < writers) {
            throw new IllegalArgumentException("--durable-ops " + durableOps + " must be at least --writers " + writers
                    + ": every writer makes at least one durable write");
        }
    }

    /** The sizes of an unmeasured warm-up at {@code percent} of these (no settle wait). */
    Sizes scaled(int percent) {
        return new Sizes(Math.max(Math.max(writers, threads), (int) ((long) keys * percent / 100)),
                Math.max(1, (int) ((long) ops * percent / 100)),
                Math.max(writers, (int) ((long) durableOps * percent / 100)), threads, writers, 0);
    }
}
