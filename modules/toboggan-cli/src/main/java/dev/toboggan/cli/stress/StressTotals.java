package dev.toboggan.cli.stress;

import java.util.concurrent.atomic.LongAdder;

/** Counters every stress thread adds to: operations by kind, and live entries (for space amplification). */
final class StressTotals {
    private final LongAdder[] ops = new LongAdder[Op.values().length];
    private final LongAdder liveEntries = new LongAdder();

    StressTotals() {
        for (int i = 0; i < ops.length; i++) {
            ops[i] = new LongAdder();
        }
    }

    void count(Op op) {
        ops[op.ordinal()].increment();
    }

    void liveEntryDelta(int delta) {
        liveEntries.add(delta);
    }

    long ops(Op op) {
        return ops[op.ordinal()].sum();
    }

    long ops() {
        long sum = 0;
        for (LongAdder a : ops) {
            sum += a.sum();
        }
        return sum;
    }

    long liveEntries() {
        return liveEntries.sum();
    }
}
