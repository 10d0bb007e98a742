package dev.toboggan.core.pagecache;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.StorageException;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import dev.toboggan.core.log.LogFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The {@code id-mark} file: an id generator's high-water mark kept outside the log, for the one case where
 * the log cannot keep it in time ({@link IdGenerator}, "Inside a batch"). A mark in the log survives a crash
 * only once it is <em>stable</em>, and a mark written after the manifest of a batch still open is stable only
 * once that batch is sealed; a thread that needs such a mark while it holds a batch open cannot wait for
 * that. It writes the mark here instead, durable at once and dropped by no recovery. An open restarts ids
 * past the larger of this mark and the log's.
 *
 * <pre>
 *  0        4        8                    16                   24
 *  +--------+--------+--------------------+--------------------+
 *  | crc32c | magic  | mark               | interval           |
 *  +--------+--------+--------------------+--------------------+
 *  crc32c = CRC32C(bytes 4..24) ^ 0xFFFFFFFF; magic = "TBGI"; little-endian
 * </pre>
 *
 * Written whole ({@link StorageIo#replaceWhole}: a temporary file, forced, renamed, the directory forced),
 * so a crash leaves the old mark or the new one. Most stores never write it (a batch must take ids across
 * a mark that is not stable yet: at the default interval, a million ids inside one batch, or a batch
 * overlapping another thread's long one). A file that does not check out is corruption: the ids it speaks
 * for cannot be recovered from anywhere else.
 */
public final class IdMarkFile {
    public static final String FILE_NAME = "id-mark";
    public static final int LENGTH = 24;
    public static final int MAGIC = 'T' | 'B' << 8 | 'G' << 16 | 'I' << 24;

    private final StorageIo io;
    private final Path directory;
    /** The highest mark written by this process (or read at open); guarded by this. */
    private long written = -1;

    IdMarkFile(StorageIo io, Path directory) {
        this.io = io;
        this.directory = directory;
    }

    /**
     * The recorded mark, or {@code null} if there is none. Deletes a temporary file a crash left behind.
     *
     * @throws CorruptionException if the file is there but damaged
     * @throws StorageException if it cannot be read
     */
    synchronized IdGenerator.Mark read() {
        try {
            return readFile();
        } catch (IOException e) {
            throw new StorageException("reading the id generator's mark", directory.resolve(FILE_NAME), e);
        }
    }

    private IdGenerator.Mark readFile() throws IOException {
        io.deleteIfExists(directory.resolve(FILE_NAME + StorageIo.TEMP_SUFFIX));
        Path path = directory.resolve(FILE_NAME);
        if (!io.exists(path)) {
            return null;
        }
        ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(LENGTH));
        try (StorageFile f = io.open(path, StorageIo.OpenMode.READ_ONLY)) {
            if (f.size() != LENGTH || f.read(buf, 0) != LENGTH) {
                throw damaged(path, 0, "it is " + f.size() + " bytes long, not " + LENGTH);
            }
        }
        if (buf.getInt(4) != MAGIC) {
            throw damaged(path, 4, "its magic number is wrong");
        }
        if (buf.getInt(0) != LogFormat.crc(buf, 4, LENGTH)) {
            throw damaged(path, 0, "its checksum does not match");
        }
        long mark = buf.getLong(8);
        long interval = buf.getLong(16);
        if (mark < 0 || interval < 1) {
            throw damaged(path, 8, "it holds mark " + mark + " and interval " + interval);
        }
        written = mark;
        return new IdGenerator.Mark(mark, interval);
    }

    private static CorruptionException damaged(Path path, long offset, String why) {
        return new CorruptionException(path, offset, "the id generator's mark file is damaged (" + why + "); ids "
                + "handed out inside atomic batches before the last crash could be handed out again. Restore the "
                + "store from a backup, or delete the file to open it, accepting that ids taken inside batches "
                + "the last crash lost may be handed out again");
    }

    /**
     * Records {@code mark} durably unless a mark at least as high is recorded already.
     *
     * @throws StorageException if writing it failed: the mark on disk is the one before
     */
    synchronized void record(IdGenerator.Mark mark) {
        if (mark.mark() <= written) {
            return;
        }
        ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(LENGTH));
        buf.putInt(4, MAGIC);
        buf.putLong(8, mark.mark());
        buf.putLong(16, mark.interval());
        buf.putInt(0, LogFormat.crc(buf, 4, LENGTH));
        try {
            io.replaceWhole(directory, FILE_NAME, buf, "pagecache.idgen.file");
        } catch (IOException e) {
            throw new StorageException("recording the id generator's mark", directory.resolve(FILE_NAME), e);
        }
        written = mark.mark();
    }
}
