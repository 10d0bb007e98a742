package dev.toboggan.core.log;

import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The {@code stable-tip} file: the log's stable tip at its last clean close, or when the segment cleaner
 * last freed space ({@link Log#promiseDurableTip}; never the durable tip past an unsealed batch, which
 * recovery may drop), a promise like the one segment headers make (every
 * byte of the log below it was on disk; a segment or blob missing below it was cleaned on purpose). Recovery uses the larger of the two,
 * so damage to data that a clean close made durable is reported as corruption, never taken for a torn
 * tail and cut off.
 *
 * <pre>
 *  0        4        8                    16
 *  +--------+--------+--------------------+
 *  | crc32c | magic  | stable tip ^ MASK  |
 *  +--------+--------+--------------------+
 *  crc32c = CRC32C(bytes 4..16) ^ 0xFFFFFFFF; magic = "TBGT"; MASK = LogFormat.LSN_MASK
 * </pre>
 *
 * Written as {@code stable-tip.tmp}, forced, renamed, directory forced: a crash leaves the old promise or
 * the new one, both true. A missing or damaged file promises nothing (the headers still do).
 */
public final class StableTipFile {
    static final String FILE_NAME = "stable-tip";
    static final int LENGTH = 16;
    public static final int MAGIC = 'T' | 'B' << 8 | 'G' << 16 | 'T' << 24;
    private static final String TEMP_NAME = FILE_NAME + StorageIo.TEMP_SUFFIX;

    private StableTipFile() {}

    /** The promised tip, or 0 if there is no valid file. */
    static long read(StorageIo io, Path directory) throws IOException {
        Path path = directory.resolve(FILE_NAME);
        io.deleteIfExists(directory.resolve(TEMP_NAME));
        if (!io.exists(path)) {
            return 0;
        }
        ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(LENGTH));
        try (StorageFile f = io.open(path, StorageIo.OpenMode.READ_ONLY)) {
            if (f.read(buf, 0) != LENGTH || f.size() != LENGTH) {
                return 0;
            }
        }
        if (buf.getInt(4) != MAGIC || buf.getInt(0) != LogFormat.crc(buf, 4, LENGTH)) {
            return 0;
        }
        long tip = buf.getLong(8) ^ LogFormat.LSN_MASK;
        return tip < 0 ? 0 : tip;
    }

    static void write(StorageIo io, Path directory, long tip) throws IOException {
        ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(LENGTH));
        buf.putInt(4, MAGIC);
        buf.putLong(8, tip ^ LogFormat.LSN_MASK);
        buf.putInt(0, LogFormat.crc(buf, 4, LENGTH));
        io.replaceWhole(directory, FILE_NAME, buf, "stable-tip.write");
    }
}
