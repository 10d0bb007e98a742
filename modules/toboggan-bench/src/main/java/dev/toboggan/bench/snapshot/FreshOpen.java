package dev.toboggan.bench.snapshot;

import dev.toboggan.bench.BenchDirs;
import dev.toboggan.core.Background;
import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.pagecache.CounterMaterializer;
import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.PageCacheConfig;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The first open of a store in a JVM that has done nothing else (issue 6: ≤ 300 ms in a fresh JVM), which
 * {@link OpenTimeBenchmark}'s forks cannot show: each of them built the store first, so the libraries and
 * much of the code were loaded and compiled before its open. This builds the stores (1 M small pages; and
 * the same with every page linked 9 more times), then starts child JVMs that each open one store and time,
 * from the open call on, everything the open and the first operations cost, the libraries they initialize
 * included: the open, the first get (which decodes one snapshot block), the first change made durable (a
 * link and a flush).
 *
 * <p>Each store is opened in two kinds of JVM: {@code cold}, in which the open is the first thing that
 * happens, and {@code app}, in which logging (slf4j + logback, reading its configuration) was initialized
 * first, as an application that logs does at its own start. A cold child also times logging's first use
 * after the operations: near zero if the store's open or operations had initialized it already.
 *
 * <pre>java -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.snapshot.FreshOpen [opens] [baseline class path]</pre>
 *
 * <p>With a baseline class path (an older build's classes behind this class, e.g. a directory holding
 * this class's compiled file followed by the older benchmarks jar), every child is run from both class
 * paths back to back, on the same stores, so that before and after share the machine's load.
 */
public final class FreshOpen {
    private static final int PAGES = 1_000_000;

    private FreshOpen() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 3 && args[0].equals("child")) {
            child(Path.of(args[1]), args[2].equals("app"));
            return;
        }
        int opens = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        String baseline = args.length > 1 ? args[1] : null;
        String current = System.getProperty("java.class.path");
        Path root = BenchDirs.create("fresh-open");
        try {
            for (int history : new int[] {1, 10}) {
                Path dir = root.resolve("history-" + history);
                build(dir, history);
                for (String mode : new String[] {"cold", "app"}) {
                    System.out.printf("%d pages, history %d, %s JVM:%n", PAGES, history, mode);
                    for (int i = 0; i < opens; i++) {
                        if (baseline != null) {
                            System.out.println("  baseline " + runChild(baseline, dir, mode));
                        }
                        System.out.println("  " + (baseline != null ? "current  " : "") + runChild(current, dir, mode));
                    }
                }
            }
        } finally {
            BenchDirs.delete(root);
        }
    }

    private static PageCacheConfig config(Path dir) {
        return PageCacheConfig.of(LogConfig.defaults(dir).withFlushEvery(Duration.ZERO));
    }

    private static void build(Path dir, int history) {
        try (PageCache<Long, Long> cache = PageCache.open(config(dir), new FileChannelStorage(), Background.NONE,
                CounterMaterializer.INSTANCE)) {
            long[] pids = new long[PAGES];
            for (int i = 0; i < PAGES; i++) {
                pids[i] = cache.allocate((long) i).pid();
            }
            for (int round = 1; round < history; round++) {
                for (long pid : pids) {
                    Page<Long> view = cache.get(pid);
                    cache.link(pid, view, 1L);
                }
            }
        }
    }

    private static String runChild(String classPath, Path dir, String mode) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of("-cp", classPath, FreshOpen.class.getName(), "child", dir.toString(), mode));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String result = "(no figures: the child printed nothing)";
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            for (String line; (line = out.readLine()) != null; ) {
                if (line.startsWith("total")) {
                    result = line;
                }
            }
        }
        int exit = process.waitFor();
        if (exit != 0) {
            throw new IllegalStateException("the child JVM opening " + dir + " exited with " + exit);
        }
        return result;
    }

    private static void child(Path dir, boolean loggingFirst) {
        long logging = 0;
        if (loggingFirst) {
            long start = System.nanoTime();
            org.slf4j.LoggerFactory.getLogger(FreshOpen.class).debug("logging initialized, as an application would");
            logging = System.nanoTime() - start;
        }
        long t0 = System.nanoTime();
        PageCache<Long, Long> cache = PageCache.open(config(dir), new FileChannelStorage(), Background.NONE,
                CounterMaterializer.INSTANCE);
        long t1 = System.nanoTime();
        long pid = PAGES / 2;
        Page<Long> view = cache.get(pid);
        long t2 = System.nanoTime();
        if (!cache.link(pid, view, 1L).succeeded()) {
            throw new IllegalStateException("nobody else changes page " + pid + ", yet the link lost");
        }
        cache.flush();
        long t3 = System.nanoTime();
        if (!loggingFirst) {
            long start = System.nanoTime();
            org.slf4j.LoggerFactory.getLogger(FreshOpen.class).debug("logging's first use after the operations");
            logging = System.nanoTime() - start;
        }
        cache.close();
        System.out.printf("total %4.0f ms: open %4.0f ms, first get %5.1f ms, link + flush %5.1f ms; logging %s %.0f ms%n",
                (t3 - t0) / 1e6, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6, loggingFirst ? "before" : "after",
                logging / 1e6);
    }
}
