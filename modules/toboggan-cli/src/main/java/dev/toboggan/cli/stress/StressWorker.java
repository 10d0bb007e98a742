package dev.toboggan.cli.stress;

import dev.toboggan.Batch;
import dev.toboggan.Db;
import dev.toboggan.ReadableTree;
import dev.toboggan.Snapshot;
import dev.toboggan.SwapResult;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.LongUnaryOperator;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * One stress thread and its exact model of the keys it owns.
 *
 * <p>Thread {@code t} of {@code n} owns the keys whose index is {@code t (mod n)} and is the only one that
 * changes them, so it knows every one of their values exactly: what {@code get}, {@code insert} (the
 * previous value), {@code remove}, {@code compareAndSwap} and a scan return for them is checked against
 * {@link #versions}. Keys of other threads show up in scans; those are checked for what can be known
 * without their model: ascending order, inside the bounds, and a value that belongs to the key
 * ({@link Records}). Every mismatch is reported to {@link Failures}. A snapshot it takes is checked the same way
 * against the versions the model had at its moment, after the thread's later changes.
 */
final class StressWorker implements Runnable {
    /** A compareAndSwap with a wrong expected value once in this many: it must fail and say what is there. */
    private static final int WRONG_CAS_EVERY = 8;
    private static final int BATCH_SIZE = 4;
    /** Keys a snapshot's point reads check, besides its range. */
    private static final int SNAPSHOT_KEYS = 16;

    private final Db tree;
    private final Records records;
    private final StressSettings settings;
    private final int thread;
    private final Recorder interval;
    private final StressTotals totals;
    private final Failures failures;
    private final SplittableRandom random;
    /** Version of each owned key (index = owner slot), 0 if it has no value. Only this thread touches it. */
    private final long[] versions;
    private final Map<Op, Histogram> latencies = new EnumMap<>(Op.class);
    private long nextVersion = 1;
    /** The snapshot taken by the last {@link Op#SNAPSHOT}, checked and closed by the next; {@code null}: none. */
    private Snapshot snapshot;
    /** The owned slots whose versions at the snapshot's moment are in {@link #snapshotVersions}. */
    private final int[] snapshotSlots = new int[SNAPSHOT_KEYS];
    private final long[] snapshotVersions = new long[SNAPSHOT_KEYS];
    /** The owned slot a snapshot's range starts at, and the versions of the owned keys in the range then. */
    private int snapshotRangeSlot;
    private long[] snapshotRangeVersions;
    private long cursor;
    private volatile boolean stop;

    StressWorker(Db tree, StressSettings settings, int thread, Recorder interval, StressTotals totals,
            Failures failures) {
        this.tree = tree;
        this.records = settings.records();
        this.settings = settings;
        this.thread = thread;
        this.interval = interval;
        this.totals = totals;
        this.failures = failures;
        this.random = new SplittableRandom(settings.seed() * 1_000_003L + thread);
        this.versions = new long[ownedKeys(settings.keySpace(), settings.threads(), thread)];
        for (Op op : Op.values()) {
            latencies.put(op, new Histogram(3));
        }
    }

    /** How many of {@code keySpace} keys thread {@code thread} of {@code threads} owns. */
    static int ownedKeys(long keySpace, int threads, int thread) {
        return (int) ((keySpace - thread + threads - 1) / threads);
    }

    /** Inserts the first {@code share} of this thread's keys, before the timed run, so reads find data. */
    void preload(double share) {
        int n = (int) (versions.length * share);
        for (int slot = 0; slot < n && !stop; slot++) {
            insert(slot);
        }
    }

    void stop() {
        stop = true;
    }

    @Override
    public void run() {
        try {
            while (!stop && failures.proceed()) {
                Op op = settings.mix().next(random);
                long started = System.nanoTime();
                switch (op) {
                    case GET -> get(pickSlot());
                    case INSERT -> insert(pickSlot());
                    case REMOVE -> remove(pickSlot());
                    case CAS -> compareAndSwap(pickSlot());
                    case SCAN -> scan(pickSlot());
                    case BATCH -> batch();
                    case TX -> transaction();
                    case SNAPSHOT -> snapshot();
                }
                long nanos = System.nanoTime() - started;
                interval.recordValue(nanos);
                latencies.get(op).recordValue(nanos);
                totals.count(op);
                if ((op == Op.INSERT || op == Op.REMOVE || op == Op.CAS || op == Op.BATCH || op == Op.TX)
                        && settings.durablePercent() > 0 && random.nextInt(100) < settings.durablePercent()) {
                    tree.flush();
                }
            }
        } catch (RuntimeException | Error e) {
            failures.error("thread " + thread, e);
        } finally {
            if (snapshot != null) {
                snapshot.close();
            }
        }
    }

    // ---------------------------------------------------------------- operations

    private int pickSlot() {
        if (settings.sequential()) {
            return (int) (cursor++ % versions.length);
        }
        return random.nextInt(versions.length);
    }

    private long indexOf(int slot) {
        return (long) slot * settings.threads() + thread;
    }

    private void get(int slot) {
        long index = indexOf(slot);
        expect("get", index, tree.get(records.key(index)), versions[slot]);
    }

    private void insert(int slot) {
        long index = indexOf(slot);
        long version = nextVersion++;
        byte[] previous = tree.insert(records.key(index), records.value(index, version));
        expect("insert (previous value)", index, previous, versions[slot]);
        if (versions[slot] == 0) {
            totals.liveEntryDelta(1);
        }
        versions[slot] = version;
    }

    private void remove(int slot) {
        long index = indexOf(slot);
        byte[] previous = tree.remove(records.key(index));
        expect("remove (removed value)", index, previous, versions[slot]);
        if (versions[slot] != 0) {
            totals.liveEntryDelta(-1);
        }
        versions[slot] = 0;
    }

    private void compareAndSwap(int slot) {
        long index = indexOf(slot);
        byte[] key = records.key(index);
        long current = versions[slot];
        if (random.nextInt(WRONG_CAS_EVERY) == 0) {
            // A version this key never had (versions only grow), or "absent" when it is present.
            byte[] wrong = current == 0 ? records.value(index, nextVersion + 1_000_000) : null;
            SwapResult r = tree.compareAndSwap(key, wrong, records.value(index, nextVersion));
            if (r.succeeded()) {
                failures.wrong("compareAndSwap of key " + index + " with a wrong expected value succeeded");
                versions[slot] = nextVersion++;
                return;
            }
            expect("compareAndSwap (failed, current value)", index, r.current(), current);
            return;
        }
        long version = nextVersion++;
        byte[] expected = current == 0 ? null : records.value(index, current);
        SwapResult r = tree.compareAndSwap(key, expected, records.value(index, version));
        if (!r.succeeded()) {
            failures.wrong("compareAndSwap of key " + index + " expecting version " + current + " failed; found "
                    + describe(index, r.current()));
            return;
        }
        expect("compareAndSwap (new value)", index, r.current(), version);
        if (current == 0) {
            totals.liveEntryDelta(1);
        }
        versions[slot] = version;
    }

    private void batch() {
        int[] slots = new int[BATCH_SIZE];
        long[] next = new long[BATCH_SIZE];
        Batch batch = drawChanges(slots, next);
        tree.applyBatch(batch);
        recordChanges(slots, next);
    }

    /**
     * A transaction over the keys of a batch's draw: it reads each (nobody else changes them, so each must hold
     * the model's value, and no run of the body conflicts), then makes the batch's changes through the
     * transaction. The changes are drawn before it, since its body may run more than once.
     */
    private void transaction() {
        int[] slots = new int[BATCH_SIZE];
        long[] next = new long[BATCH_SIZE];
        Batch changes = drawChanges(slots, next);
        byte[][] read = tree.transaction(tx -> {
            byte[][] values = new byte[BATCH_SIZE][];
            for (int i = 0; i < BATCH_SIZE; i++) {
                values[i] = tx.get(records.key(indexOf(slots[i])));
            }
            tx.applyBatch(changes);
            return values;
        });
        for (int i = 0; i < BATCH_SIZE; i++) {
            expect("a transaction's read", indexOf(slots[i]), read[i], versions[slots[i]]);
        }
        recordChanges(slots, next);
    }

    /** Draws a batch's changes of owned keys: their slots and new versions (0: removed) into the arrays. */
    private Batch drawChanges(int[] slots, long[] next) {
        Batch batch = new Batch();
        for (int i = 0; i < BATCH_SIZE; i++) {
            int slot = pickSlot();
            slots[i] = slot;
            long index = indexOf(slot);
            if (random.nextInt(4) == 0) {
                batch.remove(records.key(index));
                next[i] = 0;
            } else {
                next[i] = nextVersion++;
                batch.insert(records.key(index), records.value(index, next[i]));
            }
        }
        return batch;
    }

    /** The model after a batch's changes, made in order. */
    private void recordChanges(int[] slots, long[] next) {
        for (int i = 0; i < BATCH_SIZE; i++) {
            // A later change of the same key in the batch wins, as in the store.
            int slot = slots[i];
            if (versions[slot] == 0 && next[i] != 0) {
                totals.liveEntryDelta(1);
            } else if (versions[slot] != 0 && next[i] == 0) {
                totals.liveEntryDelta(-1);
            }
            versions[slot] = next[i];
        }
    }

    /**
     * Scans {@code scan-len} key indexes from an owned key. Every entry must be in order, inside the bounds
     * and belong to its key; the owned keys in the range must be exactly the model's (nobody else changes
     * them while this thread scans).
     */
    private void scan(int slot) {
        scan("scan", tree, slot, index -> versions[(int) (index / settings.threads())]);
    }

    /**
     * {@link #scan(int)} of {@code source} (the store, or a snapshot), checking each owned key against
     * {@code ownedVersion} (its version, 0 if absent, by key index).
     */
    private void scan(String what, ReadableTree source, int slot, LongUnaryOperator ownedVersion) {
        long fromIndex = indexOf(slot);
        long toIndex = scanEnd(fromIndex);
        byte[] from = records.key(fromIndex);
        byte[] to = toIndex >= settings.keySpace() ? null : records.key(toIndex);
        Iterator<Map.Entry<byte[], byte[]>> it = source.range(from, to);
        long expectedOwn = fromIndex; // the next owned index the scan must account for
        byte[] previousKey = null;
        while (it.hasNext()) {
            Map.Entry<byte[], byte[]> e = it.next();
            byte[] key = e.getKey();
            if (previousKey != null && Arrays.compareUnsigned(previousKey, key) >= 0) {
                failures.wrong(what + " from key " + fromIndex + " returned keys out of order");
                return;
            }
            previousKey = key;
            long index = records.indexOf(key);
            if (index < fromIndex || (to != null && index >= toIndex)) {
                failures.wrong(what + " of keys [" + fromIndex + ", " + toIndex + ") returned "
                        + (index < 0 ? "a key that was never written" : "key " + index));
                return;
            }
            if (records.versionOf(index, e.getValue()) < 0) {
                failures.wrong(what + " returned a value for key " + index + " that does not belong to it: "
                        + describe(index, e.getValue()));
                return;
            }
            if (index % settings.threads() == thread) {
                for (; expectedOwn < index; expectedOwn += settings.threads()) {
                    checkAbsentInScan(what, expectedOwn, ownedVersion);
                }
                expect(what, index, e.getValue(), ownedVersion.applyAsLong(index));
                expectedOwn = index + settings.threads();
            }
        }
        for (; expectedOwn < toIndex; expectedOwn += settings.threads()) {
            checkAbsentInScan(what, expectedOwn, ownedVersion);
        }
    }

    /** The end (exclusive) of the range a scan from key {@code fromIndex} reads. */
    private long scanEnd(long fromIndex) {
        return Math.min(fromIndex + settings.scanLength(), settings.keySpace());
    }

    private void checkAbsentInScan(String what, long index, LongUnaryOperator ownedVersion) {
        long version = ownedVersion.applyAsLong(index);
        if (version != 0) {
            failures.wrong(what + " skipped key " + index + ", which has version " + version);
        }
    }

    /**
     * Takes a snapshot and notes the model's versions of {@link #SNAPSHOT_KEYS} owned keys and of the owned keys
     * of a scan's range; or, with one taken, checks that it reads exactly those (nobody else changes them, and this
     * thread changed them since as its draws went) and closes it.
     */
    private void snapshot() {
        if (snapshot == null) {
            snapshot = tree.snapshot();
            for (int i = 0; i < SNAPSHOT_KEYS; i++) {
                snapshotSlots[i] = pickSlot();
                snapshotVersions[i] = versions[snapshotSlots[i]];
            }
            snapshotRangeSlot = pickSlot();
            long fromIndex = indexOf(snapshotRangeSlot);
            int owned = (int) ((scanEnd(fromIndex) - fromIndex + settings.threads() - 1) / settings.threads());
            snapshotRangeVersions = Arrays.copyOfRange(versions, snapshotRangeSlot, snapshotRangeSlot + owned);
            return;
        }
        try (Snapshot taken = snapshot) {
            snapshot = null;
            for (int i = 0; i < SNAPSHOT_KEYS; i++) {
                long index = indexOf(snapshotSlots[i]);
                expect("a snapshot's get", index, taken.get(records.key(index)), snapshotVersions[i]);
            }
            long fromIndex = indexOf(snapshotRangeSlot);
            scan("a snapshot's scan", taken, snapshotRangeSlot,
                    index -> snapshotRangeVersions[(int) ((index - fromIndex) / settings.threads())]);
        }
    }

    // ---------------------------------------------------------------- checking

    private void expect(String what, long index, byte[] actual, long expectedVersion) {
        if (expectedVersion == 0) {
            if (actual != null) {
                failures.wrong(what + " of key " + index + ": expected no value, got " + describe(index, actual));
            }
            return;
        }
        if (actual == null || records.versionOf(index, actual) != expectedVersion) {
            failures.wrong(what + " of key " + index + ": expected version " + expectedVersion + ", got "
                    + describe(index, actual));
        }
    }

    private String describe(long index, byte[] value) {
        if (value == null) {
            return "no value";
        }
        long version = records.versionOf(index, value);
        return version < 0 ? "a damaged or foreign value of " + value.length + " bytes" : "version " + version;
    }

    /** The model's version of owned slot {@code slot} (0: absent). Read after the thread has stopped. */
    long versionAt(int slot) {
        return versions[slot];
    }

    int ownedKeys() {
        return versions.length;
    }

    Map<Op, Histogram> latencies() {
        return latencies;
    }
}
