package dev.toboggan.bench.tree;

import dev.toboggan.Batch;
import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.bench.BenchDirs;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * What a {@link Db#transaction} costs: {@code keys} of {@link TreeBenchmark}'s random 16-byte keys with 100-byte
 * values are loaded; then transfers (take 1 from one random key's value, its first 8 bytes a number, and add it to
 * another's) run for {@code seconds} each, three ways, alternated, {@code rounds} times, on one thread and on two:
 * <ul>
 *   <li><b>transaction</b>: both reads and both writes in one transaction (atomic, nothing lost);
 *   <li><b>updates</b>: two {@code updateAndFetch} calls, the same reads and writes, each key atomic but not the
 *       pair (the baseline: the work without the transaction);
 *   <li><b>batch</b>: two gets, then both writes as one {@code applyBatch} (writes atomic, reads unchecked: a
 *       concurrent transfer's change can be lost), the exclusive section a commit takes, without its checks.
 * </ul>
 * Then one thread runs each way while a second reads random keys: the reader's gets per second next to each.
 *
 * <pre>
 * java -Xmx3g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.TransactionCost \
 *     [keys (1000000)] [rounds (3)] [seconds (3)]
 * </pre>
 */
public final class TransactionCost {
    private TransactionCost() {}

    private enum Way { TRANSACTION, UPDATES, BATCH }

    public static void main(String[] args) throws Exception {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        Path dir = BenchDirs.create("transaction-cost");
        try (Db db = Toboggan.open(dir.resolve("store"))) {
            TreeBenchmark.loadSettled(db, keys);
            System.out.printf("loaded %d keys%n", keys);
            Way[] ways = Way.values();
            for (int round = 0; round < rounds; round++) {
                for (int threads = 1; threads <= 2; threads++) {
                    StringBuilder line = new StringBuilder(String.format("round %d, %d thread%s:", round, threads,
                            threads == 1 ? "" : "s"));
                    double[] rates = new double[ways.length];
                    for (int w = 0; w < ways.length; w++) {
                        Way way = ways[(w + round) % ways.length]; // each way first in turn
                        Run run = run(db, keys, way, threads, false, seconds);
                        rates[way.ordinal()] = run.transfers;
                        line.append(String.format(" %s %.0f/s", way.name().toLowerCase(), run.transfers));
                        if (way == Way.TRANSACTION) {
                            line.append(String.format(" (%.3f runs per commit)", run.bodyRuns / run.commits));
                        }
                    }
                    line.append(String.format("; transaction / updates %.2f, transaction / batch %.2f",
                            rates[0] / rates[1], rates[0] / rates[2]));
                    System.out.println(line);
                }
                StringBuilder line = new StringBuilder(String.format("round %d, one writer, one reader:", round));
                for (int w = 0; w < ways.length; w++) {
                    Way way = ways[(w + round) % ways.length];
                    Run run = run(db, keys, way, 1, true, seconds);
                    line.append(String.format(" %s %.0f transfers/s beside %.0f gets/s;", way.name().toLowerCase(),
                            run.transfers, run.gets));
                }
                System.out.println(line);
            }
        } finally {
            BenchDirs.delete(dir);
        }
    }

    /** Per second: transfers made, gets of the reader (if any); transaction bodies run and committed in all. */
    private record Run(double transfers, double gets, double bodyRuns, double commits) {}

    private static Run run(Db db, int keys, Way way, int threads, boolean reader, int seconds) throws Exception {
        LongAdder transfers = new LongAdder();
        LongAdder gets = new LongAdder();
        LongAdder bodyRuns = new LongAdder();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> running = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            SplittableRandom r = new SplittableRandom(31L * t + way.ordinal());
            running.add(new Thread(() -> {
                while (!stop.get()) {
                    int a = r.nextInt(keys);
                    int b = (a + 1 + r.nextInt(keys - 1)) % keys;
                    transfer(db, way, key(a), key(b), bodyRuns);
                    transfers.increment();
                }
            }, "transfer-" + t));
        }
        if (reader) {
            running.add(new Thread(() -> {
                SplittableRandom r = new SplittableRandom(99);
                byte[] k = new byte[TreeBenchmark.KEY_SIZE];
                while (!stop.get()) {
                    TreeBenchmark.key(r.nextInt(keys), k);
                    db.get(k);
                    gets.increment();
                }
            }, "reader"));
        }
        long t0 = System.nanoTime();
        running.forEach(Thread::start);
        Thread.sleep(seconds * 1000L);
        stop.set(true);
        for (Thread t : running) {
            t.join();
        }
        double elapsed = (System.nanoTime() - t0) / 1e9;
        return new Run(transfers.sum() / elapsed, gets.sum() / elapsed, bodyRuns.sum(), transfers.sum());
    }

    private static byte[] key(int i) {
        byte[] key = new byte[TreeBenchmark.KEY_SIZE];
        TreeBenchmark.key(i, key);
        return key;
    }

    private static void transfer(Db db, Way way, byte[] from, byte[] to, LongAdder bodyRuns) {
        switch (way) {
            case TRANSACTION -> db.transaction(tx -> {
                bodyRuns.increment();
                byte[] a = tx.get(from);
                byte[] b = tx.get(to);
                tx.insert(from, add(a, -1));
                tx.insert(to, add(b, 1));
                return null;
            });
            case UPDATES -> {
                db.updateAndFetch(from, v -> add(v, -1));
                db.updateAndFetch(to, v -> add(v, 1));
            }
            case BATCH -> {
                byte[] a = db.get(from);
                byte[] b = db.get(to);
                db.applyBatch(new Batch().insert(from, add(a, -1)).insert(to, add(b, 1)));
            }
        }
    }

    /** The value with {@code delta} added to the number in its first 8 bytes. */
    private static byte[] add(byte[] value, long delta) {
        ByteBuffer.wrap(value).putLong(0, ByteBuffer.wrap(value).getLong(0) + delta);
        return value;
    }
}
