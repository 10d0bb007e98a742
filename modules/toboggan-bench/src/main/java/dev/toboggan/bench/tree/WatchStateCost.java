package dev.toboggan.bench.tree;

import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import dev.toboggan.WatchDelivery;
import dev.toboggan.WatchEvent;
import dev.toboggan.bench.BenchDirs;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What a watch that begins with its prefix's state ({@link dev.toboggan.Tree#watchPrefixWithState}) costs:
 * {@code keys} of {@link TreeBenchmark}'s random keys with 100-byte values are loaded, then, while one writer
 * overwrites random keys in a loop, {@code rounds} times: a full scan of the tree (the baseline: the reads the
 * subscription makes), then a subscription with state to every key, timed until {@code subscribe} returned
 * (the writers are held that long) and until the initial event arrived; and the writer's longest pause in
 * either. The watch is cancelled once its initial event arrived.
 *
 * <pre>
 * java -Xmx3g -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.tree.WatchStateCost \
 *     [keys (1000000)] [rounds (3)]
 * </pre>
 */
public final class WatchStateCost {
    private WatchStateCost() {}

    public static void main(String[] args) throws Exception {
        int keys = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path dir = BenchDirs.create("watch-state-cost");
        try (Db db = Toboggan.open(dir.resolve("store"))) {
            TreeBenchmark.loadSettled(db, keys);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong longestPauseNanos = new AtomicLong();
            Thread writer = new Thread(() -> {
                byte[] key = new byte[TreeBenchmark.KEY_SIZE];
                byte[] value = TreeBenchmark.value();
                java.util.SplittableRandom random = new java.util.SplittableRandom(7);
                long last = System.nanoTime();
                while (!stop.get()) {
                    TreeBenchmark.key(random.nextInt(keys), key);
                    db.insert(key, value);
                    long now = System.nanoTime();
                    longestPauseNanos.accumulateAndGet(now - last, Math::max);
                    last = now;
                }
            }, "writer");
            writer.start();
            for (int round = 0; round < rounds; round++) {
                Thread.sleep(500);
                longestPauseNanos.set(0);
                long t0 = System.nanoTime();
                long scanned = 0;
                for (Iterator<Map.Entry<byte[], byte[]>> it = db.iterator(); it.hasNext(); it.next()) {
                    scanned++;
                }
                double scanMs = (System.nanoTime() - t0) / 1e6;
                Thread.sleep(100); // a writer held until now records its pause once it runs again
                long pauseDuringScan = longestPauseNanos.getAndSet(0);
                Thread.sleep(500);
                longestPauseNanos.set(0);
                CompletableFuture<Integer> initial = new CompletableFuture<>();
                t0 = System.nanoTime();
                db.watchPrefixWithState(new byte[0], WatchDelivery.APPLIED, ForkJoinPool.commonPool(), 1 << 16)
                        .subscribe(new Flow.Subscriber<WatchEvent>() {
                            private Flow.Subscription subscription;

                            @Override
                            public void onSubscribe(Flow.Subscription s) {
                                subscription = s;
                                s.request(1);
                            }

                            @Override
                            public void onNext(WatchEvent event) {
                                initial.complete(event.changes().size());
                                subscription.cancel();
                            }

                            @Override
                            public void onError(Throwable e) {
                                initial.completeExceptionally(e);
                            }

                            @Override
                            public void onComplete() {}
                        });
                double subscribeMs = (System.nanoTime() - t0) / 1e6;
                int entries = initial.get();
                double initialMs = (System.nanoTime() - t0) / 1e6;
                Thread.sleep(100);
                System.out.printf("round %d: scan of %,d entries %.0f ms (writer's longest pause %.1f ms); subscribe "
                        + "with state %.0f ms (%.2f x the scan; writer's longest pause %.1f ms), initial event of %,d "
                        + "entries after %.0f ms%n", round, scanned, scanMs, pauseDuringScan / 1e6, subscribeMs,
                        subscribeMs / scanMs, longestPauseNanos.get() / 1e6, entries, initialMs);
            }
            stop.set(true);
            writer.join();
        } finally {
            BenchDirs.delete(dir);
        }
    }
}
