package dev.toboggan.cli;

import dev.toboggan.cli.compare.Comparison;
import dev.toboggan.cli.compare.Peer;
import dev.toboggan.cli.compare.Sizes;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code toboggan compare}: the same workloads on Toboggan and its peers, in one run, as ratios to one baseline. */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Runs the same workloads against Toboggan, RocksDB, LMDB, H2 MVStore, Xodus and LevelDB in one "
                + "run: load; random reads on 1 and on --threads threads; 80/20 reads and overwrites on 1 thread, "
                + "95/5 on --threads threads; durable writes (put + sync) on 1 and on --writers threads next to a "
                + "bare write + fsync loop; space amplification after the load; reopen time; a bulk load of the "
                + "sorted keys into a new store through each store's own bulk path. Beside them, as the "
                + "machine's reference, two JDK maps that keep nothing on disk (hashmap, skiplist: load, reads, "
                + "mixed and bulk load only). Prints tables of ratios to the baseline and writes them as CSV and a chart.",
                "Exit code: 0, or 1 if a store read back a wrong value or could not be measured."})
public final class CompareCommand implements Callable<Integer> {
    /** A bound that catches a slip of the keyboard (--writers 1600) before it starts that many threads. */
    static final int MAX_THREADS = 256;

    @Option(names = "--keys", description = "keys loaded (default: ${DEFAULT-VALUE})")
    int keys = 100_000;

    @Option(names = "--ops", description = "operations of each thread of the read and mixed workloads "
            + "(default: ${DEFAULT-VALUE})")
    int ops = 200_000;

    @Option(names = "--durable-ops", description = "durable writes of the bare fsync loop and of each durable "
            + "workload (over all its writers; each is an fsync or the store's own sync) (default: ${DEFAULT-VALUE})")
    int durableOps = 2_000;

    @Option(names = "--threads", description = "threads of the multi-threaded read and 95/5 workloads "
            + "(default: ${DEFAULT-VALUE})")
    int threads = 2;

    @Option(names = "--writers", description = "threads of the group-commit durable workload (default: ${DEFAULT-VALUE})")
    int writers = 16;

    @Option(names = "--settle", paramLabel = "SECONDS", description = "after the load, wait at most this long for "
            + "the store's files to stop changing (background compaction or cleaning) before measuring space again; "
            + "0: no wait (default: ${DEFAULT-VALUE})")
    int settleSeconds = 10;

    @Option(names = "--key-len", description = "key bytes, at least 8 (default: ${DEFAULT-VALUE})")
    int keyLength = 16;

    @Option(names = "--value-len", description = "value bytes, at least 16 (default: ${DEFAULT-VALUE})")
    int valueLength = 100;

    @Option(names = "--stores", split = ",", description = "stores to run, in order (default: all: ${DEFAULT-VALUE})")
    List<Peer> stores = List.of(Peer.values());

    @Option(names = "--baseline", description = "the store every figure is divided by (default: ${DEFAULT-VALUE})")
    Peer baseline = Peer.TOBOGGAN;

    @Option(names = "--out", paramLabel = "DIR", description = "where compare.csv and compare.png go (default: ${DEFAULT-VALUE})")
    Path out = Path.of("compare-results");

    @Option(names = "--path", paramLabel = "DIR",
            description = "where the stores are created (default: a temporary directory, deleted afterwards)")
    Path path;

    @Option(names = "--warmup-percent",
            description = "an unmeasured first round of every store, this share of the sizes (default: ${DEFAULT-VALUE})")
    int warmupPercent = 20;

    @Option(names = "--rounds", description = "measured rounds, every other one in reverse store order; each figure is "
            + "the median (default: ${DEFAULT-VALUE})")
    int rounds = 1;

    @Option(names = "--seed", description = "seed of the key orders (default: ${DEFAULT-VALUE})")
    long seed = 1;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (keys < 1 || ops < 1 || durableOps < 1 || rounds < 1) {
            throw new ParameterException(spec.commandLine(),
                    "--keys, --ops, --durable-ops and --rounds must be at least 1");
        }
        if (threads < 1 || threads > MAX_THREADS || writers < 1 || writers > MAX_THREADS) {
            throw new ParameterException(spec.commandLine(), "--threads and --writers must be from 1 to " + MAX_THREADS
                    + ", were " + threads + " and " + writers);
        }
        if (settleSeconds < 0) {
            throw new ParameterException(spec.commandLine(), "--settle must be at least 0 seconds, was " + settleSeconds);
        }
        if (keyLength < 8 || valueLength < 16) {
            throw new ParameterException(spec.commandLine(), "--key-len must be at least 8 and --value-len at least 16");
        }
        if (warmupPercent < 0 || warmupPercent > 100) {
            throw new ParameterException(spec.commandLine(), "--warmup-percent must be from 0 to 100, was " + warmupPercent);
        }
        if (!stores.contains(baseline)) {
            throw new ParameterException(spec.commandLine(), "--baseline " + baseline.label() + " is not among --stores "
                    + stores.stream().map(Peer::label).toList());
        }
        Sizes sizes;
        try {
            sizes = new Sizes(keys, ops, durableOps, threads, writers, settleSeconds * 1000L);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        Comparison comparison = new Comparison(sizes, keyLength, valueLength, stores, baseline, seed, warmupPercent,
                rounds, spec.commandLine().getOut());
        return comparison.run(path, out) ? TobogganCli.OK : TobogganCli.PROBLEMS;
    }
}
