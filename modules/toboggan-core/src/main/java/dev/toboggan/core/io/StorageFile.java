package dev.toboggan.core.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * One open file of a {@link StorageIo}: positional reads and writes, safe to call concurrently from
 * several threads (they never touch a shared file position).
 */
public interface StorageFile extends Closeable {

    Path path();

    /**
     * Reads from {@code position} until {@code dst} is full or the end of the file is reached.
     *
     * @return the number of bytes read; less than {@code dst.remaining()} only at the end of the file, and
     *     {@code 0} (never {@code -1}) at or past it
     */
    int read(ByteBuffer dst, long position) throws IOException;

    /**
     * Writes all of {@code src} at {@code position}, growing the file if needed; a gap between the old end
     * and {@code position} reads as zeros. If it throws, how much of {@code src} reached the file is unknown.
     */
    void write(ByteBuffer src, long position) throws IOException;

    /** Makes every byte written so far durable, and the file's length too (fdatasync). */
    void force() throws IOException;

    /** Cuts the file to {@code size} bytes (a no-op if it is not longer). Durable only after {@link #force()}. */
    void truncate(long size) throws IOException;

    long size() throws IOException;

    /**
     * Copies {@code [position, position + length)} of {@code in} to the same offsets of {@code out}, or as much
     * of it as {@code in} holds (a file may end inside the range: the rest reads as never written), through
     * {@code chunk}.
     *
     * @return the bytes copied
     */
    static long copyRange(StorageFile in, StorageFile out, long position, long length, ByteBuffer chunk)
            throws IOException {
        long done = 0;
        while (done < length) {
            chunk.clear().limit((int) Math.min(chunk.capacity(), length - done));
            int n = in.read(chunk, position + done);
            if (n <= 0) {
                break;
            }
            out.write(chunk.flip(), position + done);
            done += n;
        }
        return done;
    }

    /**
     * The bytes {@code [position, position + length)} as a read-only buffer, for a reader that visits many
     * small records of a file that no longer changes (a snapshot): memory-mapped where the storage can, so
     * no byte is copied; this default reads them into a heap buffer through {@link #read}. The buffer stays
     * valid after this file is closed, and even after it is deleted.
     *
     * @throws java.io.EOFException if the file ends before {@code position + length}
     */
    default ByteBuffer readOnlyView(long position, int length) throws IOException {
        ByteBuffer bytes = ByteBuffer.allocate(length);
        if (read(bytes, position) != length) {
            throw new java.io.EOFException(path() + " ends before byte " + (position + length));
        }
        return bytes.flip().asReadOnlyBuffer();
    }
}
