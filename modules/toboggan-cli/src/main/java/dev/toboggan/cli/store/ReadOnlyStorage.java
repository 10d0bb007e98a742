package dev.toboggan.cli.store;

import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A {@link StorageIo} that reads a real store directory and keeps every change in memory, so the CLI can
 * open a store with the engine's own recovery (which zeroes a torn tail, writes the id generator's mark,
 * takes a snapshot at close) without changing a byte on disk.
 *
 * <p>Files are read through read-only channels; a write goes to a copy-on-write overlay of 64 KiB chunks;
 * creations, renames and deletions are recorded in this object only; forces and directory syncs do
 * nothing. The one thing it does on disk is {@link #lock}: it takes the store's real lock (as an open
 * store would, creating the lock file if it is missing), so nothing writes the store while it is read,
 * and a store open elsewhere is reported as locked.
 *
 * <p>Thread-safe: every file's state is guarded by that file's monitor, the directory's by this one.
 */
public final class ReadOnlyStorage implements StorageIo, Closeable {
    private static final int CHUNK = 64 * 1024;

    private final FileChannelStorage real = new FileChannelStorage();
    /** Files opened or created through this object, by path (after renames). */
    private final Map<Path, OverlayFile> files = new HashMap<>();
    /** Real files deleted or renamed away through this object. */
    private final Set<Path> deleted = new HashSet<>();
    private final Set<Path> createdDirectories = new HashSet<>();
    private final List<FileChannel> channels = new ArrayList<>();

    @Override
    public synchronized StorageFile open(Path path, OpenMode mode) throws IOException {
        OverlayFile file = files.get(path);
        if (file == null) {
            boolean onDisk = !deleted.contains(path) && Files.isRegularFile(path);
            if (onDisk) {
                if (mode == OpenMode.CREATE_NEW) {
                    throw new FileAlreadyExistsException(path.toString());
                }
                FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
                channels.add(channel);
                file = new OverlayFile(path, channel, channel.size());
            } else {
                if (mode == OpenMode.EXISTING || mode == OpenMode.READ_ONLY) {
                    throw new NoSuchFileException(path.toString());
                }
                file = new OverlayFile(path, null, 0);
            }
            files.put(path, file);
            deleted.remove(path);
        } else if (mode == OpenMode.CREATE_NEW) {
            throw new FileAlreadyExistsException(path.toString());
        }
        return file.handle(path);
    }

    @Override
    public synchronized boolean exists(Path path) {
        return files.containsKey(path) || createdDirectories.contains(path)
                || (!deleted.contains(path) && Files.exists(path));
    }

    @Override
    public synchronized void createDirectories(Path dir) {
        if (!Files.isDirectory(dir)) {
            createdDirectories.add(dir);
        }
    }

    @Override
    public synchronized List<Path> list(Path dir) throws IOException {
        Set<Path> result = new LinkedHashSet<>();
        if (Files.isDirectory(dir)) {
            for (Path p : real.list(dir)) {
                if (!deleted.contains(p)) {
                    result.add(p);
                }
            }
        }
        for (Path p : files.keySet()) {
            if (dir.equals(p.getParent())) {
                result.add(p);
            }
        }
        return new ArrayList<>(result);
    }

    @Override
    public synchronized void rename(Path from, Path to) throws IOException {
        OverlayFile file = files.remove(from);
        if (file == null) {
            if (deleted.contains(from) || !Files.isRegularFile(from)) {
                throw new NoSuchFileException(from.toString());
            }
            FileChannel channel = FileChannel.open(from, StandardOpenOption.READ);
            channels.add(channel);
            file = new OverlayFile(from, channel, channel.size());
        }
        deleted.add(from);
        deleted.remove(to);
        files.put(to, file);
    }

    @Override
    public synchronized boolean deleteIfExists(Path path) {
        boolean existed = exists(path);
        files.remove(path);
        deleted.add(path);
        return existed;
    }

    @Override
    public void syncDirectory(Path dir) {
        // Nothing is written to disk, so there is nothing to make durable.
    }

    @Override
    public Closeable lock(Path lockFile) throws IOException {
        return real.lock(lockFile);
    }

    /** Closes the channels to the real files. */
    @Override
    public synchronized void close() throws IOException {
        for (FileChannel c : channels) {
            c.close();
        }
        channels.clear();
    }

    /**
     * One file's contents: the real file's bytes below {@link #baseLength}, overlaid by the chunks written
     * here, {@link #size} bytes long.
     */
    private static final class OverlayFile {
        private final Path origin;
        private final FileChannel base;
        /** Bytes of the real file still visible (a truncation hides the rest, even if the file grows again). */
        private long baseLength;
        private long size;
        private final TreeMap<Long, byte[]> chunks = new TreeMap<>();

        OverlayFile(Path origin, FileChannel base, long length) {
            this.origin = origin;
            this.base = base;
            this.baseLength = base == null ? 0 : length;
            this.size = length;
        }

        StorageFile handle(Path path) {
            return new StorageFile() {
                @Override
                public Path path() {
                    return path;
                }

                @Override
                public int read(ByteBuffer dst, long position) throws IOException {
                    return OverlayFile.this.read(dst, position);
                }

                @Override
                public void write(ByteBuffer src, long position) throws IOException {
                    OverlayFile.this.write(src, position);
                }

                @Override
                public void force() {
                    // In memory only: nothing to force.
                }

                @Override
                public void truncate(long newSize) {
                    OverlayFile.this.truncate(newSize);
                }

                @Override
                public long size() {
                    return OverlayFile.this.size();
                }

                @Override
                public void close() {
                    // The channel is shared by every handle; ReadOnlyStorage.close() closes it.
                }
            };
        }

        synchronized long size() {
            return size;
        }

        synchronized int read(ByteBuffer dst, long position) throws IOException {
            if (position >= size) {
                return 0;
            }
            int n = (int) Math.min(dst.remaining(), size - position);
            long p = position;
            int left = n;
            while (left > 0) {
                long chunkStart = p - p % CHUNK;
                int off = (int) (p - chunkStart);
                int len = Math.min(CHUNK - off, left);
                byte[] chunk = chunks.get(chunkStart);
                if (chunk != null) {
                    dst.put(chunk, off, len);
                } else {
                    readBase(dst, p, len);
                }
                p += len;
                left -= len;
            }
            return n;
        }

        /** Puts {@code len} bytes of the real file at {@code position} into {@code dst}: zeros past {@link #baseLength}. */
        private void readBase(ByteBuffer dst, long position, int len) throws IOException {
            int fromBase = (int) Math.max(0, Math.min(len, baseLength - position));
            if (fromBase > 0) {
                ByteBuffer slice = dst.slice(dst.position(), fromBase);
                long at = position;
                while (slice.hasRemaining()) {
                    int r = base.read(slice, at);
                    if (r < 0) {
                        throw new IOException(origin + " ended at " + at + " while being read");
                    }
                    at += r;
                }
                dst.position(dst.position() + fromBase);
            }
            for (int i = fromBase; i < len; i++) {
                dst.put((byte) 0);
            }
        }

        synchronized void write(ByteBuffer src, long position) throws IOException {
            long p = position;
            while (src.hasRemaining()) {
                long chunkStart = p - p % CHUNK;
                int off = (int) (p - chunkStart);
                int len = Math.min(CHUNK - off, src.remaining());
                byte[] chunk = chunks.get(chunkStart);
                if (chunk == null) {
                    chunk = new byte[CHUNK];
                    ByteBuffer into = ByteBuffer.wrap(chunk);
                    readBase(into, chunkStart, (int) Math.max(0, Math.min(CHUNK, size - chunkStart)));
                    chunks.put(chunkStart, chunk);
                }
                src.get(chunk, off, len);
                p += len;
            }
            size = Math.max(size, p);
        }

        synchronized void truncate(long newSize) {
            if (newSize >= size) {
                return;
            }
            size = newSize;
            baseLength = Math.min(baseLength, newSize);
            chunks.tailMap(newSize - newSize % CHUNK, false).clear();
            byte[] last = chunks.get(newSize - newSize % CHUNK);
            if (last != null) {
                java.util.Arrays.fill(last, (int) (newSize % CHUNK), CHUNK, (byte) 0);
            }
        }
    }
}
