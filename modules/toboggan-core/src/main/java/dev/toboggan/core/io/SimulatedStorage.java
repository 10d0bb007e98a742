package dev.toboggan.core.io;

import dev.toboggan.core.TobogganException;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * An in-memory, deterministic {@link StorageIo} that models a POSIX disk behind a page cache, and can
 * lose power, tear a write at any byte, fail the Nth call and run out of space. It lives in
 * {@code src/main} so that every module's tests can use it.
 *
 * <p>Model. Each file has a <em>current</em> image (what reads see) and a <em>durable</em> image (what
 * survives a power loss); each directory has a <em>live</em> namespace and a <em>durable</em> one.
 * <ul>
 *   <li>{@link StorageFile#force()} makes the file's current content and length durable;
 *   <li>creating, renaming and deleting a file change only the live namespace of its directory, until
 *       {@link #syncDirectory(Path)} copies that whole namespace to the durable one. A file whose data
 *       was forced but whose creation was never synced disappears at a power loss, as on a real disk;
 *   <li>{@link #powerLoss()} reboots the machine: every file and every namespace reverts to its durable
 *       state, every handle and lock from before becomes dead (each call on it throws
 *       {@code IOException("simulated power loss: handle is from before the crash ...")}), and locks are
 *       released. The same instance then serves the restarted store. {@link #powerLoss(SplittableRandom)}
 *       is more hostile, in the manner of SQLite's crash VFS: each unforced write, independently, reaches
 *       the disk whole, not at all, or torn (a prefix cut at a random byte), and each unforced truncate
 *       lands or not.
 * </ul>
 *
 * <p>Where the model is simpler than POSIX (deliberately, none of it weakens what recovery must
 * survive): directories are durable as soon as {@link #createDirectories} returns, and a directory can
 * be deleted only when empty; a deleted file's space is freed at once even if a handle still has it
 * open; files are limited to {@value ByteImage#MAX_LENGTH} bytes. Paths are compared after
 * {@code toAbsolutePath().normalize()}; a root directory always exists.
 *
 * <p>Fault knobs, all thread-safe and settable at any time, even while other threads do IO:
 * {@link #failAfter(long, Set, FailMode)}, {@link #tearNextWrite(int)}, {@link #capacity(long)},
 * {@link #slowDown(Duration, Duration)}, and {@link #clearFaults()}. Counters of forces, writes, bytes
 * written and directory syncs let tests assert that durability was really asked for.
 *
 * <p>Implementation notes.
 * <ul>
 *   <li>Locks: {@code namespaceLock} guards the directories, the held locks and power loss; each
 *       {@link SimulatedInode}'s monitor guards its bytes. The order is always namespace lock, then inode
 *       monitor. Reads, writes, forces and truncates take only the inode monitor, so concurrent writers
 *       of different files never contend and writers of one file serialize on it.
 *   <li>Dead handles: {@code epoch} is bumped (under the namespace lock) BEFORE a power loss takes any
 *       inode monitor, and handles compare it with the epoch they were opened in INSIDE the monitor. So
 *       an operation either completes before the crash reads that inode, or fails as dead; none lands
 *       on the discarded state after the crash.
 *   <li>Space: {@code usedBytes} is the sum of the current sizes of files named in a live namespace.
 *       A write reserves its growth with a compare-and-set loop before touching any byte, so a full
 *       disk rejects a write whole. It is recomputed from scratch after a power loss.
 *   <li>Determinism: directories and names are kept sorted, so a hostile power loss draws from its
 *       random source in the same order for the same history and seed.
 * </ul>
 */
public final class SimulatedStorage implements StorageIo {

    /**
     * The calls that {@link #failAfter} can fail. {@link #lock} counts as an {@code OPEN}; {@code exists},
     * {@code size}, {@code close} and {@link #createDirectories} are never failed.
     */
    public enum Op { READ, WRITE, FORCE, TRUNCATE, RENAME, DELETE, SYNC_DIR, OPEN, LIST }

    /** Whether an injected failure happens once or on every matching call from then on. */
    public enum FailMode {
        /** Only the Nth matching call fails; later ones succeed. */
        ONCE,
        /** The Nth matching call and every one after it fail, as a dead disk does. */
        FOREVER
    }

    private static final int NO_TEAR = -1;
    /** How often a slow IO's sleep looks whether its slow-down was lifted. */
    private static final long PAUSE_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(5);

    private final Object namespaceLock = new Object();
    /** Guarded by namespaceLock. */
    private final TreeMap<Path, Directory> directories = new TreeMap<>();
    /** Guarded by namespaceLock. */
    private final Map<Path, HeldLock> locks = new HashMap<>();
    /** The number of power losses so far; written under namespaceLock. */
    private volatile long epoch;

    private final AtomicLong usedBytes = new AtomicLong();
    private volatile long capacity = Long.MAX_VALUE;
    private final AtomicReference<FailureRule> failure = new AtomicReference<>();
    private final AtomicInteger tearNextWrite = new AtomicInteger(NO_TEAR);
    private volatile Delays delays = Delays.NONE;

    private final LongAdder forces = new LongAdder();
    private final LongAdder writes = new LongAdder();
    private final LongAdder bytesWritten = new LongAdder();
    private final LongAdder directorySyncs = new LongAdder();

    // ---------------------------------------------------------------- StorageIo

    @Override
    public StorageFile open(Path path, OpenMode mode) throws IOException {
        Path key = key(path);
        injectFault(Op.OPEN, path);
        synchronized (namespaceLock) {
            Directory dir = parentOf(key, path);
            rejectDirectory(key, path);
            String name = name(key);
            SimulatedInode inode = dir.live.get(name);
            if (inode != null && mode == OpenMode.CREATE_NEW) {
                throw new FileAlreadyExistsException(path.toString());
            }
            if (inode == null && (mode == OpenMode.EXISTING || mode == OpenMode.READ_ONLY)) {
                throw new NoSuchFileException(path.toString());
            }
            if (inode == null) {
                inode = new SimulatedInode();
                link(dir, name, inode);
            }
            return new Handle(path, inode, mode == OpenMode.READ_ONLY, epoch);
        }
    }

    @Override
    public boolean exists(Path path) {
        Path key = key(path);
        synchronized (namespaceLock) {
            if (directory(key) != null) {
                return true;
            }
            Directory parent = key.getParent() == null ? null : directory(key.getParent());
            return parent != null && parent.live.containsKey(name(key));
        }
    }

    @Override
    public void createDirectories(Path dir) throws IOException {
        Path key = key(dir);
        synchronized (namespaceLock) {
            List<Path> missing = new ArrayList<>();
            for (Path d = key; d != null && directory(d) == null; d = d.getParent()) {
                missing.add(0, d);
            }
            for (Path d : missing) {
                Directory parent = directory(d.getParent());
                if (parent.live.containsKey(name(d))) {
                    throw new FileAlreadyExistsException(d.toString(), null, "a file has this name, creating " + dir);
                }
                directories.put(d, new Directory());
            }
        }
    }

    @Override
    public List<Path> list(Path dir) throws IOException {
        Path key = key(dir);
        injectFault(Op.LIST, dir);
        synchronized (namespaceLock) {
            Directory d = directory(key);
            if (d == null) {
                throw missingDirectory(key, dir);
            }
            List<Path> files = new ArrayList<>(d.live.size());
            for (String name : d.live.keySet()) {
                files.add(dir.resolve(name));
            }
            return files;
        }
    }

    @Override
    public void rename(Path from, Path to) throws IOException {
        Path fromKey = key(from);
        Path toKey = key(to);
        injectFault(Op.RENAME, from);
        synchronized (namespaceLock) {
            Directory fromDir = parentOf(fromKey, from);
            rejectDirectory(fromKey, from);
            SimulatedInode inode = fromDir.live.get(name(fromKey));
            if (inode == null) {
                throw new NoSuchFileException(from.toString(), to.toString(), "cannot rename a missing file");
            }
            Directory toDir = parentOf(toKey, to);
            rejectDirectory(toKey, to);
            if (fromKey.equals(toKey)) {
                return;
            }
            fromDir.live.remove(name(fromKey));
            SimulatedInode replaced = toDir.live.put(name(toKey), inode);
            if (replaced != null) {
                unlink(replaced);
            }
        }
    }

    @Override
    public boolean deleteIfExists(Path path) throws IOException {
        Path key = key(path);
        injectFault(Op.DELETE, path);
        synchronized (namespaceLock) {
            Directory dir = directory(key);
            if (dir != null) {
                boolean hasSubdirectory = directories.keySet().stream().anyMatch(d -> key.equals(d.getParent()));
                if (!dir.live.isEmpty() || hasSubdirectory) {
                    throw new DirectoryNotEmptyException(path.toString());
                }
                directories.remove(key);
                return true;
            }
            Directory parent = key.getParent() == null ? null : directory(key.getParent());
            SimulatedInode inode = parent == null ? null : parent.live.remove(name(key));
            if (inode == null) {
                return false;
            }
            unlink(inode);
            return true;
        }
    }

    @Override
    public void syncDirectory(Path dir) throws IOException {
        Path key = key(dir);
        injectFault(Op.SYNC_DIR, dir);
        synchronized (namespaceLock) {
            Directory d = directory(key);
            if (d == null) {
                throw missingDirectory(key, dir);
            }
            d.durable = new TreeMap<>(d.live);
        }
        directorySyncs.increment();
    }

    /**
     * Takes the lock on {@code lockFile}, creating the file (a live entry, like any other) if missing.
     * One holder at a time per path; counts as an {@link Op#OPEN} for {@link #failAfter}.
     */
    @Override
    public Closeable lock(Path lockFile) throws IOException {
        Path key = key(lockFile);
        injectFault(Op.OPEN, lockFile);
        synchronized (namespaceLock) {
            Directory dir = parentOf(key, lockFile);
            rejectDirectory(key, lockFile);
            if (locks.containsKey(key)) {
                throw new StoreLockedException(lockFile);
            }
            if (!dir.live.containsKey(name(key))) {
                link(dir, name(key), new SimulatedInode());
            }
            HeldLock lock = new HeldLock(key, epoch);
            locks.put(key, lock);
            return lock;
        }
    }

    // ---------------------------------------------------------------- power loss

    /** Simulates a crash: every file and directory reverts to its durable state; see the class notes. */
    public void powerLoss() {
        crash(null);
    }

    /**
     * Simulates a crash in which each unforced write, independently and as drawn from {@code rnd},
     * reaches the disk whole, not at all, or torn at a random byte; each unforced truncate lands or not.
     * Unsynced directory changes are undone as in {@link #powerLoss()}.
     */
    public void powerLoss(SplittableRandom rnd) {
        crash(Objects.requireNonNull(rnd, "rnd"));
    }

    private void crash(SplittableRandom rnd) {
        synchronized (namespaceLock) {
            // Handles check the epoch inside their inode's monitor, which this method takes only after.
            epoch++;
            locks.clear();
            Map<SimulatedInode, SimulatedInode> rebooted = new IdentityHashMap<>();
            long used = 0;
            for (Directory dir : directories.values()) {
                TreeMap<String, SimulatedInode> survivors = new TreeMap<>();
                for (Map.Entry<String, SimulatedInode> entry : dir.durable.entrySet()) {
                    SimulatedInode before = entry.getValue();
                    SimulatedInode after = rebooted.get(before);
                    if (after == null) {
                        synchronized (before) {
                            after = before.afterPowerLoss(rnd);
                        }
                        rebooted.put(before, after);
                        used += after.length();
                    }
                    // A file renamed across directories whose both directories were synced has two
                    // names now, as a real file system may leave it; both share the one inode.
                    after.links++;
                    survivors.put(entry.getKey(), after);
                }
                dir.live = survivors;
                dir.durable = new TreeMap<>(survivors);
            }
            usedBytes.set(used);
        }
    }

    // ---------------------------------------------------------------- fault knobs

    /** Same as {@code failAfter(n, ops, FailMode.ONCE)}. */
    public void failAfter(long n, Set<Op> ops) {
        failAfter(n, ops, FailMode.ONCE);
    }

    /**
     * Makes the {@code n}th call from now among those of kinds {@code ops} (1 = the very next one) throw
     * {@code IOException("simulated failure of <op> on <path> (call #n)")} without doing anything; with
     * {@link FailMode#FOREVER} every matching call after it fails too. Replaces any earlier rule.
     */
    public void failAfter(long n, Set<Op> ops, FailMode mode) {
        if (n < 1) {
            throw new IllegalArgumentException("n counts calls from 1, got " + n);
        }
        if (ops.isEmpty()) {
            throw new IllegalArgumentException("no operation to fail");
        }
        failure.set(new FailureRule(n, EnumSet.copyOf(ops), Objects.requireNonNull(mode, "mode")));
    }

    /**
     * Makes the next write, to any file, tear: its first {@code keepBytes} bytes (all of them if it is
     * shorter) reach the disk and then the power fails. Precisely, the torn file's earlier writes and
     * that prefix become durable, as when a disk writes a file's dirty pages in order and dies mid-page;
     * then {@link #powerLoss()} runs, dropping every other unforced write and unsynced directory change,
     * and the write throws {@code IOException}. Tearing at every offset of a record is how tests show that
     * recovery stops cleanly at a torn tail.
     */
    public void tearNextWrite(int keepBytes) {
        if (keepBytes < 0) {
            throw new IllegalArgumentException("keepBytes must not be negative, got " + keepBytes);
        }
        tearNextWrite.set(keepBytes);
    }

    /**
     * Limits the sum of the sizes of all files to {@code bytes}. A write that would grow past it throws
     * {@code IOException("No space left on device (simulated full disk) writing <path>")} and writes
     * nothing; overwrites inside a file and truncates still work. {@link Long#MAX_VALUE} means unlimited.
     */
    public void capacity(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("capacity must not be negative, got " + bytes);
        }
        capacity = bytes;
    }

    /**
     * Makes every write and every force sleep this long first (outside any lock), as a slow disk would. A
     * sleep under way ends early when the slow-down is changed or cleared, so a test can stall the disk for
     * as long as it needs ({@code slowDown(Duration.ZERO, Duration.ofMinutes(1))}) and then lift the stall,
     * instead of racing a fixed one.
     */
    public void slowDown(Duration perWrite, Duration perForce) {
        delays = new Delays(perWrite.toNanos(), perForce.toNanos());
    }

    /**
     * Runs {@code work} with the disk dying for good at its {@code n}th call of any kind from now, then removes
     * every fault: what the store was doing when its disk died (a pass, a snapshot, a close), as a test's step
     * before a {@link #powerLoss}. The store's failure ({@link TobogganException}: a {@code StorageException}
     * or {@code StoreFailedException}) ends the work; anything else thrown is the caller's.
     */
    public void runDyingAt(long n, Runnable work) {
        failAfter(n, EnumSet.allOf(Op.class), FailMode.FOREVER);
        try {
            work.run();
        } catch (TobogganException theDiskDied) {
            // the work's end: what a test checks is what the power loss after it leaves
        } finally {
            clearFaults();
        }
    }

    /** Removes every fault: the failure rule, a pending tear, the capacity limit and the slow-down. */
    public void clearFaults() {
        failure.set(null);
        tearNextWrite.set(NO_TEAR);
        capacity = Long.MAX_VALUE;
        delays = Delays.NONE;
    }

    // ---------------------------------------------------------------- counters

    /** Successful {@link StorageFile#force()} calls. */
    public long forceCount() {
        return forces.sum();
    }

    /** Successful {@link StorageFile#write} calls, torn ones included. */
    public long writeCount() {
        return writes.sum();
    }

    /** Bytes that those writes put into files (for a torn write, only the part that landed). */
    public long bytesWritten() {
        return bytesWritten.sum();
    }

    /** Successful {@link #syncDirectory} calls. */
    public long syncDirectoryCount() {
        return directorySyncs.sum();
    }

    public void resetCounters() {
        forces.reset();
        writes.reset();
        bytesWritten.reset();
        directorySyncs.reset();
    }

    /** The space files use now, as {@link #capacity(long)} counts it. */
    public long usedBytes() {
        return usedBytes.get();
    }

    // ---------------------------------------------------------------- test helpers

    /** What a read of the whole file would return now. */
    public byte[] content(Path path) {
        synchronized (namespaceLock) {
            SimulatedInode inode = liveFile(path);
            synchronized (inode) {
                return inode.content();
            }
        }
    }

    /**
     * What the disk holds for the file now named {@code path}: its content after a power loss, provided
     * its name survives too (see {@link #durablyExists}).
     */
    public byte[] durableContent(Path path) {
        synchronized (namespaceLock) {
            SimulatedInode inode = liveFile(path);
            synchronized (inode) {
                return inode.durableContent();
            }
        }
    }

    /** Whether a file of this name would exist after a power loss now. */
    public boolean durablyExists(Path path) {
        Path key = key(path);
        synchronized (namespaceLock) {
            Directory parent = key.getParent() == null ? null : directory(key.getParent());
            return parent != null && parent.durable.containsKey(name(key));
        }
    }

    /**
     * Flips the bits of {@code xorMask} in the byte at {@code offset}, on disk and in the page cache, as
     * bit rot would; a later force or power loss keeps the damage.
     */
    public void corrupt(Path path, long offset, byte xorMask) {
        synchronized (namespaceLock) {
            SimulatedInode inode = liveFile(path);
            synchronized (inode) {
                if (offset < 0 || offset >= inode.length()) {
                    throw new IllegalArgumentException("offset " + offset + " is outside " + path + ", which has "
                            + inode.length() + " bytes");
                }
                inode.corrupt((int) offset, xorMask);
            }
        }
    }

    /** Cuts the file to {@code size} bytes on disk and in the page cache, as a lost tail would. */
    public void truncateDurably(Path path, long size) {
        if (size < 0) {
            throw new IllegalArgumentException("size must not be negative, got " + size);
        }
        synchronized (namespaceLock) {
            SimulatedInode inode = liveFile(path);
            synchronized (inode) {
                long freed = inode.truncateDurably(size);
                if (inode.links > 0) {
                    usedBytes.addAndGet(-freed);
                }
            }
        }
    }

    // ---------------------------------------------------------------- internals

    /** Guarded by namespaceLock. */
    private SimulatedInode liveFile(Path path) {
        Path key = key(path);
        Directory parent = key.getParent() == null ? null : directory(key.getParent());
        SimulatedInode inode = parent == null ? null : parent.live.get(name(key));
        if (inode == null) {
            throw new IllegalArgumentException("no file " + path + " in the simulated storage");
        }
        return inode;
    }

    private static Path key(Path path) {
        return path.toAbsolutePath().normalize();
    }

    private static String name(Path key) {
        return key.getFileName().toString();
    }

    /** The directory, or null if missing. A root always exists. Guarded by namespaceLock. */
    private Directory directory(Path key) {
        Directory dir = directories.get(key);
        if (dir == null && key.getParent() == null) {
            dir = new Directory();
            directories.put(key, dir);
        }
        return dir;
    }

    /** Guarded by namespaceLock. */
    private Directory parentOf(Path key, Path path) throws IOException {
        if (key.getParent() == null) {
            throw new FileSystemException(path.toString(), null, "is a root directory, not a file");
        }
        Directory dir = directory(key.getParent());
        if (dir == null) {
            throw new NoSuchFileException(path.toString(), null, "its directory does not exist");
        }
        return dir;
    }

    /** Guarded by namespaceLock. */
    private void rejectDirectory(Path key, Path path) throws IOException {
        if (directories.containsKey(key)) {
            throw new FileSystemException(path.toString(), null, "is a directory, not a file");
        }
    }

    /** Guarded by namespaceLock. */
    private IOException missingDirectory(Path key, Path dir) {
        Directory parent = key.getParent() == null ? null : directory(key.getParent());
        if (parent != null && parent.live.containsKey(name(key))) {
            return new NotDirectoryException(dir.toString());
        }
        return new NoSuchFileException(dir.toString(), null, "no such directory");
    }

    /** Names {@code inode} in {@code dir}, replacing (unlinking) whatever had the name. Guarded by namespaceLock. */
    private void link(Directory dir, String name, SimulatedInode inode) {
        synchronized (inode) {
            if (inode.links++ == 0) {
                usedBytes.addAndGet(inode.length());
            }
        }
        SimulatedInode replaced = dir.live.put(name, inode);
        if (replaced != null && replaced != inode) {
            unlink(replaced);
        }
    }

    /** Guarded by namespaceLock. */
    private void unlink(SimulatedInode inode) {
        synchronized (inode) {
            if (--inode.links == 0) {
                usedBytes.addAndGet(-inode.length());
            }
        }
    }

    private void injectFault(Op op, Path path) throws IOException {
        FailureRule rule = failure.get();
        if (rule != null) {
            rule.check(op, path);
        }
    }

    /** Reserves the space a write grows its file by, or throws; call holding the inode's monitor. */
    private void reserve(SimulatedInode inode, long growth, Path path) throws IOException {
        if (growth == 0 || inode.links == 0) {
            return;
        }
        long used;
        do {
            used = usedBytes.get();
            if (used + growth > capacity) {
                throw new IOException("No space left on device (simulated full disk) writing " + path + ": "
                        + growth + " more bytes needed, " + (capacity - used) + " free");
            }
        } while (!usedBytes.compareAndSet(used, used + growth));
    }

    /** Sleeps {@code nanos}, or until the slow-down is no longer {@code slowDown} (see {@link #slowDown}). */
    private void pause(Delays slowDown, long nanos) throws InterruptedIOException {
        try {
            long deadline = System.nanoTime() + nanos;
            for (long left = nanos; left > 0 && delays == slowDown; left = deadline - System.nanoTime()) {
                TimeUnit.NANOSECONDS.sleep(Math.min(left, PAUSE_SLICE_NANOS));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException interrupted = new InterruptedIOException("interrupted in a simulated slow IO");
            interrupted.initCause(e);
            throw interrupted;
        }
    }

    private static IOException deadHandle(Path path) {
        return new IOException("simulated power loss: handle is from before the crash; reopen " + path
                + " as the restarted store would");
    }

    /** One directory's entries, before and after a power loss. Both fields guarded by namespaceLock. */
    private static final class Directory {
        /** What the running system sees. */
        TreeMap<String, SimulatedInode> live = new TreeMap<>();
        /** What the disk holds; replaced by a copy of {@link #live} at each sync. */
        TreeMap<String, SimulatedInode> durable = new TreeMap<>();
    }

    private record Delays(long writeNanos, long forceNanos) {
        static final Delays NONE = new Delays(0, 0);
    }

    /** An armed {@link #failAfter} rule; counts matching calls from when it was set. */
    private static final class FailureRule {
        private final long n;
        private final Set<Op> ops;
        private final FailMode mode;
        private final AtomicLong calls = new AtomicLong();

        FailureRule(long n, Set<Op> ops, FailMode mode) {
            this.n = n;
            this.ops = ops;
            this.mode = mode;
        }

        void check(Op op, Path path) throws IOException {
            if (!ops.contains(op)) {
                return;
            }
            long call = calls.incrementAndGet();
            if (call == n || (mode == FailMode.FOREVER && call > n)) {
                throw new IOException("simulated failure of " + op + " on " + path + " (call #" + call + ")");
            }
        }
    }

    private final class HeldLock implements Closeable {
        private final Path key;
        private final long openedIn;
        /** Guarded by namespaceLock. */
        private boolean released;

        HeldLock(Path key, long openedIn) {
            this.key = key;
            this.openedIn = openedIn;
        }

        @Override
        public void close() {
            synchronized (namespaceLock) {
                // After a power loss the lock is gone with the process that held it: nothing to release.
                if (released || openedIn != epoch) {
                    released = true;
                    return;
                }
                released = true;
                locks.remove(key, this);
            }
        }
    }

    private final class Handle implements StorageFile {
        private final Path path;
        private final SimulatedInode inode;
        private final boolean readOnly;
        private final long openedIn;
        private volatile boolean closed;

        Handle(Path path, SimulatedInode inode, boolean readOnly, long openedIn) {
            this.path = path;
            this.inode = inode;
            this.readOnly = readOnly;
            this.openedIn = openedIn;
        }

        @Override
        public Path path() {
            return path;
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            checkPosition(position);
            checkUsable();
            injectFault(Op.READ, path);
            synchronized (inode) {
                checkLive();
                return inode.read(dst, position);
            }
        }

        @Override
        public void write(ByteBuffer src, long position) throws IOException {
            checkPosition(position);
            checkUsable();
            checkWritable();
            injectFault(Op.WRITE, path);
            Delays now = delays;
            pause(now, now.writeNanos());
            int len = src.remaining();
            if (position + len > ByteImage.MAX_LENGTH) {
                throw new IOException("writing " + len + " bytes at " + position + " would make " + path
                        + " larger than a simulated file can be (" + ByteImage.MAX_LENGTH + " bytes)");
            }
            byte[] bytes = new byte[len];
            // Read through a duplicate: a write that fails leaves src untouched.
            src.duplicate().get(bytes);
            int keep = tearNextWrite.getAndSet(NO_TEAR);
            if (keep != NO_TEAR) {
                tear(bytes, position, Math.min(keep, len));
            }
            synchronized (inode) {
                checkLive();
                reserve(inode, inode.growth(position, len), path);
                inode.write(position, bytes, len);
            }
            src.position(src.limit());
            writes.increment();
            bytesWritten.add(len);
        }

        private void tear(byte[] bytes, long position, int landed) throws IOException {
            // The namespace lock is taken before the inode monitor, in the usual order, and held across
            // the crash so that nothing else can make this file's state durable in between.
            synchronized (namespaceLock) {
                synchronized (inode) {
                    checkLive();
                    reserve(inode, inode.growth(position, landed), path);
                    inode.write(position, bytes, landed);
                    inode.force();
                }
                writes.increment();
                bytesWritten.add(landed);
                crash(null);
            }
            throw new IOException("simulated power loss while writing " + path + ": " + landed + " of "
                    + bytes.length + " bytes at offset " + position + " reached the disk");
        }

        @Override
        public void force() throws IOException {
            checkUsable();
            injectFault(Op.FORCE, path);
            Delays now = delays;
            pause(now, now.forceNanos());
            synchronized (inode) {
                checkLive();
                inode.force();
            }
            forces.increment();
        }

        @Override
        public void truncate(long size) throws IOException {
            if (size < 0) {
                throw new IllegalArgumentException("negative size " + size + " truncating " + path);
            }
            checkUsable();
            checkWritable();
            injectFault(Op.TRUNCATE, path);
            synchronized (inode) {
                checkLive();
                long freed = inode.truncate(size);
                if (inode.links > 0) {
                    usedBytes.addAndGet(-freed);
                }
            }
        }

        @Override
        public long size() throws IOException {
            checkUsable();
            synchronized (inode) {
                checkLive();
                return inode.length();
            }
        }

        @Override
        public void close() throws IOException {
            // Closing a handle from before a power loss releases nothing and is not an error, as closing a
            // file descriptor of a process that no longer exists cannot fail.
            closed = true;
        }

        private void checkPosition(long position) {
            if (position < 0) {
                throw new IllegalArgumentException("negative position " + position + " in " + path);
            }
        }

        private void checkUsable() throws IOException {
            if (closed) {
                throw new IOException("cannot use " + path + ": its handle is closed");
            }
            checkLive();
        }

        private void checkLive() throws IOException {
            if (openedIn != epoch) {
                throw deadHandle(path);
            }
        }

        private void checkWritable() throws IOException {
            if (readOnly) {
                throw new IOException("cannot modify " + path + ": it was opened READ_ONLY");
            }
        }
    }
}
