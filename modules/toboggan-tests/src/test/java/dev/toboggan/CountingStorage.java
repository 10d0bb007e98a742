package dev.toboggan;

import dev.toboggan.core.io.ForwardingStorage;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link StorageIo} that counts the calls of each kind {@link SimulatedStorage#failAfter} can fail, so a
 * fault test can make the 1st, 2nd, ... Nth of them fail over every call a scenario makes.
 */
final class CountingStorage extends ForwardingStorage {
    private final Map<SimulatedStorage.Op, AtomicLong> calls = new EnumMap<>(SimulatedStorage.Op.class);

    CountingStorage(StorageIo io) {
        super(io);
        for (SimulatedStorage.Op op : SimulatedStorage.Op.values()) {
            calls.put(op, new AtomicLong());
        }
    }

    /** Calls of kind {@code op} so far. */
    long calls(SimulatedStorage.Op op) {
        return calls.get(op).get();
    }

    private void count(SimulatedStorage.Op op) {
        calls.get(op).incrementAndGet();
    }

    @Override
    public StorageFile open(Path path, OpenMode mode) throws IOException {
        count(SimulatedStorage.Op.OPEN);
        return super.open(path, mode);
    }

    @Override
    protected StorageFile file(StorageFile file) {
        return new ForwardingFile(file) {
            @Override
            public int read(ByteBuffer dst, long position) throws IOException {
                count(SimulatedStorage.Op.READ);
                return super.read(dst, position);
            }

            @Override
            public void write(ByteBuffer src, long position) throws IOException {
                count(SimulatedStorage.Op.WRITE);
                super.write(src, position);
            }

            @Override
            public void force() throws IOException {
                count(SimulatedStorage.Op.FORCE);
                super.force();
            }

            @Override
            public void truncate(long size) throws IOException {
                count(SimulatedStorage.Op.TRUNCATE);
                super.truncate(size);
            }
        };
    }

    @Override
    public List<Path> list(Path dir) throws IOException {
        count(SimulatedStorage.Op.LIST);
        return super.list(dir);
    }

    @Override
    public void rename(Path from, Path to) throws IOException {
        count(SimulatedStorage.Op.RENAME);
        super.rename(from, to);
    }

    @Override
    public boolean deleteIfExists(Path path) throws IOException {
        count(SimulatedStorage.Op.DELETE);
        return super.deleteIfExists(path);
    }

    @Override
    public void syncDirectory(Path dir) throws IOException {
        count(SimulatedStorage.Op.SYNC_DIR);
        super.syncDirectory(dir);
    }

    @Override
    public Closeable lock(Path lockFile) throws IOException {
        count(SimulatedStorage.Op.OPEN);
        return super.lock(lockFile);
    }
}
