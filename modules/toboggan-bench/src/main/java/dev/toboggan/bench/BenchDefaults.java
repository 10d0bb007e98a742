package dev.toboggan.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Settings shared by every benchmark class: extend it. JMH looks for {@code @Fork}, {@code @Warmup} and
 * the rest on the benchmark method, then its class, then the superclasses, so this is the one place that
 * sets them for every benchmark (the forks need no JVM flags: Toboggan needs none). Modest on purpose (a class runs in about a minute):
 * these machines are shared and noisy, so every figure is read as a ratio to a baseline measured in the
 * same run, never as an absolute. A command line's {@code -f/-wi/-i/-w/-r} override them.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
public abstract class BenchDefaults {
    /**
     * Whether benchmarks print what they observed (log counters) after each iteration:
     * {@code -Dtoboggan.bench.verbose=true} on the host JVM (JMH copies host options into the forks).
     */
    protected static final boolean VERBOSE = Boolean.getBoolean("toboggan.bench.verbose");

    /** The one-minute load average, to tell a noisy neighbour from a slow log in verbose output. */
    protected static double loadAverage() {
        return java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }
}
