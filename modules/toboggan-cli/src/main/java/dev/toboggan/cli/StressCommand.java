package dev.toboggan.cli;

import com.typesafe.config.Config;
import dev.toboggan.Tree;
import dev.toboggan.cli.stress.OpMix;
import dev.toboggan.cli.stress.Records;
import dev.toboggan.cli.stress.RunReport;
import dev.toboggan.cli.stress.StressRun;
import dev.toboggan.cli.stress.StressSettings;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code toboggan stress} (sled's {@code stress2}): threads run a mix of get, insert, remove,
 * compareAndSwap, scans, batches, transactions and snapshots on the public tree API, each checking every value
 * it reads against its exact model of the keys it owns; then the store is backed up online, closed and
 * reopened, and every key is checked in the store and in the backup. A progress line per second;
 * {@code --report DIR} writes the time series as CSV and a chart.
 */
@Command(name = "stress", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Runs a mix of operations on a store from several threads, checking every value read back; "
                + "then backs the store up online, reopens it, and checks every key in both.",
                "Exit code: 0 if everything read back was right, 1 if not, 2 for bad arguments, 3 if the store "
                        + "cannot be opened."})
public final class StressCommand implements Callable<Integer> {
    @Option(names = "--threads", description = "worker threads (default: ${DEFAULT-VALUE})")
    int threads = 4;

    @Option(names = "--seconds", description = "how long the timed run lasts (default: ${DEFAULT-VALUE})")
    int seconds = 10;

    @Option(names = "--keys", description = "key space: keys 0 .. keys-1 (default: ${DEFAULT-VALUE})")
    long keys = 100_000;

    @Option(names = "--key-len", description = "key bytes, at least 8 (default: ${DEFAULT-VALUE})")
    int keyLength = 16;

    @Option(names = "--value-len", description = "value bytes, at least 16 (default: ${DEFAULT-VALUE})")
    int valueLength = 100;

    @Option(names = "--mix", description = "operation weights, of get, insert, remove, cas, scan, batch, tx, snapshot "
            + "(default: ${DEFAULT-VALUE})")
    String mix = "get=60,insert=20,remove=5,cas=10,scan=4,batch=1,tx=1,snapshot=1";

    @Option(names = "--sequential", description = "each thread walks its keys in order (default: random keys)")
    boolean sequential;

    @Option(names = "--scan-len", description = "keys a scan covers (default: ${DEFAULT-VALUE})")
    int scanLength = 20;

    @Option(names = "--durable-percent",
            description = "share of changes followed by a flush that waits for the disk, 0-100 (default: ${DEFAULT-VALUE})")
    int durablePercent = 1;

    @Option(names = "--preload-percent",
            description = "share of the keys inserted before the timed run, 0-100 (default: ${DEFAULT-VALUE})")
    int preloadPercent = 50;

    @Option(names = "--seed", description = "seed of the threads' random choices (default: ${DEFAULT-VALUE})")
    long seed = 1;

    @Option(names = "--path", description = "a new store directory, kept afterwards (default: a temporary directory, deleted)")
    Path path;

    @Mixin
    StoreSettings storeSettings = new StoreSettings();

    @Option(names = "--report", paramLabel = "DIR",
            description = "write the run per second to DIR/" + RunReport.CSV + " and a chart of it to DIR/" + RunReport.CHART)
    Path report;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        StressSettings settings = settings();
        Config storeConfig = storeSettings.config(spec);
        if (path != null && Files.exists(path.resolve("format"))) {
            // The threads' models start empty: every key already there would read back as wrong.
            throw new ParameterException(spec.commandLine(), "--path " + path + " already holds a store; stress needs "
                    + "a new directory, since it checks every key against what it wrote");
        }
        PrintWriter out = spec.commandLine().getOut();
        boolean temporary = path == null;
        Path dir = temporary ? Files.createTempDirectory("toboggan-stress-") : path;
        try {
            out.printf("toboggan stress: %d threads, %d s, %,d keys (%d-byte keys, %d-byte values), mix %s, %s keys, "
                    + "%d%% of changes flushed%n", threads, seconds, keys, keyLength, valueLength, settings.mix(),
                    sequential ? "sequential" : "random", durablePercent);
            StressRun run = new StressRun(settings, storeConfig, Duration.ofSeconds(seconds), dir, out);
            boolean clean = run.run();
            if (report != null) {
                RunReport.write(report, run.samples(), "toboggan stress");
                out.printf("report: %s, %s%n", report.resolve(RunReport.CSV), report.resolve(RunReport.CHART));
            }
            out.flush();
            return clean ? 0 : 1;
        } finally {
            if (temporary) {
                Directories.deleteRecursively(dir);
            }
        }
    }

    private StressSettings settings() {
        requireAtLeast("--threads", threads, 1);
        requireAtLeast("--seconds", seconds, 1);
        requireAtLeast("--key-len", keyLength, Records.MIN_KEY_LENGTH);
        requireAtMost("--key-len", keyLength, Tree.MAX_KEY_LENGTH);
        requireAtLeast("--value-len", valueLength, Records.MIN_VALUE_LENGTH);
        requireAtMost("--value-len", valueLength, Tree.MAX_VALUE_LENGTH);
        requireAtLeast("--keys", keys, threads);
        requireAtMost("--keys", keys, Integer.MAX_VALUE);
        requireAtLeast("--scan-len", scanLength, 1);
        requireAtLeast("--durable-percent", durablePercent, 0);
        requireAtMost("--durable-percent", durablePercent, 100);
        requireAtLeast("--preload-percent", preloadPercent, 0);
        requireAtMost("--preload-percent", preloadPercent, 100);
        OpMix opMix;
        try {
            opMix = OpMix.parse(mix);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        return new StressSettings(threads, keys, new Records(keyLength, valueLength), opMix, sequential, scanLength,
                durablePercent, preloadPercent / 100.0, seed);
    }

    /** The {@code --set} settings, checked now: a wrong key or value is a usage error before anything is written. */
    private void requireAtLeast(String option, long value, long min) {
        if (value < min) {
            throw new ParameterException(spec.commandLine(), option + " must be at least " + min + ", was " + value);
        }
    }

    private void requireAtMost(String option, long value, long max) {
        if (value > max) {
            throw new ParameterException(spec.commandLine(), option + " must be at most " + max + ", was " + value);
        }
    }
}
