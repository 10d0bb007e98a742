package dev.toboggan.cli;

import dev.toboggan.cli.compare.Comparison;
import dev.toboggan.cli.compare.Peer;
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
        description = {"Runs the same workloads (load, random reads, 80/20 reads and overwrites; one thread) against "
                + "Toboggan, RocksDB, LMDB, H2 MVStore, Xodus and LevelDB in one run; prints a table of ratios to the "
                + "baseline and writes it as CSV and a chart.",
                "Exit code: 0, or 1 if a store read back a wrong value or could not be measured."})
public final class CompareCommand implements Callable<Integer> {
    @Option(names = "--keys", description = "keys loaded (default: ${DEFAULT-VALUE})")
    int keys = 100_000;

    @Option(names = "--ops", description = "operations of the read and mixed workloads (default: ${DEFAULT-VALUE})")
    int ops = 200_000;

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
        if (keys < 1 || ops < 1 || rounds < 1) {
            throw new ParameterException(spec.commandLine(), "--keys, --ops and --rounds must be at least 1");
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
        Comparison comparison = new Comparison(keys, ops, keyLength, valueLength, stores, baseline, seed,
                warmupPercent, rounds, spec.commandLine().getOut());
        return comparison.run(path, out) ? TobogganCli.OK : TobogganCli.PROBLEMS;
    }
}
