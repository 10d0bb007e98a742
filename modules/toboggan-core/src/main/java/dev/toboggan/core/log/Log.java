package dev.toboggan.core.log;

import com.github.luben.zstd.Zstd;
import dev.toboggan.core.Background;
import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.Failpoints;
import dev.toboggan.core.LazyLogger;
import dev.toboggan.core.StorageException;
import dev.toboggan.core.StoreFailedException;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The log: turns messages into durable bytes. Writers {@link #reserve} space in the current
 * {@link IoBuffer} (one CAS), copy their message in and {@link Reservation#complete()} it; sealed
 * buffers are handed to the flush work ({@link #flushWork()}), which writes them, forces the file once
 * for all of them (group commit) and advances the stable tip that {@link #makeStable} waits for.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Current window</b>: {@code current} is the only open {@link IoBuffer}. It is replaced only by
 *       the thread whose CAS sealed it ({@link #sealAndRotate}), so replacement needs no lock; writers
 *       that find it sealed spin until the new window is published (a volatile write AFTER the new
 *       window is fully built).
 *   <li><b>Hand-over</b>: the thread that leaves a window sealed with no writers puts it on the
 *       {@code ready} queue and tells the {@link Background} port. The window is written by whoever runs
 *       {@link #flushWork()} next: the background flusher, or a thread waiting in {@code makeStable}
 *       (caller-runs group commit). Nobody ever waits for a thread that must do the write; waiters do
 *       it themselves (sled #1308 deadlocked exactly there).
 *   <li><b>Backpressure</b>: a rotation to a new segment needs a free segment buffer; when all
 *       {@code io-buffers} hold unwritten data the rotating writer runs the flush work itself, and other
 *       writers spin on the sealed window meanwhile.
 *   <li><b>Tips</b>: see {@link StabilityTracker}. A message is durable when the durable tip is above its
 *       LSN: a message never straddles windows, and windows are reported durable whole.
 *   <li><b>Slot reuse</b>: the segment cleaner frees slots ({@link #freeSegments}) only while no
 *       {@link #scanStable} runs (a read-write lock), since a scan reads the slots it listed, and never frees a
 *       slot or deletes a blob that an open {@link Retention} keeps: a reader of locations it took from the
 *       page table (an export), or a {@link Copy} (a backup) for what it listed and has not read yet; writers
 *       never touch that lock, and readers of single messages ({@link #read}) that meet a reused slot see a
 *       message that does not decode as the one asked for, which the page cache retries.
 *   <li><b>Failure</b>: the first unrecoverable error is kept in {@code failure} (set once, then every
 *       waiter is woken); every later call throws {@link StoreFailedException} naming it.
 * </ul>
 */
public final class Log implements AutoCloseable {
    private static final LazyLogger LOG = LazyLogger.of(Log.class);
    /** How often a thread waiting to open a batch checks whether the log failed. */
    private static final long BATCH_ADMISSION_RECHECK_MILLIS = 10;
    /** Spins on a sealed window before yielding the processor, then before parking. */
    private static final int SPINS_BEFORE_YIELD = 64;
    private static final int SPINS_BEFORE_PARK = 256;
    /** A rotation that waits for memory waits for a write: parking for a fraction of one costs nothing. */
    private static final long PARK_NANOS = 20_000;
    private static final long MAX_DECOMPRESSED_BODY = 1L << 30;
    /**
     * The longest a thread waiting for a tip parks before it looks again on its own. Every change that could
     * satisfy it wakes it ({@link TipWaiters}); this only bounds what a missed wake-up could cost.
     */
    private static final long TIP_WAIT_BACKSTOP_NANOS = 5_000_000;

    final LogConfig config;
    private final StorageIo io;
    final StorageFile file;
    final BlobStore blobs;
    final int segmentSize;
    private final int segmentShift;
    private final Closeable lock;
    private final Background background;
    private final SegmentMemoryPool pool;
    final SegmentSlots slots;
    final StabilityTracker stability;
    private final LogFlusher flusher;
    private final RecoveryReport recovery;
    final ConcurrentLinkedQueue<IoBuffer> ready = new ConcurrentLinkedQueue<>();
    private volatile IoBuffer current;
    /** The tip recovery left: the log's first LSN of this run (everything below is durable). */
    private final long openedAt;
    /** The highest LSN somebody asked to become stable; the flush work forces while it is not durable. */
    private final AtomicLong wantedStable = new AtomicLong(-1);
    /** Writers waiting for a free IO buffer. */
    private final AtomicInteger memoryWaiters = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile boolean closed;
    private final ReentrantLock progressLock = new ReentrantLock();
    /** Signalled when the tip moves, a window becomes ready, a buffer frees up, or the log fails. */
    private final Condition progress = progressLock.newCondition();
    /** Counts signals of {@link #progress}; waiters wait for it to change. */
    private final AtomicLong progressEpoch = new AtomicLong();
    /**
     * Threads in {@link #awaitProgress} (registered under progressLock before they check the epoch): a signal
     * takes the lock only if there are any. Every durable put hands a window over and signals, and sixteen
     * writers taking one lock for a condition nobody waits on was a queue of its own.
     */
    private final AtomicInteger progressWaiters = new AtomicInteger();
    /**
     * The tip the {@code stable-tip} file records: recovery reads a missing segment or blob below it as
     * cleaned on purpose, never as a torn tail. Only the file counts here, never a segment header's
     * promise: freeing a segment zeroes its header, and with it whatever that header promised.
     */
    private final AtomicLong promised = new AtomicLong();
    /**
     * Read by {@link #scanStable} for its whole scan and by {@link #listForCopy} while it lists, written by
     * {@link #freeSegments} and {@link #deleteReplacedBlob}: a scan reads the slots of the segments it
     * listed, so none of them may be zeroed or reused under it; a copy registers what it listed before any
     * free or deletion can look.
     */
    private final java.util.concurrent.locks.ReentrantReadWriteLock reclaimGuard =
            new java.util.concurrent.locks.ReentrantReadWriteLock();
    /**
     * Open {@link Retention}s (an export's, a backup's {@link Copy}): no segment or blob one of them keeps is
     * freed or deleted.
     */
    private final List<Retention> retentions = new java.util.concurrent.CopyOnWriteArrayList<>();
    /**
     * Segments the cleaner found empty but left for a copy that had yet to read them ({@link #freeSegments});
     * a later pass frees them. Written under the write side of {@code reclaimGuard}; its size is published in
     * {@code keptForCopiesCount} for writers ({@link #segmentsKeptForCopies}).
     */
    private final Set<Long> keptForCopies = new java.util.HashSet<>();
    private volatile int keptForCopiesCount;
    /**
     * Replaced blobs the cleaner left for a retention ({@link #deleteReplacedBlob}); a later pass deletes them.
     * Guarded as {@link #keptForCopies}.
     */
    private final Set<Long> keptBlobs = new java.util.HashSet<>();
    /** Threads in {@link #makeStable} and {@link #makeDurable}, each woken when its tip passes its LSN. */
    final TipWaiters tipWaiters = new TipWaiters();
    final LongAdder aborts = new LongAdder();
    final LongAdder memoryWaits = new LongAdder();

    private Log(LogConfig config, StorageIo io, StorageFile file, Closeable lock, BlobStore blobs,
            Background background, LogRecovery.Result recovered, long promisedInFile) {
        this.config = config;
        this.io = io;
        this.file = file;
        this.lock = lock;
        this.blobs = blobs;
        this.background = background;
        this.segmentSize = config.segmentSize();
        this.segmentShift = Integer.numberOfTrailingZeros(segmentSize);
        this.pool = new SegmentMemoryPool(segmentSize, config.ioBuffers());
        this.slots = recovered.slots();
        this.stability = new StabilityTracker(recovered.tip());
        this.openedAt = recovered.tip();
        this.recovery = recovered.report();
        this.promised.set(promisedInFile);
        this.flusher = new LogFlusher(this, config.maxFlushRetries());
        this.current = firstWindow(recovered);
    }

    /**
     * Opens (creating if needed) the log of the store in {@code config.directory()}, recovers it, and
     * replays every message from {@code replayFrom} on, in LSN order, to {@code replay}.
     *
     * @param replayFrom the LSN replay starts at: 0, or the tip recorded by a snapshot
     * @throws dev.toboggan.core.io.StoreLockedException (wrapped in StorageException) if another process
     *     has the store open
     * @throws CorruptionException if durable data is damaged; nothing on disk was changed
     */
    public static Log open(LogConfig config, StorageIo io, Background background, long replayFrom,
            Consumer<LogEntry> replay) {
        return open(config, io, background, new LogReplay() {
            @Override
            public long start() {
                return replayFrom;
            }

            @Override
            public void accept(LogEntry entry) {
                replay.accept(entry);
            }
        });
    }

    /**
     * As {@link #open(LogConfig, StorageIo, Background, long, Consumer)}, but asks {@code replay} where to
     * start once the store is locked, so that it may read other files of the store (its snapshots) first.
     */
    public static Log open(LogConfig config, StorageIo io, Background background, LogReplay replay) {
        Closeable lock = null;
        StorageFile file = null;
        try {
            if (!io.exists(config.directory())) {
                io.createDirectories(config.directory());
                if (config.directory().toAbsolutePath().getParent() != null) {
                    io.syncDirectory(config.directory().toAbsolutePath().getParent());
                }
            }
            lock = io.lock(config.directory().resolve("lock"));
            boolean fresh = !io.exists(config.logFile());
            StoreDescriptor.openOrCreate(io, config, fresh);
            file = io.open(config.logFile(), StorageIo.OpenMode.CREATE);
            if (fresh) {
                io.syncDirectory(config.directory());
            }
            BlobStore blobs = new BlobStore(io, config.blobDirectory(), config.fsync());
            long promisedAtClose = StableTipFile.read(io, config.directory());
            long replayFrom = replay.start();
            LogRecovery.Result recovered =
                    new LogRecovery(config, file, blobs).recover(replayFrom, promisedAtClose, replay);
            return new Log(config, io, file, lock, blobs, background, recovered, promisedAtClose);
        } catch (IOException e) {
            closeQuietly(file);
            closeQuietly(lock);
            throw new StorageException("opening the log", config.logFile(), e);
        } catch (RuntimeException | Error e) {
            closeQuietly(file);
            closeQuietly(lock);
            throw e;
        }
    }

    private IoBuffer firstWindow(LogRecovery.Result recovered) {
        SegmentMemory memory = pool.tryAcquire();
        long tip = recovered.tip();
        int inSegment = (int) (tip & (segmentSize - 1));
        if (recovered.tailSlot() >= 0) {
            long segmentLsn = tip - inSegment;
            memory.retain(); // the window
            memory.retain(); // the segment's open chain
            return new IoBuffer(memory, inSegment, segmentLsn, (long) recovered.tailSlot() * segmentSize + inSegment,
                    segmentSize, 0);
        }
        long segmentLsn = inSegment == 0 ? tip : tip - inSegment + segmentSize;
        return segmentWindow(memory, segmentLsn);
    }

    /** The first window of a new segment: allocates its slot and writes its header into memory. */
    private IoBuffer segmentWindow(SegmentMemory memory, long segmentLsn) {
        memory.retain(); // the window
        memory.retain(); // the segment's open chain
        int slot = slots.allocate(segmentLsn);
        LogFormat.writeSegmentHeader(memory.buffer(), 0, segmentLsn, stability.durableTip());
        return new IoBuffer(memory, 0, segmentLsn, (long) slot * segmentSize, segmentSize,
                LogFormat.SEGMENT_HEADER_LENGTH);
    }

    // ---------------------------------------------------------------- writing

    /**
     * Reserves space for a message and copies it in. The body is compressed if the store compresses,
     * and goes to a blob file if it is too large for a segment.
     *
     * @param kind an inline page kind: FREE, COUNTER, INLINE_META, INLINE_NODE or INLINE_LINK
     */
    public Reservation reserve(MessageKind kind, long pid, byte[] body, int off, int len) {
        if (!kind.isUserKind()) {
            throw new IllegalArgumentException("the log writes " + kind + " messages itself; reserve a page kind");
        }
        if (pid < 0 || pid == LogFormat.NO_PAGE) {
            throw new IllegalArgumentException("page id " + Long.toUnsignedString(pid) + " is out of range");
        }
        byte[] payload = body;
        int payloadOff = off;
        int payloadLen = len;
        if (config.compression() && len > 0) {
            payload = Zstd.compress(java.util.Arrays.copyOfRange(body, off, off + len), config.compressionLevel());
            payloadOff = 0;
            payloadLen = payload.length;
        }
        boolean blob = LogFormat.needsBlob(payloadLen, segmentSize);
        if (blob && !kind.mayBeBlob()) {
            throw new IllegalArgumentException(kind + " message of " + len + " bytes is larger than a segment allows");
        }
        return reserveRaw(blob ? kind.blobVariant() : kind, pid, payload, payloadOff, payloadLen, blob);
    }

    private Reservation reserveRaw(MessageKind kind, long pid, byte[] body, int off, int len, boolean blob) {
        int inlineLength = blob ? LogFormat.LONG_BODY_LENGTH : len;
        int spins = 0;
        while (true) {
            checkUsable();
            IoBuffer buf = current;
            long h = buf.header();
            if (IoBuffer.isSealed(h) || IoBuffer.writers(h) == IoBuffer.MAX_WRITERS) {
                spins = backOff(spins);
                continue;
            }
            long segmentNumber = buf.segmentLsn >>> segmentShift;
            int headerLength = LogFormat.messageHeaderLength(inlineLength, segmentNumber, pid);
            int total = headerLength + inlineLength;
            int offset = IoBuffer.offset(h);
            int inSegment = buf.base + offset;
            if (segmentSize - inSegment < LogFormat.RED_ZONE || inSegment + total > segmentSize) {
                sealAndRotate(buf, true, false);
                continue;
            }
            if (!buf.tryReserve(h, total)) {
                continue;
            }
            long lsn = buf.lsn + offset;
            ByteBuffer memory = buf.bytes();
            LogFormat.writeMessageHeader(memory, inSegment, kind, inlineLength, segmentNumber, pid);
            Reservation reservation =
                    new Reservation(this, buf, inSegment, total, lsn, buf.fileOffset + offset, kind, blob ? lsn : -1);
            if (blob) {
                memory.putLong(inSegment + headerLength, lsn);
                try {
                    blobs.write(lsn, kind, body, off, len);
                } catch (RuntimeException e) {
                    reservation.abort();
                    throw e;
                }
            } else {
                memory.put(inSegment + headerLength, body, off, len);
            }
            return reservation;
        }
    }

    private static int backOff(int spins) {
        if (spins < SPINS_BEFORE_YIELD) {
            Thread.onSpinWait();
        } else if (spins < SPINS_BEFORE_PARK) {
            Thread.yield();
        } else {
            java.util.concurrent.locks.LockSupport.parkNanos(PARK_NANOS);
        }
        return spins + 1;
    }

    /**
     * Seals {@code buf} if it is still open and installs the next window: a new segment if the seal is
     * maxed, else the rest of the same segment.
     *
     * @param callerFlushes whether the caller runs the flush work itself right after (makeStable): then the
     *     background is not woken to race it for the work
     */
    private void sealAndRotate(IoBuffer buf, boolean toSegmentEnd, boolean callerFlushes) {
        long sealed = buf.seal(toSegmentEnd);
        if (sealed == 0) {
            return;
        }
        // Every writer spins on the sealed window until its successor is published: a rotation cut short (an
        // OutOfMemoryError in the flush work it ran while waiting for memory, found by the SegmentCleaningTest
        // at 50 x) left them spinning for ever. Fail the log instead: they stop with StoreFailedException, and
        // a reopen recovers everything that was made durable.
        try {
            Failpoints.check("log.rotate");
            rotate(buf, sealed, callerFlushes);
        } catch (IOException e) {
            StorageException failure = new StorageException("starting the log's next window", config.logFile(), e);
            fail(failure);
            throw failure;
        } catch (RuntimeException | Error e) {
            if (!closed) { // a close under way stops the spinning writers itself (checkUsable), as before
                fail(e);
            }
            throw e;
        }
    }

    /** The rest of {@link #sealAndRotate} once {@code buf} is sealed (header {@code sealed}). */
    private void rotate(IoBuffer buf, long sealed, boolean callerFlushes) {
        boolean handOver = IoBuffer.writers(sealed) == 0;
        if (IoBuffer.isMaxed(sealed)) {
            background.segmentFilled();
            releaseMemory(buf.memory); // the chain is closed: no window will follow in this memory
            SegmentMemory memory = pool.tryAcquire();
            if (memory == null) {
                // Hand over BEFORE waiting for memory: the flush work may need this very window to free one.
                if (handOver) {
                    handOff(buf, callerFlushes);
                    handOver = false;
                }
                memory = acquireMemory();
            }
            current = segmentWindow(memory, buf.segmentLsn + segmentSize);
        } else {
            // Safe although buf may already be written: the open chain still holds the memory.
            buf.memory.retain();
            int offset = IoBuffer.offset(sealed);
            current = new IoBuffer(buf.memory, buf.base + offset, buf.segmentLsn, buf.fileOffset + offset, segmentSize, 0);
        }
        // NOTE: the next window is published BEFORE the hand-over, which may block on the progress lock:
        // writers spinning on the sealed window must not wait for it.
        if (handOver) {
            handOff(buf, callerFlushes);
        }
    }

    private SegmentMemory acquireMemory() {
        SegmentMemory memory = pool.tryAcquire();
        if (memory == null) {
            memoryWaits.increment();
        }
        if (memory != null) {
            return memory;
        }
        memoryWaiters.incrementAndGet();
        // A rotation must finish once begun (every writer spins on the sealed window until it does), so an
        // interrupt is kept for later rather than acted on: with the flag set the flush work's IO here would
        // close the log's file channel, and waits would end at once.
        boolean interrupted = false;
        try {
            while (memory == null) {
                interrupted |= Thread.interrupted();
                checkUsable();
                long epoch = progressEpoch.get();
                if (runFlushWorkQuietly() == 0) {
                    awaitProgress(epoch);
                }
                memory = pool.tryAcquire();
            }
            return memory;
        } finally {
            memoryWaiters.decrementAndGet();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    void handOff(IoBuffer buf) {
        handOff(buf, false);
    }

    private void handOff(IoBuffer buf, boolean callerFlushes) {
        ready.add(buf);
        if (!callerFlushes) {
            background.flushNeeded();
            // The window may be one a waiter sealed while a writer was still in it: wake one waiter to write
            // it. A caller that flushes itself leads: waking another would only make it race for the work.
            tipWaiters.wake(stability, true);
        }
        signalProgress();
    }

    void deleteBlob(long blobId) {
        blobs.deleteQuietly(blobId);
    }

    /**
     * Ends the segment being written (its rest is padding) and continues in a new one, which takes the
     * lowest free slot. The segment cleaner calls it when the log is writing in the file's last slots while
     * free slots lie below, so that the end of the file can be drained and cut off.
     */
    public void startNewSegment() {
        checkUsable();
        sealAndRotate(current, true, false);
    }

    /** The slot of the segment being written (-1 while it is being replaced). */
    public int activeSlot() {
        return slots.slotOf(current.segmentLsn);
    }

    /** Seals the current window if it holds data, so the next flush work writes it. */
    public void sealCurrent() {
        checkUsable();
        sealAndRotate(current, false, false);
    }

    // ---------------------------------------------------------------- atomic batches

    /**
     * Opens an atomic batch: writes its manifest. Every message reserved after this call and before
     * {@link #sealBatch} is durable together with the batch or not at all, and so is everything reserved
     * after the manifest by other threads. Keep batches short: no stable tip passes an unsealed batch.
     *
     * @return the manifest's LSN, to pass to {@link #sealBatch}
     */
    public long openBatch() {
        Reservation manifest = reserveRaw(MessageKind.BATCH_MANIFEST, LogFormat.NO_PAGE, new byte[0], 0, 0, false);
        stability.openBatch(manifest.lsn());
        return manifest.complete();
    }

    /**
     * Call before opening a batch while holding none: waits while somebody wants an LSN that is not stable yet
     * and some batch is open, until none is. Batches that keep overlapping form one group that is stable only
     * as a whole ({@code StabilityTracker}), so without this pause a steady stream of batches from several
     * threads could keep every flush waiting. Never call it while holding a batch open: it would wait for it.
     */
    public void awaitBatchAdmission() {
        while (wantedStable.get() >= stability.stableTip() && stability.hasOpenBatch()) {
            checkUsable();
            try {
                stability.awaitNoOpenBatch(BATCH_ADMISSION_RECHECK_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StorageException("interrupted while waiting to open an atomic batch", config.logFile(),
                        new java.io.InterruptedIOException("the thread's interrupt flag is set; nothing was changed"));
            }
        }
    }

    /**
     * Seals a batch: writes a seal naming its manifest. Must be called exactly once per opened batch,
     * even if the caller gives up on some of its writes: what is in memory is what must be on disk.
     */
    public void sealBatch(long manifestLsn) {
        byte[] body = new byte[LogFormat.LONG_BODY_LENGTH];
        ByteBuffer.wrap(body).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(0, manifestLsn);
        Reservation seal = reserveRaw(MessageKind.BATCH_SEAL, LogFormat.NO_PAGE, body, 0, body.length, false);
        stability.sealBatch(manifestLsn, seal.lsn() + seal.length());
        seal.complete();
        tipWaiters.wake(stability, true); // the stable tip may have moved, or a waiter can now seal and lead
        signalProgress();
    }

    // ---------------------------------------------------------------- durability

    /**
     * Returns once the message at {@code lsn}, and everything before it, is on disk and survives a
     * crash (batches included). Runs the flush work in this thread if nobody else is.
     *
     * @return the stable tip, above {@code lsn}
     */
    public long makeStable(long lsn) {
        return awaitTip(lsn, true);
    }

    /** Like {@link #makeStable}, but ignores batches: the bytes at {@code lsn} are on disk. */
    public long makeDurable(long lsn) {
        return awaitTip(lsn, false);
    }

    private long awaitTip(long lsn, boolean stable) {
        TipWaiters.Waiter waiter = null;
        try {
            while (true) {
                checkUsable();
                long tip = stable ? stability.stableTip() : stability.durableTip();
                if (tip > lsn) {
                    return tip;
                }
                if (Thread.currentThread().isInterrupted()) {
                    // Give the wait up, as a condition's would, and do no IO on this thread: an interrupt
                    // closes a file channel for every thread (FileChannelStorage reopens it, but the write fails).
                    throw new IllegalStateException("interrupted while waiting for the log to make LSN " + lsn
                            + (stable ? " stable" : " durable") + "; it becomes so with a later flush");
                }
                wantStable(lsn, true);
                if (waiter == null) {
                    // Registered before trying the flush work, and the tip checked once more: see TipWaiters.
                    waiter = tipWaiters.register(lsn, stable);
                } else if (runFlushWorkQuietly() == 0) {
                    tipWaiters.park(TIP_WAIT_BACKSTOP_NANOS); // returns at once if interrupted: see the loop's top
                }
            }
        } finally {
            if (waiter != null) {
                tipWaiters.remove(waiter);
            }
        }
    }

    /**
     * Points the flush work at making {@code lsn} stable: seals the window holding it, or, if it is on disk
     * already but a batch's seal holds the stable tip back (the batch began below it and sealed above it), the
     * window holding that seal. A batch still open is left alone (forcing it midway makes nothing stable);
     * once it seals, the next call here reaches its seal.
     */
    private void wantStable(long lsn, boolean callerFlushes) {
        if (stability.durableTip() <= lsn) {
            wantedStable.accumulateAndGet(lsn, Math::max);
            sealIfHolds(lsn, callerFlushes);
        } else {
            long sealEnd = stability.blockingSealEnd();
            if (sealEnd > 0 && sealEnd != Long.MAX_VALUE) {
                wantedStable.accumulateAndGet(sealEnd - 1, Math::max);
                sealIfHolds(sealEnd - 1, callerFlushes);
            }
        }
    }

    /** Seals the current window if it holds {@code lsn}; see {@link #sealAndRotate} for the flag. */
    private void sealIfHolds(long lsn, boolean callerFlushes) {
        IoBuffer buf = current;
        long h = buf.header();
        if (!IoBuffer.isSealed(h) && lsn >= buf.lsn) {
            if (lsn >= buf.lsn + IoBuffer.offset(h)) {
                throw new IllegalArgumentException("nothing was written at LSN " + lsn + " yet");
            }
            sealAndRotate(buf, false, callerFlushes);
        }
    }

    /**
     * Asks for everything up to {@code lsn} to become stable, without waiting: seals the window holding it (or
     * the seal of a batch holding the stable tip back at it, {@link #wantStable}), and the next flush work
     * forces. For asynchronous flushes (asked again while they wait, so a batch that seals meanwhile is
     * reached) and the periodic flush.
     */
    public void requestStable(long lsn) {
        checkUsable();
        wantedStable.accumulateAndGet(lsn, Math::max);
        wantStable(Math.min(lsn, maxReservedLsn()), false);
    }

    /**
     * What the periodic flush asks to become stable ({@link #requestStable}): everything reserved, but not
     * from the start of a group of batches that is still open on. The stable tip cannot pass an open batch
     * however much is forced, and the batch's writer flushes it when it wants it (a Pekko journal's write
     * call of 10 000 events is one batch): forcing it midway made that writer's own flush wait behind a
     * force that made nothing stable (docs/benchmarks.md, "Pekko journal"). What lies past the open group
     * becomes stable with it, at the writer's flush or the next periodic one, as it did before.
     */
    public long periodicFlushTarget() {
        long reserved = maxReservedLsn();
        long openGroup = stability.openGroupStart();
        return openGroup == Long.MAX_VALUE ? reserved : Math.min(reserved, openGroup - 1);
    }

    /** Whether somebody wants an LSN that is not durable yet (the flush work then forces). */
    boolean stabilityWanted() {
        return wantedStable.get() >= stability.durableTip();
    }

    /** Whether writers wait for a free IO buffer (the flush work then frees written ones, unforced). */
    boolean memoryWanted() {
        return memoryWaiters.get() > 0;
    }

    /**
     * Makes everything reserved so far durable (group commit with concurrent callers).
     *
     * @return the bytes by which this call moved the stable tip
     */
    public long flush() {
        long before = stability.stableTip();
        long after = makeStable(maxReservedLsn());
        return Math.max(0, after - before);
    }

    /** The tip callers may rely on after a crash: every message below it is on disk. */
    public long stableTip() {
        return stability.stableTip();
    }

    /**
     * Every byte below this is on disk, batches not considered (a message below it may still be dropped
     * by recovery if its batch's seal is not durable). Page-out uses it: a fragment below it can be read
     * back.
     */
    public long durableTip() {
        return stability.durableTip();
    }

    /** The LSN of the last message reserved. */
    public long maxReservedLsn() {
        // Derived rather than kept in a shared word, which would cost every reservation a CAS: the current
        // window is read BEFORE its header, and windows only follow each other in LSN order, so every LSN
        // below what this returns was reserved (by a reservation that may still be copying its bytes:
        // makeStable waits for it). Any LSN inside the last message will do for makeStable.
        IoBuffer buf = current;
        int offset = IoBuffer.offset(buf.header());
        long end = offset > buf.dataStart ? buf.lsn + offset : buf.lsn;
        return Math.max(end, openedAt) - 1;
    }

    /**
     * The flush work, as a plain object: whoever schedules it (the Flusher actor, a thread, a test)
     * calls {@link LogFlusher#doWork()}.
     */
    public LogFlusher flushWork() {
        return flusher;
    }

    private long runFlushWorkQuietly() {
        try {
            return flusher.doWork();
        } catch (LogWriteException e) {
            // The scheduler's retry policy owns failures; a helping caller only backs off.
            awaitProgress(progressEpoch.get());
            return 0;
        }
    }

    void signalProgress() {
        progressEpoch.incrementAndGet();
        // Read AFTER the increment, as a waiter registers BEFORE it reads the epoch: either the waiter sees
        // the new epoch and does not wait, or this sees the waiter and wakes it.
        if (progressWaiters.get() == 0) {
            return;
        }
        progressLock.lock();
        try {
            progress.signalAll();
        } finally {
            progressLock.unlock();
        }
    }

    /**
     * Waits until somebody signals progress after {@code epochSeen} was read (a window became ready, the
     * tip moved, a buffer came free, the log failed), or a few milliseconds at most. Edge-triggered: a
     * waiter whose condition is still unmet while another thread holds the flush work sleeps until that
     * thread reports, instead of spinning on state that has not changed. An interrupt ends the wait and stays
     * set: the caller decides whether it may give up where it stands.
     */
    private void awaitProgress(long epochSeen) {
        progressLock.lock();
        progressWaiters.incrementAndGet();
        try {
            if (progressEpoch.get() == epochSeen && failure.get() == null) {
                progress.await(5, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            progressWaiters.decrementAndGet();
            progressLock.unlock();
        }
    }

    // ---------------------------------------------------------------- reading

    /**
     * Reads the message at {@code lsn} / {@code pointer}, from its blob file if it is a blob, waiting
     * first for it to be on disk.
     *
     * @throws CorruptionException if the bytes there are not that message
     */
    public LogMessage read(long lsn, long pointer) {
        checkUsable();
        int inSegment = inSegment(lsn, pointer);
        makeDurable(lsn);
        try {
            int available = segmentSize - inSegment;
            ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(Math.min(available, 512)));
            int n = file.read(buf, pointer);
            int total = LogFormat.peekMessageLength(buf, 0, n);
            if (total > n && total <= available) {
                buf = LogFormat.le(ByteBuffer.allocate(total));
                n = file.read(buf, pointer);
            }
            buf.limit(n);
            return decode(lsn, pointer, buf, 0);
        } catch (IOException e) {
            throw new StorageException("reading LSN " + lsn, config.logFile(), e);
        }
    }

    /**
     * Reads {@code length} bytes of the log file from {@code pointer} on, all in one segment, with one
     * read: a span holding whole messages whose locations (LSN, pointer, length) the caller knows, to
     * {@link #decode} one by one. Waits first for the span's newest message, at {@code newestLsn}, to be
     * on disk, so the span's bytes never change while they are read (unless the segment is cleaned and
     * reused meanwhile: then {@link #decode} finds other messages there and says so).
     *
     * @param lsn the LSN of any message in the span (names the segment)
     * @throws IllegalArgumentException if the span does not lie in {@code lsn}'s segment
     */
    public ByteBuffer readSpan(long lsn, long newestLsn, long pointer, int length) {
        checkUsable();
        int inSegment = inSegment(lsn, pointer);
        if (length <= 0 || length > segmentSize - inSegment) {
            throw new IllegalArgumentException("a span of " + length + " bytes at pointer " + pointer
                    + " does not fit in its segment of " + segmentSize + " bytes");
        }
        makeDurable(newestLsn);
        try {
            ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(length));
            buf.limit(file.read(buf, pointer));
            return buf;
        } catch (IOException e) {
            throw new StorageException("reading " + length + " bytes from LSN " + lsn, config.logFile(), e);
        }
    }

    /**
     * The message at {@code lsn} / {@code pointer} from bytes read at that pointer, starting at {@code at}
     * in {@code span} (whose limit ends the bytes read): checked (CRC, segment), its blob read if it is
     * one, decompressed.
     *
     * @throws CorruptionException if the bytes there are not that message
     */
    public LogMessage decode(long lsn, long pointer, ByteBuffer span, int at) {
        LogFormat.MessageHeader header = new LogFormat.MessageHeader();
        LogFormat.Defect defect = LogFormat.readMessage(span, at, span.limit(), lsn >>> segmentShift, header);
        if (defect != null) {
            throw new CorruptionException(config.logFile(), pointer, "message at LSN " + lsn + " is " + defect);
        }
        byte[] body = new byte[header.bodyLength];
        span.get(at + header.headerLength, body);
        MessageKind kind = header.kind;
        if (kind.isBlob()) {
            long blobId = ByteBuffer.wrap(body).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0);
            body = blobs.read(blobId, kind);
        }
        if (config.compression() && kind.isPageData() && body.length > 0) {
            body = decompress(body, lsn);
        }
        return new LogMessage(kind.inlineVariant(), header.pid, lsn, body);
    }

    /** {@code pointer}'s offset in its segment, checked against {@code lsn}'s. */
    private int inSegment(long lsn, long pointer) {
        int inSegment = (int) (pointer & (segmentSize - 1));
        if ((lsn & (segmentSize - 1)) != inSegment) {
            throw new IllegalArgumentException("pointer " + pointer + " cannot hold LSN " + lsn);
        }
        return inSegment;
    }

    /**
     * Scans the stable log from {@code from} on, read-only, while writers go on: delivers to {@code sink}
     * exactly what recovery would replay from {@code from}, as far as the stable tip. Everything below the
     * stable tip is on disk and never changes, so this reads only immutable bytes.
     *
     * @param from 0, or an LSN an earlier scan returned
     * @return the LSN the delivered messages are complete up to: the stable tip, or the manifest of the
     *     first batch still open there (a clean cut: a later scan or a recovery continues from it)
     * @throws CorruptionException if a message below the stable tip does not decode
     */
    public long scanStable(long from, Consumer<LogEntry> sink) {
        checkUsable();
        reclaimGuard.readLock().lock();
        try {
            return scanStableLocked(from, sink);
        } finally {
            reclaimGuard.readLock().unlock();
        }
    }

    private long scanStableLocked(long from, Consumer<LogEntry> sink) {
        long to = stability.stableTip();
        if (from >= to) {
            return from;
        }
        if (!config.fsync()) {
            // With durability = os the stable tip is only handed to the operating system. What is built on
            // these bytes (a snapshot, which is forced) must not outlive them in a power loss: force them.
            try {
                file.force();
            } catch (IOException e) {
                throw new StorageException("forcing the log before a snapshot", config.logFile(), e);
            }
        }
        List<LogScanner.Segment> sequence = new ArrayList<>();
        for (Map.Entry<Long, Integer> segment : slots.segments().entrySet()) {
            long base = segment.getKey();
            if (base + segmentSize > from && base < to) {
                sequence.add(new LogScanner.Segment(base, to, segment.getValue()));
            }
        }
        try {
            return new LogScanner(config, file, blobs).scan(sequence, from, to, to, sink).tip;
        } catch (IOException e) {
            throw new StorageException("scanning the stable log from LSN " + from, config.logFile(), e);
        }
    }

    private byte[] decompress(byte[] body, long lsn) {
        long size = Zstd.getFrameContentSize(body);
        if (size < 0 || size > MAX_DECOMPRESSED_BODY) {
            throw new CorruptionException(config.logFile(), lsn, "compressed body of impossible size " + size);
        }
        byte[] out = Zstd.decompress(body, (int) size);
        if (out.length != size) {
            throw new CorruptionException(config.logFile(), lsn, "compressed body does not decompress");
        }
        return out;
    }

    // ---------------------------------------------------------------- state

    /** What recovery found when this log was opened. */
    public RecoveryReport recoveryReport() {
        return recovery;
    }

    /** Counters of the log's work since it was opened. */
    public LogStats stats() {
        return new LogStats(aborts.sum(), flusher.windowsWritten(), flusher.bytesWritten(),
                flusher.forces(), flusher.failures(), memoryWaits.sum(), stability.stableTip());
    }

    // ---------------------------------------------------------------- reclaiming space (the segment cleaner)

    /** Base LSN → slot of every segment the log file holds, in LSN order. */
    public Map<Long, Integer> segments() {
        return slots.segments();
    }

    /** Slots the log file spans: segments in use, free slots, and slots allocated but not written yet. */
    public int slotCount() {
        return slots.slotCount();
    }

    /** Segments holding a slot: written, being written, or waiting to be cleaned. One volatile read. */
    public int segmentsInUse() {
        return slots.inUse();
    }

    /**
     * Segments in use that the cleaner found empty and would have freed but for a backup that had yet to copy
     * them, or a {@link Retention} (an export): the space these hold for a while. Writers are not slowed for it
     * ({@code SpaceGate}); the first pass after the copy has read them, or the retention is closed, frees them.
     */
    public int segmentsKeptForCopies() {
        return keptForCopiesCount;
    }

    /** Free slots inside the log file, which new segments take (lowest first) before the file grows. */
    public int freeSlotCount() {
        return slots.freeSlots();
    }

    /** The tip the {@code stable-tip} file records: see {@link #promiseDurableTip()}. */
    public long promisedTip() {
        return promised.get();
    }

    /**
     * Records the stable tip in the {@code stable-tip} file (forcing the log first when the store does not
     * force every flush), so that from now on recovery takes every byte below it as durable: a segment
     * missing below it was cleaned on purpose, and so was a missing blob. Segment headers make the same
     * promise, but only once the log starts a new segment; the cleaner cannot wait for that.
     *
     * <p>The stable tip, not the durable one: the durable tip may pass the manifest of a batch whose seal is
     * not on disk yet, and a crash then makes recovery drop that batch and end the log at its manifest,
     * below such a promise; the next life writes from there, and a crash before those bytes are forced
     * leaves zeros below the promise, which recovery must take for corruption. The file outlives recovery
     * (a segment header past the manifest does not: recovery zeroes its slot), so it must never pass an
     * unsealed batch.
     *
     * @return the tip now promised on disk
     */
    public synchronized long promiseDurableTip() {
        checkUsable();
        long tip = stability.stableTip();
        if (tip <= promised.get()) {
            return promised.get();
        }
        try {
            if (!config.fsync()) {
                file.force(); // the promise is forced: the bytes it speaks for must be too
            }
            StableTipFile.write(io, config.directory(), tip);
        } catch (IOException e) {
            throw new StorageException("recording the durable tip", config.directory(), e);
        }
        return promised.accumulateAndGet(tip, Math::max);
    }

    /**
     * Whether the segment at {@code segmentLsn} may be freed as far as recovery is concerned: it ends
     * strictly below {@link #promisedTip()}. Ending exactly at it is not enough: recovery takes the segment
     * holding byte {@code promised - 1} as the start of the log's tail and refuses to open without it (a
     * segment rotated by {@link #startNewSegment} or filled just before the promise, with nothing written
     * after it yet, ends exactly there).
     */
    public boolean freeable(long segmentLsn) {
        return segmentLsn + segmentSize < promised.get();
    }

    /**
     * Gives back the slots of segments nothing needs any more (the segment cleaner's last step): zeroes
     * their headers and forces, so that no crash brings a header back over bytes a new segment is writing;
     * then frees the slots for new segments; then cuts free slots off the end of the file. A segment a copy
     * in progress has listed and not read yet ({@link Copy}) is left as it is: a later pass frees it.
     *
     * <p>A segment must end strictly below the promised tip ({@link #freeable}): recovery starts the log's
     * contiguous tail at the segment holding the promised tip's last byte, so that segment must stay even
     * when it is empty, until a promise reaches past its end.
     *
     * @param segmentLsns base LSNs of {@link #freeable} segments, with no page's fragment in them in any
     *     version recovery can build (the caller's duty)
     * @return the segments freed, and the slots cut off the end of the file
     * @throws IllegalStateException if a segment does not end below the promised tip, or holds no slot
     */
    public Freed freeSegments(java.util.Collection<Long> segmentLsns) {
        checkUsable();
        for (long base : segmentLsns) {
            if (!freeable(base)) {
                throw new IllegalStateException("segment LSN " + base + " does not end below the durable tip promised "
                        + "on disk (" + promised.get() + "): recovery would take its absence for the end of the log, "
                        + "or find the segment holding the promised tip's last byte missing");
            }
            if (slots.slotOf(base) < 0) {
                throw new IllegalStateException("segment LSN " + base + " holds no slot");
            }
        }
        if (segmentLsns.isEmpty()) {
            return new Freed(List.of(), 0); // no wait for a snapshot's scan to end
        }
        reclaimGuard.writeLock().lock();
        try {
            List<Long> freeing = new ArrayList<>();
            for (long base : segmentLsns) {
                if (retained(base)) {
                    keptForCopies.add(base);
                } else {
                    freeing.add(base);
                }
            }
            keptForCopiesCount = keptForCopies.size();
            if (freeing.isEmpty()) {
                return new Freed(freeing, 0);
            }
            ByteBuffer zeros = ByteBuffer.allocate(LogFormat.SEGMENT_HEADER_LENGTH);
            for (long base : freeing) {
                Failpoints.check("cleaner.zero");
                zeros.clear();
                file.write(zeros, (long) slots.slotOf(base) * segmentSize);
            }
            if (config.fsync()) {
                Failpoints.check("cleaner.force");
                file.force();
            }
            freeing.forEach(slots::release);
            keptForCopies.removeAll(freeing);
            keptForCopiesCount = keptForCopies.size();
            return new Freed(freeing, slots.trimFreeTail(segmentSize, length -> {
                Failpoints.check("cleaner.truncate");
                file.truncate(length);
            }));
        } catch (IOException e) {
            throw new StorageException("freeing cleaned segments", config.logFile(), e);
        } finally {
            reclaimGuard.writeLock().unlock();
        }
    }

    /** What {@link #freeSegments} did: the segments it freed (base LSNs), and the slots it cut off the file. */
    public record Freed(List<Long> segments, int slotsTruncated) {}

    /** Blob id → bytes of its file, for every blob file present. */
    public Map<Long, Long> blobSizes() {
        try {
            return blobs.sizes();
        } catch (IOException e) {
            throw new StorageException("listing blobs", config.blobDirectory(), e);
        }
    }

    /**
     * Deletes the blob file of a message whose page was replaced by a later durable version, unless a copy
     * in progress has listed it and not read it yet ({@link Copy}): a later pass deletes it then.
     *
     * @return whether it was deleted (or was gone already)
     * @throws IllegalStateException if the blob is not below {@link #promisedTip()}: recovery would take its
     *     absence for a torn tail
     */
    public boolean deleteReplacedBlob(long blobId) {
        checkUsable();
        if (blobId >= promised.get()) {
            throw new IllegalStateException("blob " + blobId + " is not below the durable tip promised on disk ("
                    + promised.get() + ")");
        }
        reclaimGuard.writeLock().lock();
        try {
            if (retainedBlob(blobId)) {
                keptBlobs.add(blobId);
                return false;
            }
            Failpoints.check("cleaner.blob");
            io.deleteIfExists(blobs.path(blobId));
            keptBlobs.remove(blobId);
            return true;
        } catch (IOException e) {
            throw new StorageException("deleting a replaced blob", blobs.path(blobId), e);
        } finally {
            reclaimGuard.writeLock().unlock();
        }
    }

    // ---------------------------------------------------------------- backups

    /**
     * Creates the store directory {@code target} (its parent must exist, it must not) with an empty log file
     * and no {@code format} file yet, made durable: until {@link #finishCopy} writes that file, an open of
     * {@code target} refuses it ("the store has a log but no format file") instead of taking a copy cut short
     * for a store.
     */
    public void startCopy(Path target) {
        try {
            io.createDirectories(target);
            io.open(target.resolve(config.logFile().getFileName()), StorageIo.OpenMode.CREATE_NEW).close();
            io.syncDirectory(target);
            if (target.getParent() != null) {
                io.syncDirectory(target.getParent());
            }
        } catch (IOException e) {
            throw new StorageException("creating the backup's directory", target, e);
        }
    }

    /** Whether a retention keeps the segment at {@code base} (a copy in progress has yet to read it, say). */
    private boolean retained(long base) {
        return retentions.stream().anyMatch(retention -> retention.keeps(base));
    }

    /** Whether a retention keeps the blob {@code blobId}. */
    private boolean retainedBlob(long blobId) {
        return retentions.stream().anyMatch(retention -> retention.keepsBlob(blobId));
    }

    /** Registers {@code retention}; the caller holds the read side of {@code reclaimGuard} (see {@link #retain}). */
    private Retention register(Retention retention) {
        retentions.add(retention);
        return retention;
    }

    /**
     * Keeps every segment and every blob until the returned {@link Retention} is closed, or narrowed to the
     * segments its reader still needs ({@link Retention#keepOnly}): the segment cleaner frees none of those and
     * deletes no blob meanwhile (what it finds empty is freed by its first pass after, and writers are not
     * slowed for that space, as for a backup's). A reader that takes locations out of the page table after
     * this call can read them later, whatever writers and the cleaner do meanwhile: they move pages to new
     * locations, but the bytes at the old ones stay (bytes below the reserved tip are never written again
     * while their slot is not freed).
     *
     * <p>Registered under the guard the cleaner's frees take: a free that ended before it freed only segments
     * that no page's current locations named any more, and none starts before the registration is seen.
     */
    public Retention retain() {
        checkUsable();
        reclaimGuard.readLock().lock();
        try {
            return register(new Retention(null, null));
        } finally {
            reclaimGuard.readLock().unlock();
        }
    }

    /** The base LSN of the segment that holds {@code lsn}: segments start at multiples of the segment size. */
    public long segmentOf(long lsn) {
        return lsn & -(long) segmentSize;
    }

    /**
     * Segments and blobs kept from the cleaner until closed: every one at first ({@link #retain}), or those a
     * {@link Copy} listed; after {@link #keepOnly}, the segments named there; less those {@link #release}d.
     */
    public final class Retention implements AutoCloseable {
        /** The base LSNs of the segments kept, or {@code null}: every one. Read by the cleaner's frees. */
        private volatile Set<Long> segments;
        /** The ids of the blobs kept, or {@code null}: every one. */
        private final Set<Long> blobIds;

        /** Keeps {@code segmentBases} and {@code blobIds} ({@code null}: every one), copied. */
        private Retention(java.util.Collection<Long> segmentBases, java.util.Collection<Long> blobIds) {
            this.segments = segmentBases == null ? null : concurrentCopy(segmentBases);
            this.blobIds = blobIds == null ? null : concurrentCopy(blobIds);
        }

        /**
         * From now on keeps only these segments (base LSNs, {@link #segmentOf}) of all those it kept: the
         * reader needs no other location it holds. Blobs stay kept until the close.
         */
        public void keepOnly(java.util.Collection<Long> segmentBases) {
            segments = concurrentCopy(segmentBases); // one volatile write of a set built whole
        }

        /** The reader is done with the segment at {@code segmentBase}; its next pass may free it. */
        public void release(long segmentBase) {
            Set<Long> kept = segments;
            if (kept != null) {
                kept.remove(segmentBase);
            }
        }

        private boolean keeps(long segmentBase) {
            Set<Long> kept = segments;
            return kept == null || kept.contains(segmentBase);
        }

        private void releaseBlob(long blobId) {
            blobIds.remove(blobId);
        }

        private boolean keepsBlob(long blobId) {
            return blobIds == null || blobIds.contains(blobId);
        }

        private static Set<Long> concurrentCopy(java.util.Collection<Long> ids) {
            Set<Long> copy = ConcurrentHashMap.newKeySet();
            copy.addAll(ids);
            return copy;
        }

        /**
         * Lets the cleaner free again what it found empty meanwhile, and tells it so
         * ({@link Background#retentionEnded}) if it left anything for a retention: a pass costs a scan of the
         * page table, and a store that takes snapshots often must not bring one per close. Under the read side of
         * {@code reclaimGuard}: a pass's frees either came before (what they kept is seen) or come after (they
         * no longer keep anything for this one). Idempotent.
         */
        @Override
        public void close() {
            boolean keptSomething;
            reclaimGuard.readLock().lock();
            try {
                keptSomething = retentions.remove(this) && (!keptForCopies.isEmpty() || !keptBlobs.isEmpty());
            } finally {
                reclaimGuard.readLock().unlock();
            }
            if (keptSomething && !closed && failure.get() == null) { // a closed store's cleaner is gone
                background.retentionEnded();
            }
        }
    }

    /**
     * Lists what a copy of the log as of its stable tip reads: every segment and every blob below the tip.
     * Until the returned {@link Copy} has read one of them, or is closed, the segment cleaner neither frees
     * that segment (its slot is not zeroed or reused) nor deletes that blob; what it has read may go at once.
     * Bytes below the stable tip never change, so the copy reads the log at that tip exactly, while writers,
     * the flusher and the cleaner go on.
     *
     * <p>The tip is read under the guard the cleaner's frees take: a free done before it judged its
     * segments dead as of a stable tip at most this one (dead here too), and none can start until the lists
     * are registered.
     */
    public Copy listForCopy() {
        checkUsable();
        reclaimGuard.readLock().lock();
        try {
            long upTo = stability.stableTip();
            Map<Long, Integer> segments = new java.util.TreeMap<>(slots.segments()).headMap(upTo);
            Map<Long, Long> blobSizes = new java.util.TreeMap<>(blobs.sizes()).headMap(upTo);
            List<Long> blobIds = List.copyOf(blobSizes.keySet());
            return new Copy(upTo, segments, blobIds, register(new Retention(segments.keySet(), blobIds)));
        } catch (IOException e) {
            throw new StorageException("listing the blobs to copy", config.blobDirectory(), e);
        } finally {
            reclaimGuard.readLock().unlock();
        }
    }

    /**
     * A copy of the log in progress ({@link #listForCopy}): the segments and blobs it has yet to read, which
     * the cleaner leaves alone. Close it when done or failed (every one left is released).
     */
    public final class Copy implements AutoCloseable {
        private final long upTo;
        private final Map<Long, Integer> segments;
        private final List<Long> blobIds;
        /** What it has yet to read: every listed segment and blob, each released once read. */
        private final Retention unread;

        private Copy(long upTo, Map<Long, Integer> segments, List<Long> blobIds, Retention unread) {
            this.upTo = upTo;
            this.segments = segments;
            this.blobIds = blobIds;
            this.unread = unread;
        }

        /** The LSN the copy holds the log below: the stable tip when it was listed. */
        public long upTo() {
            return upTo;
        }

        /**
         * Writes the copy into the directory {@link #startCopy} made: every listed slot, byte for byte at its
         * own offset (a snapshot's locations are file offsets) and cut at the copy's LSN, oldest segment first
         * (the cleaner's usual targets), each released once read; then the listed blobs; then a
         * {@code stable-tip} file promising the copy's LSN. Slots the file holds past it (the segment being
         * written, slots taken since, free slots with stale bytes) stay zeros in the copy, so its recovery ends
         * the log exactly at that LSN.
         *
         * @return the bytes copied
         */
        public long writeTo(Path target) {
            try (StorageFile out = io.open(target.resolve(config.logFile().getFileName()), StorageIo.OpenMode.EXISTING)) {
                Failpoints.check("backup.copy");
                long copied = 0;
                ByteBuffer chunk = ByteBuffer.allocate(Math.min(segmentSize, StorageIo.COPY_CHUNK));
                for (Map.Entry<Long, Integer> segment : segments.entrySet()) {
                    long base = segment.getKey();
                    long at = (long) segment.getValue() * segmentSize;
                    copied += StorageFile.copyRange(file, out, at, Math.min(segmentSize, upTo - base), chunk);
                    unread.release(base);
                }
                out.force();
                Path blobCopies = target.resolve(config.directory().relativize(config.blobDirectory()));
                io.createDirectories(blobCopies);
                for (long id : blobIds) {
                    copied += io.copy(blobs.path(id), blobCopies.resolve(LogFormat.blobFileName(id)));
                    unread.releaseBlob(id);
                }
                io.syncDirectory(blobCopies);
                io.syncDirectory(target);
                StableTipFile.write(io, target, upTo);
                return copied;
            } catch (IOException e) {
                throw new StorageException("copying the log to " + target, config.logFile(), e);
            }
        }

        /** Releases every segment and blob the copy has not read. */
        @Override
        public void close() {
            unread.close();
        }
    }

    /**
     * Ends a copy: writes the {@code format} file into {@code target} (the last file a backup writes; see
     * {@link #startCopy}), replaced whole and made durable.
     */
    public void finishCopy(Path target) {
        Path temp = target.resolve(StoreDescriptor.FILE_NAME + StorageIo.TEMP_SUFFIX);
        try {
            io.copy(config.directory().resolve(StoreDescriptor.FILE_NAME), temp);
            Failpoints.check("backup.format");
            io.rename(temp, target.resolve(StoreDescriptor.FILE_NAME));
            io.syncDirectory(target);
        } catch (IOException e) {
            throw new StorageException("writing the backup's format file", target, e);
        }
    }

    /**
     * Bytes the log file and blobs take on disk, less the zeros the flusher filled ahead of its writes (at
     * most {@link LogFlusher#ZERO_FILL_AHEAD}, space allocated for the next writes): the segment cleaner
     * weighs this against the live bytes, and nothing it cleans could give that space back.
     */
    public long sizeOnDisk() {
        try {
            long fileSize = file.size();
            return fileSize - flusher.zerosAhead(fileSize) + blobs.totalSize();
        } catch (IOException e) {
            throw new StorageException("measuring", config.logFile(), e);
        }
    }

    public int segmentSize() {
        return segmentSize;
    }

    /**
     * Puts the log into the failed state: every later call throws {@link StoreFailedException} naming
     * {@code cause}. The first cause wins.
     */
    public void fail(Throwable cause) {
        if (failure.compareAndSet(null, cause)) {
            LOG.get().error("the log at {} failed and accepts no more writes", config.directory(), cause);
        }
        tipWaiters.wakeAll();
        signalProgress();
    }

    /** The cause of the failed state, or {@code null}. */
    public Throwable failure() {
        return failure.get();
    }

    boolean isClosed() {
        return closed;
    }

    void checkUsable() {
        if (closed) {
            throw new IllegalStateException("the log at " + config.directory() + " is closed");
        }
        Throwable f = failure.get();
        if (f != null) {
            throw new StoreFailedException(f);
        }
    }

    void windowWritten(IoBuffer buf) {
        releaseMemory(buf.memory);
    }

    private void releaseMemory(SegmentMemory memory) {
        if (memory.release()) {
            pool.giveBack(memory);
        }
    }

    /**
     * Makes everything written durable and records the durable tip ({@link StableTipFile}), then releases
     * the file, the lock and the buffers. Callers must have stopped writing. A failed log is closed without
     * flushing.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            if (failure.get() == null) {
                sealCurrent();
                flush();
                if (config.fsync()) {
                    synchronized (this) { // not while the cleaner writes a promise of its own
                        // stable, not durable: see promiseDurableTip (a batch left unsealed is dropped)
                        StableTipFile.write(io, config.directory(), stability.stableTip());
                    }
                }
            }
        } catch (IOException e) {
            throw new StorageException("recording the durable tip at close", config.directory(), e);
        } finally {
            flusher.shutDown(() -> closed = true);
            tipWaiters.wakeAll();
            closeQuietly(file);
            closeQuietly(lock);
        }
    }

    private static void closeQuietly(Closeable c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException e) {
                LOG.get().warn("closing {} failed", c, e);
            }
        }
    }
}
