package dev.toboggan.engine;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.pagecache.PageCacheConfig;
import dev.toboggan.core.pagecache.SegmentCleaning;
import dev.toboggan.core.pagecache.SnapshotWriter;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Objects;

/**
 * Every setting of an engine, read once from the {@code toboggan} section of a configuration (whose keys
 * and defaults {@code reference.conf} documents). Invalid values are rejected here, naming the key.
 *
 * @param pageCache the core's settings (log and page cache)
 * @param mailboxCapacity bound of every engine actor's mailbox
 * @param sendTimeout how long an outside thread waits for room in a full mailbox
 * @param backoffMin first restart backoff of a failed actor
 * @param backoffMax longest restart backoff
 * @param backoffRandomFactor jitter added to backoffs
 * @param snapshotInterval longest time between snapshots (0: only by operation count)
 * @param snapshotAfterOps changes logged between snapshots
 * @param cleaning when the SegmentCleaner drains segments ({@code cleanup-threshold}) and how much space it
 *     lets the store take ({@code max-space-amplification})
 */
public record EngineSettings(PageCacheConfig pageCache, int mailboxCapacity, Duration sendTimeout,
        Duration backoffMin, Duration backoffMax, double backoffRandomFactor, Duration snapshotInterval,
        long snapshotAfterOps, SegmentCleaning.Policy cleaning) {

    /** The path of the dispatcher the actors run on. */
    public static final String IO_DISPATCHER = "toboggan.io-dispatcher";

    public EngineSettings {
        Objects.requireNonNull(pageCache, "pageCache");
        Objects.requireNonNull(cleaning, "cleaning");
        if (mailboxCapacity < 1) {
            throw new IllegalArgumentException("toboggan.mailbox-capacity must be at least 1, was " + mailboxCapacity);
        }
        if (sendTimeout.isNegative() || sendTimeout.isZero()) {
            throw new IllegalArgumentException("toboggan.send-timeout must be positive, was " + sendTimeout);
        }
        if (backoffMin.isNegative() || backoffMin.isZero() || backoffMax.compareTo(backoffMin) < 0) {
            throw new IllegalArgumentException("toboggan.restart-backoff.min must be positive and at most "
                    + "toboggan.restart-backoff.max, were " + backoffMin + " and " + backoffMax);
        }
        if (backoffRandomFactor < 0 || backoffRandomFactor > 1) {
            throw new IllegalArgumentException("toboggan.restart-backoff.random-factor must be from 0 to 1, was "
                    + backoffRandomFactor);
        }
        if (snapshotInterval.isNegative()) {
            throw new IllegalArgumentException("toboggan.snapshot-interval must be 0 (off) or positive, was "
                    + snapshotInterval);
        }
        if (snapshotAfterOps < SnapshotWriter.SIGNAL_EVERY) {
            throw new IllegalArgumentException("toboggan.snapshot-after-ops must be at least "
                    + SnapshotWriter.SIGNAL_EVERY + ", was " + snapshotAfterOps + "; 1000000 is a good default");
        }
    }

    /** The settings of {@code config}'s {@code toboggan} section over Toboggan's defaults. */
    public static EngineSettings fromConfig(Config config) {
        Config c = config.withFallback(ConfigFactory.defaultReference()).getConfig("toboggan");
        try {
            String directory = c.getString("directory");
            if (directory.isBlank()) {
                throw new IllegalArgumentException("toboggan.directory is not set: name the store's directory");
            }
            // Absolute and normalized: two configurations that name one directory differently are one store.
            LogConfig log = LogConfig.defaults(Path.of(directory).toAbsolutePath().normalize())
                    .withSegmentSize(intBytes(c, "segment-size"))
                    .withIoBuffers(c.getInt("io-buffers"))
                    .withFlushEvery(c.getDuration("flush-every"))
                    .withFsync(durability(c))
                    .withCompression(c.getBoolean("compression"))
                    .withCompressionLevel(c.getInt("compression-level"))
                    .withFilePermissions(permissions(c))
                    .withMaxFlushRetries(c.getInt("max-flush-retries"));
            PageCacheConfig pageCache = PageCacheConfig.of(log)
                    .withConsolidationThreshold(c.getInt("consolidation-threshold"))
                    .withIdgenPersistInterval(c.getLong("idgen-persist-interval"))
                    .withPageInParallelism(c.getInt("page-in-parallelism"))
                    .withCacheCapacity(c.getBytes("cache-capacity"))
                    .withCacheWaitTimeout(c.getDuration("send-timeout"));
            return new EngineSettings(pageCache, c.getInt("mailbox-capacity"), c.getDuration("send-timeout"),
                    c.getDuration("restart-backoff.min"), c.getDuration("restart-backoff.max"),
                    c.getDouble("restart-backoff.random-factor"), c.getDuration("snapshot-interval"),
                    c.getLong("snapshot-after-ops"),
                    new SegmentCleaning.Policy(share(c, "cleanup-threshold"), c.getDouble("max-space-amplification"),
                            c.getDouble("load-space-amplification")));
        } catch (ConfigException e) {
            throw new IllegalArgumentException("invalid Toboggan configuration: " + e.getMessage(), e);
        }
    }

    /** The settings of {@code config} for a store in {@code directory} (overriding toboggan.directory). */
    public static EngineSettings fromConfig(Config config, Path directory) {
        return fromConfig(ConfigFactory.parseMap(java.util.Map.of("toboggan.directory", directory.toString()))
                .withFallback(config));
    }

    /** Toboggan's defaults for a store in {@code directory}. */
    public static EngineSettings defaults(Path directory) {
        return fromConfig(ConfigFactory.empty(), directory);
    }

    public Path directory() {
        return pageCache.log().directory();
    }

    public Duration flushEvery() {
        return pageCache.log().flushEvery();
    }

    /** A share written as a percentage ({@code 50%}) or a fraction ({@code 0.5}). */
    private static double share(Config c, String key) {
        String text = c.getString(key).trim();
        try {
            return text.endsWith("%") ? Double.parseDouble(text.substring(0, text.length() - 1).trim()) / 100
                    : Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("toboggan." + key + " must be a percentage like 50% or a fraction like "
                    + "0.5, was '" + text + "'");
        }
    }

    private static int intBytes(Config c, String key) {
        long bytes = c.getBytes(key);
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("toboggan." + key + " is too large: " + bytes + " bytes");
        }
        return (int) bytes;
    }

    private static boolean durability(Config c) {
        String mode = c.getString("durability");
        return switch (mode) {
            case "fsync" -> true;
            case "os" -> false;
            default -> throw new IllegalArgumentException("toboggan.durability must be fsync or os, was '" + mode + "'");
        };
    }

    private static java.util.Set<java.nio.file.attribute.PosixFilePermission> permissions(Config c) {
        String text = c.getString("file-permissions");
        try {
            return PosixFilePermissions.fromString(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("toboggan.file-permissions must look like rw-------, was '" + text + "'");
        }
    }
}
