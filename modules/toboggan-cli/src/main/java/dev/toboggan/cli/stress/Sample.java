package dev.toboggan.cli.stress;

/**
 * One second of a stress run.
 *
 * @param second seconds since the timed run started
 * @param opsPerSecond operations completed in that second
 * @param p50Micros median latency of those operations
 * @param p99Micros 99th percentile latency of those operations
 * @param heapBytes heap in use at the end of the second
 * @param residentBytes resident memory of the process (-1 if unknown)
 * @param diskBytes the store's size on disk
 * @param spaceAmplification disk bytes / bytes of the live keys and values (NaN while nothing is live)
 * @param maxMicros the slowest operation completed in that second (a stall shows here, in the second it ends)
 */
public record Sample(int second, long opsPerSecond, double p50Micros, double p99Micros, long heapBytes,
        long residentBytes, long diskBytes, double spaceAmplification, double maxMicros) {

    static final String CSV_HEADER = "second,ops_per_s,p50_us,p99_us,heap_mib,rss_mib,disk_mib,space_amp,max_us";

    String csv() {
        return String.format(java.util.Locale.ROOT, "%d,%d,%.1f,%.1f,%.1f,%.1f,%.2f,%s,%.1f", second, opsPerSecond, p50Micros,
                p99Micros, mib(heapBytes), residentBytes < 0 ? Double.NaN : mib(residentBytes), mib(diskBytes),
                Double.isNaN(spaceAmplification) ? "" : String.format(java.util.Locale.ROOT, "%.2f", spaceAmplification),
                maxMicros);
    }

    static double mib(long bytes) {
        return bytes / (1024.0 * 1024.0);
    }
}
