package dev.toboggan.core.io;

import dev.toboggan.core.LazyLogger;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * The production {@link StorageIo}: java.nio {@link FileChannel}s on the default file system.
 *
 * <p>Implementation notes.
 * <ul>
 *   <li>Durability: {@link StorageFile#force()} is {@code fdatasync} ({@code force(false)}) when the file's
 *       length has not changed since the last force, and {@code fsync} ({@code force(true)}) when it has,
 *       because a length change is metadata that some systems flush only with a full sync (Linux's
 *       {@code fdatasync} does flush it; others need not). The first force of each handle is a full one.
 *       A failed force must be treated as fatal by callers: after a failed {@code fsync} Linux may have
 *       dropped the dirty pages, so retrying can report success for data that is not on disk.
 *   <li>A writable handle knows its file's length without asking the file system: it opened the file, and
 *       every write and cut since went through it (one writer per file: the store's lock). Why it must not
 *       ask: on Linux 6.13 and later (multigrain timestamps) a {@code stat} of the file makes the next
 *       write stamp a fine-grained change time, which dirties the inode, and ext4's {@code fdatasync} then
 *       commits the journal for it. A {@code stat} per flush (to choose between the two syncs) made every
 *       durable write 3 disk writes instead of 2 and cost a third of its rate (docs/benchmarks.md, "One
 *       durable writer"). A read-only handle still asks: another process may be writing the file.
 *   <li>{@link #syncDirectory} is {@code fsync} on the directory opened read-only. That works on Linux,
 *       where it is required; elsewhere (Windows cannot open a directory) failures are ignored, since
 *       those systems make renames durable by other means or not at all.
 *   <li>Locking: POSIX record locks belong to the process, and closing <em>any</em> descriptor of a file
 *       drops all of them. So a second open in this JVM must never open and close the lock file while
 *       the first holds it; {@link #LOCKED_IN_THIS_JVM} refuses it before any channel is opened.
 *       {@link FileChannel#tryLock()} then guards against other processes.
 *   <li>Permissions: created files get {@code filePermissions} (default {@code rw-------}); created
 *       directories get the same plus execute wherever read is granted (default {@code rwx------}), so
 *       that whoever may read the files may also reach them. Ignored on non-POSIX file systems; the
 *       process umask may remove bits further.
 *   <li>Interrupts: a {@link FileChannel} is closed for every thread when a thread is interrupted inside
 *       an operation on it (or enters one with its interrupt flag set). A store is called from threads its
 *       user may interrupt (an executor's {@code shutdownNow}, a cancelled future), so a file handle reopens
 *       its file when that happens and carries on: the interrupted thread's operation fails with an
 *       {@link InterruptedIOException} (retrying it there would close the new channel too), another
 *       thread's operation that the close cut off is retried on the new channel. Reopening loses nothing: a
 *       write either reached the file or is reported failed, and a force on the new descriptor syncs every
 *       dirty page of the file. Before this one interrupted {@code flush} failed the store for everyone.
 *   <li>Errors name the file: {@link FileSystemException}s already do and are rethrown as they are;
 *       other {@link IOException}s are wrapped with the path, the operation and the offset.
 *   <li>Handles are thread-safe: reads and writes are positional and never touch the channel's
 *       position; {@code forceLock} orders only the force bookkeeping.
 * </ul>
 */
public final class FileChannelStorage implements StorageIo {

    private static final LazyLogger LOG = LazyLogger.of(FileChannelStorage.class);
    /** Lock files held by any {@code FileChannelStorage} of this JVM, by real path. */
    private static final Set<Path> LOCKED_IN_THIS_JVM = ConcurrentHashMap.newKeySet();

    private static final boolean LINUX =
            System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux");

    private static final Set<PosixFilePermission> OWNER_READ_WRITE = PosixFilePermissions.fromString("rw-------");

    private final Set<PosixFilePermission> filePermissions;
    private final Set<PosixFilePermission> directoryPermissions;

    /** Files are created {@code rw-------} and directories {@code rwx------}. */
    public FileChannelStorage() {
        this(OWNER_READ_WRITE);
    }

    /**
     * @param filePermissions the permissions of files this storage creates; directories get them plus
     *     execute wherever read is granted
     */
    public FileChannelStorage(Set<PosixFilePermission> filePermissions) {
        this.filePermissions = Set.copyOf(filePermissions);
        this.directoryPermissions = directoryPermissionsFor(filePermissions);
    }

    private static Set<PosixFilePermission> directoryPermissionsFor(Set<PosixFilePermission> file) {
        Set<PosixFilePermission> dir = EnumSet.noneOf(PosixFilePermission.class);
        dir.addAll(file);
        if (file.contains(PosixFilePermission.OWNER_READ)) {
            dir.add(PosixFilePermission.OWNER_EXECUTE);
        }
        if (file.contains(PosixFilePermission.GROUP_READ)) {
            dir.add(PosixFilePermission.GROUP_EXECUTE);
        }
        if (file.contains(PosixFilePermission.OTHERS_READ)) {
            dir.add(PosixFilePermission.OTHERS_EXECUTE);
        }
        return Set.copyOf(dir);
    }

    @Override
    public StorageFile open(Path path, OpenMode mode) throws IOException {
        Set<OpenOption> options = switch (mode) {
            case CREATE -> Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.CREATE);
            case CREATE_NEW -> Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW);
            case EXISTING -> Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE);
            case READ_ONLY -> Set.of(StandardOpenOption.READ);
        };
        FileChannel channel = openChannel(path, options);
        try {
            return new ChannelFile(path, channel, mode == OpenMode.READ_ONLY);
        } catch (IOException | RuntimeException e) {
            try {
                channel.close();
            } catch (IOException closing) {
                e.addSuppressed(closing);
            }
            if (e instanceof ClosedByInterruptException) {
                InterruptedIOException interrupted = new InterruptedIOException("opening " + path
                        + " was interrupted (the thread's interrupt flag is set); nothing was written to it");
                interrupted.initCause(e);
                throw interrupted;
            }
            throw new IOException("cannot size " + path + " after opening it: " + e, e);
        }
    }

    private FileChannel openChannel(Path path, Set<OpenOption> options) throws IOException {
        try {
            return FileChannel.open(path, options, attributes(path, filePermissions));
        } catch (FileSystemException e) {
            throw e;
        } catch (IOException e) {
            throw new IOException("cannot open " + path + ": " + e, e);
        }
    }

    private static FileAttribute<?>[] attributes(Path path, Set<PosixFilePermission> permissions) {
        if (!path.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            return new FileAttribute<?>[0];
        }
        return new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(permissions)};
    }

    @Override
    public boolean exists(Path path) {
        return Files.exists(path);
    }

    @Override
    public void createDirectories(Path dir) throws IOException {
        Files.createDirectories(dir, attributes(dir, directoryPermissions));
    }

    @Override
    public List<Path> list(Path dir) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.filter(Files::isRegularFile).toList();
        } catch (UncheckedIOException e) {
            throw new IOException("cannot list " + dir + ": " + e.getCause(), e.getCause());
        }
    }

    @Override
    public void rename(Path from, Path to) throws IOException {
        // With ATOMIC_MOVE the target is replaced (rename(2) semantics); REPLACE_EXISTING states the intent.
        Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public boolean deleteIfExists(Path path) throws IOException {
        return Files.deleteIfExists(path);
    }

    @Override
    public void syncDirectory(Path dir) throws IOException {
        FileChannel channel;
        try {
            channel = FileChannel.open(dir, StandardOpenOption.READ);
        } catch (IOException e) {
            if (LINUX) {
                throw e instanceof FileSystemException ? e : new IOException("cannot open directory " + dir
                        + " to sync it: " + e, e);
            }
            return;
        }
        try (channel) {
            channel.force(true);
        } catch (IOException e) {
            if (LINUX) {
                throw new IOException("cannot sync directory " + dir + ": " + e, e);
            }
        }
    }

    @Override
    public Closeable lock(Path lockFile) throws IOException {
        Path key = realPathOf(lockFile);
        if (!LOCKED_IN_THIS_JVM.add(key)) {
            throw new StoreLockedException(lockFile);
        }
        FileChannel channel = null;
        try {
            channel = openChannel(lockFile, Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE,
                    StandardOpenOption.CREATE));
            FileLock lock = tryLock(channel);
            if (lock == null) {
                throw new StoreLockedException(lockFile);
            }
            return new HeldLock(key, lockFile, channel, lock);
        } catch (IOException | RuntimeException | Error e) {
            LOCKED_IN_THIS_JVM.remove(key);
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException closing) {
                    e.addSuppressed(closing);
                }
            }
            throw e;
        }
    }

    /** Null when another process holds the lock, or another channel of this JVM does. */
    private static FileLock tryLock(FileChannel channel) throws IOException {
        try {
            return channel.tryLock();
        } catch (OverlappingFileLockException e) {
            return null;
        }
    }

    /** The lock file's path with its directory resolved, so two spellings of one file share a key. */
    private static Path realPathOf(Path lockFile) throws IOException {
        Path absolute = lockFile.toAbsolutePath().normalize();
        Path parent = absolute.getParent();
        return parent == null ? absolute : parent.toRealPath().resolve(absolute.getFileName());
    }

    private static final class HeldLock implements Closeable {
        private final Path key;
        private final Path lockFile;
        private final FileChannel channel;
        private final FileLock lock;
        private final AtomicBoolean released = new AtomicBoolean();

        HeldLock(Path key, Path lockFile, FileChannel channel, FileLock lock) {
            this.key = key;
            this.lockFile = lockFile;
            this.channel = channel;
            this.lock = lock;
        }

        @Override
        public void close() throws IOException {
            if (!released.compareAndSet(false, true)) {
                return;
            }
            // The JVM-wide entry goes only after the channel is closed: until then, a new open in this JVM
            // could open and close the file, which would drop this process's lock early.
            try (channel) {
                lock.release();
            } catch (IOException e) {
                throw new IOException("cannot release the lock on " + lockFile + ": " + e, e);
            } finally {
                LOCKED_IN_THIS_JVM.remove(key);
            }
        }
    }

    private static final class ChannelFile implements StorageFile {
        /** How often one operation reopens the file before it gives up (each reopen takes another interrupt). */
        private static final int MAX_REOPENS_PER_OPERATION = 3;
        private final Path path;
        /** Replaced only by {@link #reopen}, when an interrupt closed the one before (see the class notes). */
        private volatile FileChannel channel;
        private final boolean readOnly;
        private volatile boolean closed;
        private final Object forceLock = new Object();
        /** The size at the last successful force; -1 makes the next force a full one. Guarded by forceLock. */
        private long sizeAtLastForce = -1;
        /**
         * Raised by truncate AFTER it cuts the file, so a force that runs concurrently either sees the new
         * size or leaves the flag for the next force: a cut and a regrowth to the same size in between two
         * forces still gets a full sync.
         */
        private volatile boolean truncatedSinceForce;
        /**
         * The file's length as this handle's own writes and cuts left it (a writable handle only, -1 in a
         * read-only one; see the class notes): raised to the end of each write, as far as it got, and lowered
         * by a cut.
         */
        private final AtomicLong length;

        ChannelFile(Path path, FileChannel channel, boolean readOnly) throws IOException {
            this.path = path;
            this.channel = channel;
            this.readOnly = readOnly;
            this.length = new AtomicLong(readOnly ? -1 : channel.size());
        }

        /** One call on the channel. */
        @FunctionalInterface
        private interface ChannelCall<T> {
            T on(FileChannel channel) throws IOException;
        }

        /**
         * Runs {@code call} on the channel. If an interrupt closed the channel (this thread's or another's),
         * reopens the file first so that the store goes on, then fails this call with an
         * {@link InterruptedIOException} if it was this thread's (it would close the new channel too), or
         * retries it on the new channel if it was another's.
         */
        private <T> T onChannel(String operation, long offset, ChannelCall<T> call) throws IOException {
            for (int reopens = 0; ; reopens++) {
                FileChannel c = channel;
                try {
                    return call.on(c);
                } catch (ClosedChannelException e) {
                    if (closed || reopens == MAX_REOPENS_PER_OPERATION) {
                        throw failure(operation, offset, e);
                    }
                    reopen(c);
                    if (e instanceof ClosedByInterruptException || Thread.currentThread().isInterrupted()) {
                        InterruptedIOException interrupted = new InterruptedIOException(operation + " " + path
                                + " was interrupted (the thread's interrupt flag is set); the file is open again for"
                                + " other threads, and this operation may be retried by a thread that is not interrupted");
                        interrupted.initCause(e);
                        throw interrupted;
                    }
                } catch (IOException e) {
                    throw failure(operation, offset, e);
                }
            }
        }

        /** Replaces {@code broken}, closed by an interrupt, with a new channel on the same file (once). */
        private synchronized void reopen(FileChannel broken) throws IOException {
            if (channel != broken || closed) {
                return;
            }
            try {
                channel = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                        : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } catch (IOException e) {
                throw failure("reopening (an interrupt closed it)", -1, e);
            }
            LOG.get().warn("{} was closed by a thread's interrupt and is open again; interrupt threads that use a "
                    + "store only to stop them", path);
        }

        @Override
        public Path path() {
            return path;
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            int total = 0;
            while (dst.hasRemaining()) {
                long at = position + total;
                int n = onChannel("reading", at, c -> c.read(dst, at));
                if (n < 0) {
                    break;
                }
                total += n;
            }
            return total;
        }

        @Override
        public ByteBuffer readOnlyView(long position, int length) throws IOException {
            return onChannel("mapping", position, c -> {
                if (position + length > c.size()) {
                    throw new java.io.EOFException(path + " ends before byte " + (position + length));
                }
                // A mapping outlives the channel; unmapped by the collector once the buffer is unreachable.
                return c.map(FileChannel.MapMode.READ_ONLY, position, length);
            });
        }

        @Override
        public void write(ByteBuffer src, long position) throws IOException {
            checkWritable();
            long offset = position;
            try {
                while (src.hasRemaining()) {
                    long at = offset;
                    offset += onChannel("writing", at, c -> c.write(src, at));
                }
            } finally {
                // Only bytes that reached the file lengthen it (a write that failed before any did, at a
                // position past the end, leaves the length as it was).
                if (offset > position) {
                    length.accumulateAndGet(offset, Math::max);
                }
            }
        }

        @Override
        public void force() throws IOException {
            synchronized (forceLock) {
                long size = size();
                boolean metadata = size != sizeAtLastForce || truncatedSinceForce;
                truncatedSinceForce = false;
                sizeAtLastForce = -1;
                // A channel reopened after an interrupt syncs the same file: every dirty page of it, whichever
                // descriptor wrote it.
                onChannel("forcing", -1, c -> {
                    c.force(metadata);
                    return null;
                });
                sizeAtLastForce = size;
            }
        }

        @Override
        public void truncate(long size) throws IOException {
            checkWritable();
            try {
                if (size < length.get()) {
                    onChannel("truncating to " + size + " bytes", -1, c -> c.truncate(size));
                    length.set(size);
                    truncatedSinceForce = true;
                }
            } catch (IOException e) {
                // The file may or may not be shorter now: learn its length from it. By path, not through the
                // channel: on an interrupted thread that would close the channel the failure just reopened.
                try {
                    length.set(Files.size(path));
                } catch (IOException sizing) {
                    e.addSuppressed(sizing);
                }
                throw e;
            }
        }

        @Override
        public long size() throws IOException {
            if (!readOnly) {
                return length.get();
            }
            return onChannel("sizing", -1, FileChannel::size);
        }

        @Override
        public void close() throws IOException {
            closed = true;
            try {
                synchronized (this) { // not while a reopen swaps the channel
                    channel.close();
                }
            } catch (IOException e) {
                throw failure("closing", -1, e);
            }
        }

        private void checkWritable() throws IOException {
            if (readOnly) {
                throw new IOException("cannot modify " + path + ": it was opened READ_ONLY");
            }
        }

        private IOException failure(String operation, long offset, IOException e) {
            if (e instanceof FileSystemException) {
                return e;
            }
            String where = offset < 0 ? "" : " at offset " + offset;
            return new IOException(operation + " " + path + where + " failed: " + e, e);
        }
    }
}
