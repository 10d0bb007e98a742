package dev.toboggan.bench.tree;

import dev.toboggan.Change;
import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.Tree;
import dev.toboggan.WatchDelivery;
import dev.toboggan.WatchEvent;
import dev.toboggan.bench.BenchDirs;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * What a {@link Db#watchPrefix} watch costs writers: {@code keys} of {@link TreeBenchmark}'s random 16-byte keys
 * with 100-byte values are loaded; then one thread overwrites random keys for {@code seconds}, three ways,
 * alternated (each first in turn), {@code rounds} times; it prints the writer's puts per second and its thread's CPU
 * time per put (which the cleaner's pacing of writers does not move):
 * <ul>
 *   <li><b>none</b>: no watch (the baseline);
 *   <li><b>elsewhere</b>: a watch of a prefix no key has (each write compares its key with it);
 *   <li><b>every</b>: a watch of every key, its subscriber taking each event as it comes and counting its
 *       changes;
 *   <li><b>durable</b>: the same with {@link WatchDelivery#DURABLE} delivery (each event once its change is
 *       durable: the watch has the store flush for it); also the fsyncs per second, and how often the writer
 *       was held until its change was durable (writes outrunning the disk past half the buffer).
 * </ul>
 * For the two watches of every key, the time from a put's call to its event reaching the subscriber (every 16th
 * event; each value carries its put's {@code System.nanoTime()}). The watches have a buffer of {@code buffer}
 * events and deliver on the common pool, or with {@code default} on {@link Tree#defaultWatchExecutor()}; the two
 * ways of every key subscribe {@code watches} watches each (the first one's latency is printed, and the fewest
 * changes any of them saw).
 *
 * <pre>
 * java -Xmx3g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.WatchCost \
 *     [keys (1000000)] [rounds (5)] [seconds (3)] [buffer (65536)] [common|default (common)] [watches (1)]
 * </pre>
 */
public final class WatchCost {
    private WatchCost() {}

    private enum Way { NONE, ELSEWHERE, EVERY, DURABLE }

    public static void main(String[] args) throws Exception {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        int buffer = args.length > 3 ? Integer.parseInt(args[3]) : 1 << 16;
        Executor executor = args.length > 4 && args[4].equals("default") ? Tree.defaultWatchExecutor()
                : ForkJoinPool.commonPool();
        int watches = args.length > 5 ? Integer.parseInt(args[5]) : 1;
        Path dir = BenchDirs.create("watch-cost");
        try (Db db = Toboggan.open(dir.resolve("store"))) {
            TreeBenchmark.loadSettled(db, keys);
            System.out.printf("loaded %d keys%n", keys);
            Way[] ways = Way.values();
            for (int round = 0; round < rounds; round++) {
                double[] rates = new double[ways.length];
                double[] cpu = new double[ways.length];
                StringBuilder line = new StringBuilder(String.format("round %d:", round));
                for (int w = 0; w < ways.length; w++) {
                    Way way = ways[(w + round) % ways.length];
                    List<Counting> subscribers = new ArrayList<>();
                    int subscribed = way == Way.NONE ? 0 : way == Way.ELSEWHERE ? 1 : watches;
                    for (int s = 0; s < subscribed; s++) {
                        Counting subscriber = new Counting();
                        byte[] prefix = way == Way.ELSEWHERE ? new byte[] {-1, -1, -1, -1, -1} : new byte[0];
                        db.watchPrefix(prefix, way == Way.DURABLE ? WatchDelivery.DURABLE : WatchDelivery.APPLIED,
                                executor, buffer).subscribe(subscriber);
                        subscribers.add(subscriber);
                    }
                    long fsyncs = db.metrics().log().forces();
                    long held = db.metrics().watches().writersHeld();
                    Run run = overwrite(db, keys, seconds, 17L * round + w);
                    fsyncs = db.metrics().log().forces() - fsyncs;
                    held = db.metrics().watches().writersHeld() - held;
                    rates[way.ordinal()] = run.puts;
                    cpu[way.ordinal()] = run.cpuNanosPerPut;
                    line.append(String.format(" %s %.0f puts/s %.2f µs CPU/put", way.name().toLowerCase(), run.puts,
                            run.cpuNanosPerPut / 1000));
                    if (way == Way.EVERY || way == Way.DURABLE) {
                        Counting first = subscribers.get(0);
                        long fewest = subscribers.stream().mapToLong(c -> c.changes.sum()).min().orElse(0);
                        Throwable failed = subscribers.stream().map(c -> c.failure.get()).filter(f -> f != null)
                                .findFirst().orElse(null);
                        line.append(String.format(" (%d watch%s, %d changes seen by each at least, from the put to the "
                                + "event p50 %.0f µs, p99 %.0f µs%s)", subscribers.size(),
                                subscribers.size() == 1 ? "" : "es", fewest, first.latencyMicros(0.50),
                                first.latencyMicros(0.99), failed == null ? "" : ", then " + failed));
                    }
                    line.append(String.format(" %.0f fsyncs/s%s;", fsyncs / (double) seconds,
                            way == Way.DURABLE ? String.format(", writer held %d times", held) : ""));
                    for (Counting subscriber : subscribers) {
                        subscriber.cancel();
                    }
                }
                line.append(String.format(" puts/s: elsewhere / none %.3f, every / none %.3f, durable / none %.3f; "
                        + "writer CPU per put: elsewhere / none %.3f, every / none %.3f, durable / none %.3f",
                        rates[1] / rates[0], rates[2] / rates[0], rates[3] / rates[0], cpu[1] / cpu[0],
                        cpu[2] / cpu[0], cpu[3] / cpu[0]));
                System.out.println(line);
            }
        } finally {
            BenchDirs.delete(dir);
        }
    }

    /** Puts per second of the writer, and its thread's CPU time per put. */
    private record Run(double puts, double cpuNanosPerPut) {}

    /** One thread overwriting random keys for {@code seconds}. */
    private static Run overwrite(Db db, int keys, int seconds, long seed) throws InterruptedException {
        AtomicBoolean stop = new AtomicBoolean();
        LongAdder puts = new LongAdder();
        AtomicLong cpuNanos = new AtomicLong();
        byte[] value = TreeBenchmark.value();
        ByteBuffer stamp = ByteBuffer.wrap(value);
        Thread writer = new Thread(() -> {
            SplittableRandom r = new SplittableRandom(seed);
            byte[] key = new byte[TreeBenchmark.KEY_SIZE];
            while (!stop.get()) {
                TreeBenchmark.key(r.nextInt(keys), key);
                stamp.putLong(0, System.nanoTime()); // the store copies the value: the array is free again after
                db.insert(key, value);
                puts.increment();
            }
            cpuNanos.set(ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime());
        }, "writer");
        long t0 = System.nanoTime();
        writer.start();
        Thread.sleep(seconds * 1000L);
        stop.set(true);
        writer.join();
        return new Run(puts.sum() / ((System.nanoTime() - t0) / 1e9), cpuNanos.get() / (double) puts.sum());
    }

    /** Takes every event as it comes, counts the changes and samples how long after its put each came. */
    private static final class Counting implements Flow.Subscriber<WatchEvent> {
        final LongAdder changes = new LongAdder();
        /** Nanoseconds from a put to its event, every 16th change; written by the delivering thread only. */
        private final long[] latencies = new long[1 << 20];
        private int sampled;
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final AtomicReference<Flow.Subscription> subscription = new AtomicReference<>();

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription.set(s);
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(WatchEvent event) {
            long now = System.nanoTime();
            for (Change change : event.changes()) {
                changes.increment();
                if ((changes.sum() & 15) == 0 && sampled < latencies.length) {
                    latencies[sampled++] = now - ByteBuffer.wrap(change.value()).getLong(0);
                }
            }
        }

        /** The {@code quantile} of the sampled latencies, in microseconds (read once the watch is done). */
        double latencyMicros(double quantile) {
            if (sampled == 0) {
                return Double.NaN;
            }
            long[] sorted = Arrays.copyOf(latencies, sampled);
            Arrays.sort(sorted);
            return sorted[(int) Math.min(sampled - 1, Math.floor(quantile * sampled))] / 1000.0;
        }

        @Override
        public void onError(Throwable error) {
            failure.set(error);
        }

        @Override
        public void onComplete() {}

        /** Cancels the watch, once it started (its {@code onSubscribe} runs on the pool, after the subscribe). */
        void cancel() throws InterruptedException {
            for (int i = 0; i < 1000 && subscription.get() == null; i++) {
                Thread.sleep(1);
            }
            Flow.Subscription s = subscription.get();
            if (s != null) {
                s.cancel();
            }
        }
    }
}
