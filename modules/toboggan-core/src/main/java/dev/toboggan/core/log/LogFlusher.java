package dev.toboggan.core.log;

import dev.toboggan.core.Failpoints;
import dev.toboggan.core.LazyLogger;
import dev.toboggan.core.StorageException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The log's flush work as a plain object (Agrona's {@code Agent} shape): {@link #doWork()} writes every
 * ready window, and forces the file once for all of them (group commit) when somebody wants stability.
 * The Flusher actor, a plain thread, or a caller waiting in {@link Log#makeStable} runs it; one at a time
 * (a try-lock: a second caller returns at once; a caller of {@code makeStable} then parks until the force
 * satisfies it or it is woken to lead the next one, see {@link TipWaiters}).
 *
 * <h2>Implementation notes</h2>
 * A window goes READY (handed over) → WRITTEN (positional write done, memory still held) → DURABLE
 * (forced: reported to the {@link StabilityTracker}, memory back to the pool). All three transitions happen
 * under {@code workLock}.
 * <ul>
 *   <li>A force happens only when somebody wants stability ({@link Log#stabilityWanted()}: a caller waits in
 *       {@code makeStable}, or asked with {@code requestStable}, e.g. the periodic flush): a stream of
 *       appends nobody waits for costs writes, not fsyncs.
 *   <li>A failed attempt keeps its windows and writes them all again next time, rewriting the bytes
 *       rather than trusting a retried fsync (after a failed fsync Linux may have dropped the dirty pages).
 *       An attempt cut off by an interrupt of the thread running it ({@code InterruptedIOException}) is
 *       redone the same way but does not count towards {@code maxRetries}: it says nothing about the disk.
 *   <li>When writers are starved for buffers and nobody wants stability, WRITTEN windows give their memory
 *       back unforced ({@code releasedUnforced}). Their bytes can then no longer be rewritten, so a force
 *       that fails after that fails the log at once (as PostgreSQL and RocksDB treat a failed fsync),
 *       instead of retrying.
 *   <li><b>Zero-fill ahead</b> (when the store forces): a window that grew the file is followed by zeros,
 *       {@link #ZERO_FILL_AHEAD} past the window but never past its segment's slot (the window's own bytes
 *       are not zeroed first: they are written once). A force after a write that grew the file is a full
 *       {@code fsync} (file size and extents must reach the disk too; see {@code FileChannelStorage}), and
 *       appending at the end made EVERY force one; with the file filled ahead, the forces in between
 *       overwrite allocated blocks and are {@code fdatasync}s of data alone: about half as long on this
 *       project's machines (docs/benchmarks.md, "Pekko journal"). The zeros lie past every byte written so
 *       far (windows are written only here, under {@code workLock}, and the cleaner never cuts a slot in
 *       use), so they never cover data, and they read as the log's end after a crash: recovery treats them
 *       like any unwritten tail.
 * </ul>
 */
public final class LogFlusher {
    private static final LazyLogger LOG = LazyLogger.of(LogFlusher.class);
    /**
     * How far past a window's end the file is zero-filled when the window would grow it: large enough that
     * the file grows (and a force costs an {@code fsync}) once per this many bytes of log instead of once
     * per flush, small enough that filling it delays that flush by little.
     */
    public static final int ZERO_FILL_AHEAD = 1 << 20;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024);

    private final Log log;
    private final int maxRetries;
    /** File offset where the last zero-fill ended (-1: none yet). Written under workLock; read by {@link #zerosAhead}. */
    private volatile long filledTo = -1;
    /** File offset where the last window written ended. Written under workLock; read by {@link #zerosAhead}. */
    private volatile long writtenTo;
    private final ReentrantLock workLock = new ReentrantLock();
    /** Windows of a failed attempt, written again first. Guarded by workLock. */
    private List<IoBuffer> retry = new ArrayList<>();
    /** Windows written, not yet forced, memory still held. Guarded by workLock. */
    private final List<IoBuffer> written = new ArrayList<>();
    /** LSN ranges [lo, hi) written and released unforced. Guarded by workLock. */
    private final List<long[]> releasedRanges = new ArrayList<>();
    /** Guarded by workLock. */
    private int consecutiveFailures;
    private final LongAdder windows = new LongAdder();
    private final LongAdder bytes = new LongAdder();
    private final LongAdder forces = new LongAdder();
    private final LongAdder failures = new LongAdder();

    LogFlusher(Log log, int maxRetries) {
        this.log = log;
        this.maxRetries = maxRetries;
    }

    /**
     * Writes every window that is ready, and forces when somebody wants stability.
     *
     * @return bytes written plus, if it forced, 1; 0 if there was nothing to do or another thread is doing
     *     the work
     * @throws LogWriteException if a write or the force failed (the windows are kept for a retry)
     */
    public long doWork() {
        if (!workLock.tryLock()) {
            return 0;
        }
        long progress;
        try {
            progress = writeAndForce();
        } finally {
            workLock.unlock();
        }
        // After the release, so that the waiter woken to lead finds the work's lock free (TipWaiters). Not
        // after a failure: waiters retry at the pace of the log's progress signal, as a scheduler would.
        boolean moreWork = hasWork();
        if (progress > 0 || moreWork) {
            log.tipWaiters.wake(log.stability, moreWork);
        }
        return progress;
    }

    /** {@link #doWork()}'s work, under {@code workLock}. */
    private long writeAndForce() {
        if (log.isClosed() || log.failure() != null) {
            return 0;
        }
        long progress = writeReady();
        if (!log.config.fsync()) {
            markDurable();
        } else if (!written.isEmpty() || !releasedRanges.isEmpty()) {
            if (log.stabilityWanted()) {
                force();
                progress++;
            } else if (log.memoryWanted()) {
                releaseUnforced();
            }
        }
        if (progress > 0) {
            log.signalProgress();
        }
        return progress;
    }

    /** Whether windows are waiting to be written, or written ones to be forced for somebody. */
    public boolean hasWork() {
        return !log.ready.isEmpty() || !retry.isEmpty()
                || ((!written.isEmpty() || !releasedRanges.isEmpty()) && log.stabilityWanted());
    }

    private long writeReady() {
        List<IoBuffer> batch = retry;
        retry = new ArrayList<>();
        for (IoBuffer b; (b = log.ready.poll()) != null; ) {
            batch.add(b);
        }
        if (batch.isEmpty()) {
            return 0;
        }
        batch.sort(Comparator.comparingLong(b -> b.lsn));
        long total = 0;
        try {
            for (IoBuffer b : batch) {
                total += writeWindow(b);
            }
        } catch (IOException | RuntimeException e) {
            retry = batch;
            throw failed(e);
        }
        written.addAll(batch);
        windows.add(batch.size());
        bytes.add(total);
        return total;
    }

    private void force() {
        try {
            log.blobs.syncIfCreated();
            Failpoints.check("log.force");
            log.file.force();
            forces.increment();
        } catch (IOException | RuntimeException e) {
            if (!releasedRanges.isEmpty()) {
                // Bytes of released windows can no longer be rewritten: a retried fsync would prove nothing.
                // That holds for an interrupted force too: the interrupt may have hidden an error of it.
                log.fail(e instanceof IOException io ? new StorageException("forcing (after buffers were released)",
                        log.config.logFile(), io) : e);
            }
            written.sort(Comparator.comparingLong(b -> b.lsn));
            retry.addAll(0, written);
            written.clear();
            throw failed(e);
        }
        markDurable();
    }

    private LogWriteException failed(Exception e) {
        if (e instanceof InterruptedIOException) {
            // The thread running the work was interrupted (FileChannelStorage reopened the file): not the
            // disk failing, so it does not count towards failing the log. The windows are kept and written
            // again, so whatever that write or force left undone is redone in full.
            return new LogWriteException(e, consecutiveFailures);
        }
        consecutiveFailures++;
        failures.increment();
        if (consecutiveFailures > maxRetries) {
            log.fail(e instanceof IOException io ? new StorageException("flushing", log.config.logFile(), io) : e);
        }
        return new LogWriteException(e, consecutiveFailures);
    }

    /** Reports every written window, and every range released unforced, durable; frees their memory. */
    private void markDurable() {
        consecutiveFailures = 0;
        for (long[] range : releasedRanges) {
            log.stability.markDurable(range[0], range[1]);
        }
        releasedRanges.clear();
        for (IoBuffer b : written) {
            log.stability.markDurable(b.lsn, b.endLsn(b.header(), log.segmentSize));
            log.windowWritten(b);
        }
        written.clear();
    }

    /** Writers starve for buffers and nobody waits for stability: free written windows without a force. */
    private void releaseUnforced() {
        for (IoBuffer b : written) {
            releasedRanges.add(new long[] {b.lsn, b.endLsn(b.header(), log.segmentSize)});
            log.windowWritten(b);
        }
        written.clear();
    }

    /** Writes one sealed window; a maxed one gets its cap first. */
    private int writeWindow(IoBuffer b) throws IOException {
        long h = b.header();
        int length = IoBuffer.offset(h);
        ByteBuffer memory = b.bytes();
        if (IoBuffer.isMaxed(h)) {
            int capAt = b.base + length;
            if (log.segmentSize - capAt >= LogFormat.RED_ZONE) {
                long segmentNumber = b.segmentLsn / log.segmentSize;
                int capLength = LogFormat.writeMessageHeader(memory, capAt, MessageKind.CAP, 0, segmentNumber,
                        LogFormat.NO_PAGE);
                LogFormat.sealMessage(memory, capAt, capLength);
                length += capLength;
            }
        }
        Failpoints.check("log.write");
        long end = b.fileOffset + length;
        long fileEnd = log.config.fsync() ? fileSize() : Long.MAX_VALUE;
        ByteBuffer window = memory.duplicate().limit(b.base + length).position(b.base);
        log.file.write(window, b.fileOffset);
        writtenTo = end;
        if (end > fileEnd) {
            try {
                zeroFillAhead(fileEnd, b.fileOffset, end, b.fileOffset - b.base + log.segmentSize);
            } catch (IOException e) {
                // Only a speed-up, and zeros past the end are an unwritten tail: the window's write above
                // decided whether this attempt fails.
                LOG.get().debug("zero-filling the log ahead of LSN {} failed: {}", b.lsn, e.toString());
            }
        }
        return length;
    }

    /** The log file's size, or {@code Long.MAX_VALUE} (no zero-fill) if it cannot be read. */
    private long fileSize() {
        try {
            return log.file.size();
        } catch (IOException e) {
            LOG.get().debug("reading the log's size for its zero-fill failed: {}", e.toString());
            return Long.MAX_VALUE;
        }
    }

    /**
     * The zeros the last fill put past the last window written, if they end the file ({@code fileSize}) and
     * lie in that window's slot: space allocated for the next writes, not log. A gauge (two volatile reads).
     */
    long zerosAhead(long fileSize) {
        long filled = filledTo;
        long written = writtenTo;
        if (filled != fileSize || written >= filled || written <= 0
                || (written - 1) / log.segmentSize != (filled - 1) / log.segmentSize) {
            return 0;
        }
        return filled - written;
    }

    /**
     * After a window at {@code [writeStart, writeEnd)} grew the file from {@code fileEnd}, fills the file with
     * zeros to {@link #ZERO_FILL_AHEAD} past the window, but not past {@code slotEnd}, the end of the slot
     * being written, and any gap between the old end and the window. The window's own bytes are not zeroed:
     * they are written already (zeroing before the write wrote every byte of a window that grew the file
     * twice, and a window a periodic flush seals during a load is megabytes); and since the window is
     * written first, a disk too full for the zeros still holds it.
     */
    private void zeroFillAhead(long fileEnd, long writeStart, long writeEnd, long slotEnd) throws IOException {
        long to = Math.min(slotEnd, writeEnd + ZERO_FILL_AHEAD);
        writeZeros(fileEnd, writeStart);
        writeZeros(writeEnd, to);
        filledTo = to;
    }

    private void writeZeros(long from, long to) throws IOException {
        ByteBuffer zeros = ZEROS.duplicate();
        for (long at = from; at < to; at += zeros.capacity()) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), to - at));
            log.file.write(zeros, at);
        }
    }

    /** Runs {@code closing} while no flush work can be running, and makes later calls do nothing. */
    void shutDown(Runnable closing) {
        workLock.lock();
        try {
            closing.run();
        } finally {
            workLock.unlock();
        }
    }

    long windowsWritten() {
        return windows.sum();
    }

    long bytesWritten() {
        return bytes.sum();
    }

    long forces() {
        return forces.sum();
    }

    long failures() {
        return failures.sum();
    }
}
