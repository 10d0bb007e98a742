package dev.toboggan.core.log;

import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * The log's settings, validated once. Keys in error messages are the {@code toboggan { ... }}
 * configuration keys users write.
 *
 * @param directory the store directory
 * @param segmentSize bytes per segment: a power of two from 1 KiB to 1 GiB. Fixed when the store is
 *     created.
 * @param ioBuffers how many segment-sized direct buffers writers may fill before waiting for the
 *     flusher (at least 2)
 * @param flushEvery how often buffered writes are made durable even if nobody asks; {@link Duration#ZERO}
 *     turns the periodic flush off
 * @param compression whether message bodies and blobs are zstd-compressed. Fixed when the store is
 *     created.
 * @param compressionLevel the zstd level, 1..19
 * @param filePermissions the POSIX permissions of files the store creates
 * @param maxFlushRetries consecutive failed flush attempts (write + fsync) tolerated before the log
 *     fails for good; each retry rewrites the buffers from memory (never trusts a retried fsync alone)
 * @param fsync whether a flush forces the bytes to the device. {@code false} ("durability = os") makes a
 *     flush mean "written to the operating system": it survives the process crashing, not the machine
 *     losing power, and costs no fsync.
 */
public record LogConfig(
        Path directory,
        int segmentSize,
        int ioBuffers,
        Duration flushEvery,
        boolean compression,
        int compressionLevel,
        Set<PosixFilePermission> filePermissions,
        int maxFlushRetries,
        boolean fsync) {

    public static final int DEFAULT_SEGMENT_SIZE = 8 << 20;
    public static final int MIN_SEGMENT_SIZE = 1 << 10;
    public static final int MAX_SEGMENT_SIZE = 1 << 30;

    public LogConfig {
        Objects.requireNonNull(directory, "directory");
        Objects.requireNonNull(flushEvery, "flush-every");
        filePermissions = Set.copyOf(Objects.requireNonNull(filePermissions, "file-permissions"));
        if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE || Integer.bitCount(segmentSize) != 1) {
            throw new IllegalArgumentException("toboggan.segment-size must be a power of two from 1 KiB to 1 GiB, was "
                    + segmentSize + " bytes; 8 MiB is a good default");
        }
        if (ioBuffers < 2 || ioBuffers > 1024) {
            throw new IllegalArgumentException("toboggan.io-buffers must be from 2 to 1024, was " + ioBuffers);
        }
        if (flushEvery.isNegative()) {
            throw new IllegalArgumentException("toboggan.flush-every must be positive, or 0 to turn the periodic "
                    + "flush off, was " + flushEvery);
        }
        if (compressionLevel < 1 || compressionLevel > 19) {
            throw new IllegalArgumentException("toboggan.compression-level must be from 1 to 19, was " + compressionLevel);
        }
        if (maxFlushRetries < 0) {
            throw new IllegalArgumentException("toboggan.max-flush-retries must be 0 or more, was " + maxFlushRetries);
        }
    }

    /** Defaults for a store in {@code directory}. */
    public static LogConfig defaults(Path directory) {
        return new LogConfig(directory, DEFAULT_SEGMENT_SIZE, 4, Duration.ofMillis(500), false, 3,
                PosixFilePermissions.fromString("rw-------"), 3, true);
    }

    public LogConfig withSegmentSize(int bytes) {
        return new LogConfig(directory, bytes, ioBuffers, flushEvery, compression, compressionLevel, filePermissions,
                maxFlushRetries, fsync);
    }

    public LogConfig withIoBuffers(int count) {
        return new LogConfig(directory, segmentSize, count, flushEvery, compression, compressionLevel, filePermissions,
                maxFlushRetries, fsync);
    }

    public LogConfig withFlushEvery(Duration every) {
        return new LogConfig(directory, segmentSize, ioBuffers, every, compression, compressionLevel, filePermissions,
                maxFlushRetries, fsync);
    }

    public LogConfig withCompression(boolean on) {
        return new LogConfig(directory, segmentSize, ioBuffers, flushEvery, on, compressionLevel, filePermissions,
                maxFlushRetries, fsync);
    }

    public LogConfig withMaxFlushRetries(int retries) {
        return new LogConfig(directory, segmentSize, ioBuffers, flushEvery, compression, compressionLevel,
                filePermissions, retries, fsync);
    }

    public LogConfig withFsync(boolean force) {
        return new LogConfig(directory, segmentSize, ioBuffers, flushEvery, compression, compressionLevel,
                filePermissions, maxFlushRetries, force);
    }

    public LogConfig withFilePermissions(Set<PosixFilePermission> permissions) {
        return new LogConfig(directory, segmentSize, ioBuffers, flushEvery, compression, compressionLevel,
                permissions, maxFlushRetries, fsync);
    }

    public LogConfig withCompressionLevel(int level) {
        return new LogConfig(directory, segmentSize, ioBuffers, flushEvery, compression, level, filePermissions,
                maxFlushRetries, fsync);
    }

    /** The log file of this store. */
    public Path logFile() {
        return directory.resolve("log");
    }

    /** The directory of blob files. */
    public Path blobDirectory() {
        return directory.resolve("blobs");
    }
}
