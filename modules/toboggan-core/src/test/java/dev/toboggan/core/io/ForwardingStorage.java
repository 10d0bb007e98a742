package dev.toboggan.core.io;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/**
 * A {@link StorageIo} that passes every call on to another, for tests that watch or slow some calls: they
 * override those calls, and {@link #file} to wrap the files opened in a {@link ForwardingFile} of their own.
 */
public class ForwardingStorage implements StorageIo {
    protected final StorageIo io;

    public ForwardingStorage(StorageIo io) {
        this.io = io;
    }

    @Override
    public StorageFile open(Path path, OpenMode mode) throws IOException {
        return file(io.open(path, mode));
    }

    /** What {@link #open} returns for a file the underlying storage opened: the file itself unless overridden. */
    protected StorageFile file(StorageFile file) {
        return file;
    }

    @Override
    public boolean exists(Path path) {
        return io.exists(path);
    }

    @Override
    public void createDirectories(Path dir) throws IOException {
        io.createDirectories(dir);
    }

    @Override
    public List<Path> list(Path dir) throws IOException {
        return io.list(dir);
    }

    @Override
    public void rename(Path from, Path to) throws IOException {
        io.rename(from, to);
    }

    @Override
    public boolean deleteIfExists(Path path) throws IOException {
        return io.deleteIfExists(path);
    }

    @Override
    public void syncDirectory(Path dir) throws IOException {
        io.syncDirectory(dir);
    }

    @Override
    public Closeable lock(Path lockFile) throws IOException {
        return io.lock(lockFile);
    }

    /**
     * A {@link StorageFile} that passes every call on to another. {@link StorageFile#readOnlyView} is not
     * passed on: its default reads through {@link #read}, so a test that watches reads sees those too.
     */
    public static class ForwardingFile implements StorageFile {
        protected final StorageFile file;

        public ForwardingFile(StorageFile file) {
            this.file = file;
        }

        @Override
        public Path path() {
            return file.path();
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            return file.read(dst, position);
        }

        @Override
        public void write(ByteBuffer src, long position) throws IOException {
            file.write(src, position);
        }

        @Override
        public void force() throws IOException {
            file.force();
        }

        @Override
        public void truncate(long size) throws IOException {
            file.truncate(size);
        }

        @Override
        public long size() throws IOException {
            return file.size();
        }

        @Override
        public void close() throws IOException {
            file.close();
        }
    }
}
