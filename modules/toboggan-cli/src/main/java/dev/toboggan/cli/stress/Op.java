package dev.toboggan.cli.stress;

import java.util.Locale;

/** The operations {@code toboggan stress} mixes, as named in {@code --mix}. */
public enum Op {
    GET,
    INSERT,
    REMOVE,
    /** compareAndSwap: mostly with the right expected value (must succeed), sometimes a wrong one (must fail). */
    CAS,
    /** A range scan of {@code --scan-len} keys from a random key. */
    SCAN,
    /** An atomic batch of a few inserts and removes. */
    BATCH,
    /** A transaction that reads a few keys (each must hold its model's value), then sets or removes each. */
    TX,
    /**
     * Every other one takes a snapshot and notes the model's versions of some keys and of a range; the next one
     * checks that the snapshot still reads exactly those, whatever the thread changed in between, and closes it.
     */
    SNAPSHOT;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
