package dev.toboggan.core.log;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.IncompatibleStoreException;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The store's {@code format} file: the settings fixed when the store was created. Text, so a person
 * can read it:
 *
 * <pre>
 * # Toboggan store: settings fixed at creation. Do not edit.
 * format-version=1
 * segment-size=8388608
 * compression=none          (or zstd)
 * checksum=1a2b3c4d         (CRC32C of every byte before this line, hex)
 * </pre>
 *
 * Written as {@code format.tmp}, forced, renamed, and the directory forced, so a crash leaves either no
 * file (and no log: the log is created after it) or a whole one.
 */
final class StoreDescriptor {
    static final int FORMAT_VERSION = 1;
    static final String FILE_NAME = "format";
    private static final String TEMP_NAME = FILE_NAME + StorageIo.TEMP_SUFFIX;

    private StoreDescriptor() {}

    static void openOrCreate(StorageIo io, LogConfig config, boolean freshLog) throws IOException {
        Path path = config.directory().resolve(FILE_NAME);
        io.deleteIfExists(config.directory().resolve(TEMP_NAME));
        if (!io.exists(path)) {
            if (!freshLog) {
                throw new CorruptionException(path, 0, "the store has a log but no format file");
            }
            create(io, config, path);
            return;
        }
        Map<String, String> settings = read(io, path);
        String version = settings.get("format-version");
        if (!String.valueOf(FORMAT_VERSION).equals(version)) {
            throw new IncompatibleStoreException("the store at " + config.directory() + " has format version "
                    + version + "; this Toboggan reads version " + FORMAT_VERSION
                    + ". Open it with the Toboggan version that wrote it");
        }
        int segmentSize = Integer.parseInt(settings.getOrDefault("segment-size", "0"));
        if (segmentSize != config.segmentSize()) {
            throw new IncompatibleStoreException("the store at " + config.directory() + " was created with "
                    + "toboggan.segment-size = " + segmentSize + " bytes, but is being opened with "
                    + config.segmentSize() + ". The segment size is fixed at creation: open it with "
                    + segmentSize);
        }
        boolean compression = "zstd".equals(settings.get("compression"));
        if (compression != config.compression()) {
            throw new IncompatibleStoreException("the store at " + config.directory() + " was created with "
                    + "toboggan.compression = " + compression + ", but is being opened with " + config.compression()
                    + ". Compression is fixed at creation: open it with " + compression);
        }
    }

    private static void create(StorageIo io, LogConfig config, Path path) throws IOException {
        String body = "# Toboggan store: settings fixed at creation. Do not edit.\n"
                + "format-version=" + FORMAT_VERSION + "\n"
                + "segment-size=" + config.segmentSize() + "\n"
                + "compression=" + (config.compression() ? "zstd" : "none") + "\n";
        String text = body + "checksum=" + checksum(body) + "\n";
        io.replaceWhole(config.directory(), FILE_NAME,
                ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)), "descriptor.write");
    }

    private static Map<String, String> read(StorageIo io, Path path) throws IOException {
        byte[] bytes;
        try (StorageFile f = io.open(path, StorageIo.OpenMode.READ_ONLY)) {
            long size = f.size();
            if (size > 64 * 1024) {
                throw new CorruptionException(path, 0, "format file of impossible length " + size);
            }
            ByteBuffer buf = ByteBuffer.allocate((int) size);
            f.read(buf, 0);
            bytes = buf.array();
        }
        String text = new String(bytes, StandardCharsets.UTF_8);
        int at = text.lastIndexOf("checksum=");
        if (at < 0 || !text.substring(at + "checksum=".length()).strip().equals(checksum(text.substring(0, at)))) {
            throw new CorruptionException(path, Math.max(at, 0), "format file checksum does not match");
        }
        Map<String, String> settings = new LinkedHashMap<>();
        for (String line : text.substring(0, at).split("\n")) {
            int eq = line.indexOf('=');
            if (!line.startsWith("#") && eq > 0) {
                settings.put(line.substring(0, eq).strip(), line.substring(eq + 1).strip());
            }
        }
        return settings;
    }

    private static String checksum(String text) {
        CRC32C crc = new CRC32C();
        crc.update(text.getBytes(StandardCharsets.UTF_8));
        return String.format("%08x", crc.getValue());
    }
}
