package dev.toboggan.cli.compare;

import dev.toboggan.cli.stress.Records;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * The workloads {@code toboggan compare} runs on every store, one after the other, on one thread:
 * <ol>
 *   <li><b>load</b>: {@code keys} inserts in a random order, then {@link KvStore#flush()} (timed with them);
 *   <li><b>random reads</b>: {@code ops} gets of random loaded keys;
 *   <li><b>mixed</b>: {@code ops} operations, 80 % gets and 20 % overwrites of random keys, then a flush.
 * </ol>
 * Every value read is checked ({@link Records}: values encode their key and version), so a store that
 * returns wrong data cannot look fast.
 */
final class Workloads {
    /** One store's figures. */
    record Result(Peer peer, double loadOpsPerSecond, double readOpsPerSecond, double mixedOpsPerSecond,
            long diskBytes, long wrongValues) {}

    private final Records records;
    private final int keys;
    private final int ops;
    private final long seed;

    Workloads(Records records, int keys, int ops, long seed) {
        this.records = records;
        this.keys = keys;
        this.ops = ops;
        this.seed = seed;
    }

    Result run(Peer peer, Path dir) throws Exception {
        int[] versions = new int[keys];
        long wrong = 0;
        double load;
        double reads;
        double mixed;
        try (KvStore store = peer.open(dir)) {
            int[] order = shuffled(keys, new SplittableRandom(seed));
            long t0 = System.nanoTime();
            for (int index : order) {
                store.put(records.key(index), records.value(index, 1));
            }
            store.flush();
            load = keys / seconds(t0);
            for (int i = 0; i < keys; i++) {
                versions[i] = 1;
            }

            SplittableRandom random = new SplittableRandom(seed + 1);
            long t1 = System.nanoTime();
            for (int i = 0; i < ops; i++) {
                int index = random.nextInt(keys);
                wrong += check(index, store.get(records.key(index)), versions[index]);
            }
            reads = ops / seconds(t1);

            SplittableRandom mix = new SplittableRandom(seed + 2);
            long t2 = System.nanoTime();
            for (int i = 0; i < ops; i++) {
                int index = mix.nextInt(keys);
                if (mix.nextInt(5) == 0) {
                    store.put(records.key(index), records.value(index, ++versions[index]));
                } else {
                    wrong += check(index, store.get(records.key(index)), versions[index]);
                }
            }
            store.flush();
            mixed = ops / seconds(t2);
        }
        return new Result(peer, load, reads, mixed, sizeOf(dir), wrong);
    }

    private int check(int index, byte[] value, int version) {
        return records.versionOf(index, value) == version ? 0 : 1;
    }

    private static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }

    private static int[] shuffled(int n, SplittableRandom random) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    /** Bytes of every file under {@code dir}. */
    static long sizeOf(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
        }
    }
}
