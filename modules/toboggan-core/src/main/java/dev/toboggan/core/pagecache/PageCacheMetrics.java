package dev.toboggan.core.pagecache;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counts and latency histograms of the page cache's operations, since it was opened.
 *
 * <p>Every operation is counted and timed, except {@link Op#GET}, whose fast path (a resident page) is
 * one load, cheaper than reading the clock or incrementing a shared counter: one get in
 * {@value #GET_SAMPLE_EVERY}, chosen at random, is timed and counts {@value #GET_SAMPLE_EVERY}, so the get
 * count is an unbiased estimate and {@link OpStats#timed()} says how many were timed. A page-in that
 * a get causes is measured on its own ({@link Op#PAGE_IN}, {@link Op#PULL}). Every {@link Op#LINK} is
 * counted, and one in {@value #LINK_SAMPLE_EVERY}, chosen at random, is timed: a link is the write of every
 * insert, and its two clock reads and four adds cost a few per cent of a random load's writer CPU.
 *
 * <p>Histograms have power-of-two buckets: bucket {@code i} counts latencies in
 * {@code [2^(i-1), 2^i)} nanoseconds (bucket 0: zero). Recording is a few uncontended adds
 * ({@link LongAdder}s, so threads do not contend on a shared word).
 */
public final class PageCacheMetrics {
    /** One get in this many is timed. */
    static final int GET_SAMPLE_EVERY = 256;
    /** One link in this many is timed (a power of two). */
    static final int LINK_SAMPLE_EVERY = 16;
    static final int BUCKETS = 64;

    /** The measured operations. */
    public enum Op {
        /** {@link PageCache#get}, including page-ins it causes. */
        GET,
        /** {@link PageCache#link}, including links that consolidated into a replace. */
        LINK,
        /** {@link PageCache#replace}. */
        REPLACE,
        /** {@link PageCache#allocate}. */
        ALLOCATE,
        /** {@link PageCache#free}. */
        FREE,
        /** Reading a paged-out page back: all its fragments, merged and installed. */
        PAGE_IN,
        /** {@link PageCache#pageOut} calls that paged a page out. */
        PAGE_OUT,
        /** One fragment read from the log (from disk, or the OS cache). */
        PULL,
        /** {@link PageCache#rewrite}: a page moved to the log's tip without a change of content. */
        REWRITE,
        /** Opening the store: log recovery, replay into the page table, meta and counter pages. */
        RECOVERY
    }

    private final Recorder[] recorders = new Recorder[Op.values().length];
    final LongAdder consolidations = new LongAdder();
    final LongAdder relocationRetries = new LongAdder();
    final LongAdder conflicts = new LongAdder();
    /** Gets that found their page paged out and read it back. */
    final LongAdder misses = new LongAdder();

    PageCacheMetrics() {
        for (Op op : Op.values()) {
            recorders[op.ordinal()] = new Recorder();
        }
    }

    /** Counts one operation that took {@code nanos}. */
    void record(Op op, long nanos) {
        Recorder r = recorders[op.ordinal()];
        r.count.increment();
        r.time(nanos);
    }

    /** Counts one operation without timing it. */
    void count(Op op) {
        recorders[op.ordinal()].count.increment();
    }

    /** Counts a sampled operation that stands for {@code weight} calls. */
    void countSampled(Op op, int weight) {
        recorders[op.ordinal()].count.add(weight);
    }

    /** Adds the latency of an operation counted separately. */
    void time(Op op, long nanos) {
        recorders[op.ordinal()].time(nanos);
    }

    /** A copy of every counter now (each read on its own; concurrent operations may be half in). */
    public Snapshot snapshot() {
        Map<Op, OpStats> ops = new EnumMap<>(Op.class);
        for (Op op : Op.values()) {
            ops.put(op, recorders[op.ordinal()].stats(op));
        }
        return new Snapshot(ops, consolidations.sum(), relocationRetries.sum(), conflicts.sum());
    }

    private static final class Recorder {
        final LongAdder count = new LongAdder();
        final LongAdder timed = new LongAdder();
        final LongAdder nanos = new LongAdder();
        final LongAdder[] buckets = new LongAdder[BUCKETS];

        Recorder() {
            for (int i = 0; i < BUCKETS; i++) {
                buckets[i] = new LongAdder();
            }
        }

        void time(long nanos) {
            long n = Math.max(0, nanos);
            timed.increment();
            this.nanos.add(n);
            buckets[Math.min(BUCKETS - 1, 64 - Long.numberOfLeadingZeros(n))].increment();
        }

        OpStats stats(Op op) {
            long[] counts = new long[BUCKETS];
            for (int i = 0; i < BUCKETS; i++) {
                counts[i] = buckets[i].sum();
            }
            return new OpStats(op, count.sum(), timed.sum(), nanos.sum(), counts);
        }
    }

    /**
     * All counters at one moment.
     *
     * @param ops per operation
     * @param consolidations links that wrote the whole merged page because the page had reached the
     *     consolidation threshold
     * @param relocationRetries compare-and-sets that lost to a relocation, page-in or page-out of the same
     *     content and were retried without the caller noticing
     * @param conflicts compare-and-sets that lost to a real change and were handed back to the caller
     */
    public record Snapshot(Map<Op, OpStats> ops, long consolidations, long relocationRetries, long conflicts) {

        public OpStats get(Op op) {
            return ops.get(op);
        }
    }

    /**
     * The counters of one operation.
     *
     * @param count operations done
     * @param timed operations whose latency is in the histogram (all of them, except for gets and links)
     * @param totalNanos the sum of the timed latencies
     * @param buckets the histogram; see the class notes
     */
    public record OpStats(Op op, long count, long timed, long totalNanos, long[] buckets) {

        public double meanNanos() {
            return timed == 0 ? 0 : (double) totalNanos / timed;
        }

        /**
         * An upper bound of the {@code q}-quantile of the timed latencies (the top of the bucket it falls
         * in), in nanoseconds; 0 if nothing was timed.
         */
        public long quantileNanos(double q) {
            if (q < 0 || q > 1) {
                throw new IllegalArgumentException("a quantile is from 0 to 1, was " + q);
            }
            long rank = (long) Math.ceil(q * timed);
            long seen = 0;
            for (int i = 0; i < buckets.length; i++) {
                seen += buckets[i];
                if (seen >= rank && seen > 0) {
                    return i == 0 ? 0 : i >= 63 ? Long.MAX_VALUE : (1L << i) - 1;
                }
            }
            return 0;
        }

        @Override
        public String toString() {
            return String.format("%s: %d ops, mean %.0f ns, p50 <= %d ns, p99 <= %d ns (%d timed)", op, count,
                    meanNanos(), quantileNanos(0.5), quantileNanos(0.99), timed);
        }
    }
}
