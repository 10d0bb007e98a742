package dev.toboggan.cli.compare;

/**
 * One figure {@code toboggan compare} measures on every store (the list of issue 8's benchmarks), with its
 * CSV column. Throughputs are operations per second of wall-clock time over all threads of the workload.
 */
enum Figure {
    /** Inserts of every key in random order on one thread, then the store's durable flush, timed together. */
    LOAD("load_ops_per_s", Kind.THROUGHPUT),
    /** Gets of random loaded keys on one thread. */
    READ("read_ops_per_s", Kind.THROUGHPUT),
    /** Gets of random loaded keys on {@code --threads} threads. */
    READ_THREADS("read_threads_ops_per_s", Kind.THROUGHPUT),
    /** 80 % gets, 20 % overwrites of random keys on one thread, then a flush. */
    MIXED("mixed_ops_per_s", Kind.THROUGHPUT),
    /** 95 % gets, 5 % overwrites of random keys on {@code --threads} threads, then a flush. */
    MIXED_THREADS("mixed_95_5_threads_ops_per_s", Kind.THROUGHPUT),
    /** Appends of one key's and value's bytes to a plain file, each followed by {@code force(false)}. */
    BARE_FSYNC("bare_fsync_ops_per_s", Kind.THROUGHPUT, false),
    /** One writer: an overwrite made durable before the next one ({@link KvStore#putDurably}). */
    DURABLE("durable_1_writer_ops_per_s", Kind.THROUGHPUT),
    /** {@code --writers} writers doing the same at once: what the store's group commit makes of them. */
    DURABLE_WRITERS("durable_writers_ops_per_s", Kind.THROUGHPUT),
    /**
     * Every key, sorted before the timing, into an empty store of its own through its bulk path for sorted data
     * ({@link KvStore#bulkLoad}), then the store's durable flush, timed together.
     */
    BULK_LOAD("bulk_load_ops_per_s", Kind.THROUGHPUT),
    /** Bytes of the store's files right after the load's flush / bytes of the keys and values. */
    SPACE_LOADED("space_amp_loaded", Kind.AMPLIFICATION),
    /** The same once the files stopped changing (background compaction or cleaning done), store open. */
    SPACE_SETTLED("space_amp_settled", Kind.AMPLIFICATION),
    /** Milliseconds after the load's flush until the files last changed; infinite if they still changed at the limit. */
    SETTLE_MS("settle_ms", Kind.TIME, false),
    /** The same once the loaded store is closed. */
    SPACE_CLOSED("space_amp_closed", Kind.AMPLIFICATION),
    /** Opening the closed, loaded store until its first get returned the right value. */
    REOPEN_MS("reopen_ms", Kind.TIME),
    /** Bytes of the store's files after every workload, the store closed. */
    DISK_BYTES("disk_bytes", Kind.BYTES),
    /** The same over the bytes of the keys and values (its ratio is disk_bytes'). */
    SPACE_END("space_amp_end", Kind.AMPLIFICATION, false);

    /** How a figure reads. */
    enum Kind {
        THROUGHPUT, TIME, AMPLIFICATION, BYTES
    }

    private final String column;
    private final Kind kind;
    private final boolean hasRatio;

    Figure(String column, Kind kind) {
        this(column, kind, true);
    }

    Figure(String column, Kind kind, boolean hasRatio) {
        this.column = column;
        this.kind = kind;
        this.hasRatio = hasRatio;
    }

    String column() {
        return column;
    }

    Kind kind() {
        return kind;
    }

    /** Whether this figure is also given as a ratio to the baseline store's (not for what is not the store's own). */
    boolean hasRatio() {
        return hasRatio;
    }
}
