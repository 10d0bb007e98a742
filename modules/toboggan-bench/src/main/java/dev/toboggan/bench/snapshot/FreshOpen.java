package dev.toboggan.bench.snapshot;

import dev.toboggan.bench.BenchDirs;
import dev.toboggan.bench.BenchFlags;
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
 * The open of a store in a JVM that has done nothing else (issue 6: ≤ 300 ms in a fresh JVM), which
 * {@link OpenTimeBenchmark}'s forks cannot show: each of them built the store first, so the libraries and
 * much of the code were loaded and compiled before its open. This builds the stores (1 M small pages; and
 * the same with every page linked 9 more times), then starts a child JVM per open that only opens one and
 * reads one page, and prints what the child spent where: initializing logging (slf4j + logback, which an
 * application pays anyway, so it is done first and reported apart), Chronicle Bytes' first use, the open,
 * and the first read (which decodes one snapshot block).
 *
 * <pre>java -cp modules/toboggan-bench/target/benchmarks.jar dev.toboggan.bench.snapshot.FreshOpen [opens]</pre>
 */
public final class FreshOpen {
    private static final int PAGES = 1_000_000;

    private FreshOpen() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("child")) {
            child(Path.of(args[1]));
            return;
        }
        int opens = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        Path root = BenchDirs.create("fresh-open");
        try {
            for (int history : new int[] {1, 10}) {
                Path dir = root.resolve("history-" + history);
                build(dir, history);
                System.out.printf("%d pages, history %d:%n", PAGES, history);
                for (int i = 0; i < opens; i++) {
                    System.out.println("  " + runChild(dir));
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

    private static String runChild(Path dir) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of(BenchFlags.OPENS_NIO, BenchFlags.OPENS_LANG, BenchFlags.OPENS_REFLECT,
                BenchFlags.OPENS_IO, BenchFlags.OPENS_UTIL, BenchFlags.EXPORTS_MISC, BenchFlags.EXPORTS_REF,
                BenchFlags.EXPORTS_UTIL, BenchFlags.EXPORTS_NIO_CH, BenchFlags.EXPORTS_SUN_MISC));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), FreshOpen.class.getName(), "child",
                dir.toString()));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String result = "(no figures: the child printed nothing)";
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8))) {
            for (String line; (line = out.readLine()) != null; ) {
                if (line.startsWith("logging")) {
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

    private static void child(Path dir) {
        long t0 = System.nanoTime();
        org.slf4j.LoggerFactory.getLogger(FreshOpen.class).debug("logging initialized, as an application would");
        long t1 = System.nanoTime();
        net.openhft.chronicle.bytes.Bytes.allocateDirect(64).releaseLast();
        long t2 = System.nanoTime();
        PageCache<Long, Long> cache = PageCache.open(config(dir), new FileChannelStorage(), Background.NONE,
                CounterMaterializer.INSTANCE);
        long t3 = System.nanoTime();
        cache.get(PAGES / 2);
        long t4 = System.nanoTime();
        cache.close();
        System.out.printf("logging %.0f ms, Chronicle Bytes %.0f ms, open %.0f ms, first get %.1f ms%n",
                (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6, (t4 - t3) / 1e6);
    }
}
