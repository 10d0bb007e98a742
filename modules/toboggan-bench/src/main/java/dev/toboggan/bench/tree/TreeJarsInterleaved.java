package dev.toboggan.bench.tree;

import dev.toboggan.bench.BenchDirs;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Two builds of Toboggan compared under the same machine load: both bench jars are loaded in one JVM, each
 * in its own class loader with its own store of {@link TreeBenchmark}'s workload (1 M random 16-byte keys,
 * 100-byte values, {@code fsync}, 4 KiB nodes), and one thread alternates short rounds of operations between
 * the two stores (the order reversed every round). Other processes' load then falls on both builds alike,
 * round by round, which separate runs (JMH, {@link TreeCpuCost}) cannot promise on a shared machine: there
 * the same jar moves ±20 % from one run to the next. Prints the median over rounds of the CPU time per
 * operation of the worker thread, for each build and as their ratio.
 *
 * <pre>
 * java -XX:+UseTransparentHugePages -Xmx8g -cp modules/toboggan-bench/target/benchmarks.jar \
 *     dev.toboggan.bench.tree.TreeJarsInterleaved base.jar new.jar [rounds] [write percent]
 * </pre>
 *
 * Both stores share the processor's caches, so absolute times are higher than with one store: read the
 * ratio. Rounds are 500 000 operations; the first four of each build are left out (JIT, the cleaner after
 * the loads). Each round's ratio is printed too, marked with the build that ran first in it (the store
 * loaded second has been a few percent slower in earlier runs: the two halves show such a bias).
 */
public final class TreeJarsInterleaved {
    private static final int OPS = 500_000;
    private static final int WARM_ROUNDS = 4;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    /** Where the rounds leave the lengths of what they read, so that the reads cannot be optimized away. */
    private static volatile long consumed;

    private TreeJarsInterleaved() {}

    /** One build's store, reached through its own class loader. */
    private static final class Build {
        final String name;
        final Path dir;
        final Object db;
        final MethodHandle get;
        final MethodHandle insert;

        Build(String name, Path jar) throws Throwable {
            this.name = name;
            ClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader());
            Method config = loader.loadClass(TreeBenchmark.class.getName())
                    .getDeclaredMethod("config", Path.class, String.class, String.class);
            config.setAccessible(true);
            dir = BenchDirs.create("tree-jars-" + name);
            Object settings = config.invoke(null, dir, "fsync", "4KiB");
            // the engine reads its reference.conf and starts its actor system through the context loader
            ClassLoader own = Thread.currentThread().getContextClassLoader();
            Thread.currentThread().setContextClassLoader(loader);
            try {
                db = loader.loadClass("dev.toboggan.Toboggan")
                        .getMethod("open", loader.loadClass("com.typesafe.config.Config")).invoke(null, settings);
            } finally {
                Thread.currentThread().setContextClassLoader(own);
            }
            Class<?> tree = loader.loadClass("dev.toboggan.Tree");
            MethodHandles.Lookup lookup = MethodHandles.publicLookup();
            get = lookup.findVirtual(tree, "get", MethodType.methodType(byte[].class, byte[].class))
                    .asType(MethodType.methodType(byte[].class, Object.class, byte[].class));
            insert = lookup.findVirtual(tree, "insert", MethodType.methodType(byte[].class, byte[].class, byte[].class))
                    .asType(MethodType.methodType(byte[].class, Object.class, byte[].class, byte[].class));
        }
    }

    public static void main(String[] args) throws Throwable {
        if (args.length < 2) {
            throw new IllegalArgumentException("usage: TreeJarsInterleaved base.jar new.jar [rounds] [write percent]");
        }
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 24;
        int writePercent = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        if (rounds <= WARM_ROUNDS) {
            throw new IllegalArgumentException("rounds must be more than " + WARM_ROUNDS + " (those are left out)");
        }
        byte[][] keys = TreeBenchmark.keys();
        byte[] value = TreeBenchmark.value();
        Build[] builds = {new Build("base", Path.of(args[0])), new Build("new", Path.of(args[1]))};
        try {
            for (Build build : builds) {
                long start = System.nanoTime();
                for (byte[] key : keys) {
                    byte[] previous = (byte[]) build.insert.invokeExact(build.db, key, value);
                }
                System.out.printf("%s: loaded in %.1f s%n", build.name, (System.nanoTime() - start) / 1e9);
            }
            double[][] nanos = new double[2][rounds - WARM_ROUNDS];
            for (int round = 0; round < rounds; round++) {
                for (int turn = 0; turn < 2; turn++) {
                    int which = (round + turn) % 2;
                    double perOp = round(builds[which], keys, value, writePercent, new SplittableRandom(2L * round + turn));
                    if (round >= WARM_ROUNDS) {
                        nanos[which][round - WARM_ROUNDS] = perOp;
                    }
                }
            }
            double[] ratios = new double[rounds - WARM_ROUNDS];
            StringBuilder byRound = new StringBuilder();
            for (int i = 0; i < ratios.length; i++) {
                ratios[i] = nanos[1][i] / nanos[0][i];
                // which build ran first in the round: the order bias shows as a difference between the two sets
                byRound.append(String.format(" %.3f%s", ratios[i], (i + WARM_ROUNDS) % 2 == 0 ? "b" : "n"));
            }
            System.out.printf("new / base by round (b: base ran first, n: new):%s%n", byRound);
            double base = median(nanos[0]);
            double next = median(nanos[1]);
            Arrays.sort(ratios);
            System.out.printf("%d %% writes, %d rounds: base %.0f ns per op (%,.0f per CPU second), new %.0f ns "
                    + "(%,.0f); new / base per round: median %.3f, range %.3f-%.3f%n", writePercent, ratios.length,
                    base, 1e9 / base, next, 1e9 / next, median(ratios), ratios[0], ratios[ratios.length - 1]);
        } finally {
            for (Build build : builds) {
                ((AutoCloseable) build.db).close();
                BenchDirs.delete(build.dir);
            }
        }
    }

    /** One round on {@code build}: its worker thread's CPU time per operation, in nanoseconds. */
    private static double round(Build build, byte[][] keys, byte[] value, int writePercent, SplittableRandom random)
            throws Throwable {
        long sink = 0;
        long start = THREADS.getCurrentThreadCpuTime();
        for (int i = 0; i < OPS; i++) {
            byte[] key = keys[random.nextInt(keys.length)];
            if (writePercent > 0 && random.nextInt(100) < writePercent) {
                byte[] previous = (byte[]) build.insert.invokeExact(build.db, key, value);
            } else {
                sink += ((byte[]) build.get.invokeExact(build.db, key)).length;
            }
        }
        long cpu = THREADS.getCurrentThreadCpuTime() - start;
        consumed += sink;
        return (double) cpu / OPS;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
