package dev.toboggan.core.log;

import dev.toboggan.core.Failpoints;
import dev.toboggan.core.StorageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The log's flush work as a plain object (Agrona's {@code Agent} shape): {@link #doWork()} writes every
 * ready window, forces the file once for all of them, and reports them durable. The Flusher actor, a
 * plain thread, or a caller waiting in {@link Log#makeStable} runs it; one at a time (a try-lock: a
 * second caller returns at once and waits for the first one's progress signal instead).
 *
 * <p>A failed attempt keeps its windows and writes them all again next time, rewriting the bytes rather
 * than trusting a retried fsync (after a failed fsync Linux may have dropped the dirty pages).
 */
public final class LogFlusher {
    private final Log log;
    private final int maxRetries;
    private final ReentrantLock workLock = new ReentrantLock();
    /** Windows of a failed attempt, written again first. Guarded by workLock. */
    private List<IoBuffer> retry = new ArrayList<>();
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
     * Writes and forces every window that is ready.
     *
     * @return bytes written; 0 if nothing was ready or another thread is doing the work
     * @throws LogWriteException if the write or the force failed (the windows are kept for a retry)
     */
    public long doWork() {
        if (!workLock.tryLock()) {
            return 0;
        }
        try {
            if (log.isClosed() || log.failure() != null) {
                return 0;
            }
            return writeReady();
        } finally {
            workLock.unlock();
        }
    }

    /** Whether windows are waiting to be written. */
    public boolean hasWork() {
        return !log.ready.isEmpty() || !retry.isEmpty();
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
        long written = 0;
        try {
            for (IoBuffer b : batch) {
                written += writeWindow(b);
            }
            log.blobs.syncIfCreated();
            Failpoints.check("log.force");
            log.file.force();
            forces.increment();
        } catch (IOException | RuntimeException e) {
            retry = batch;
            consecutiveFailures++;
            failures.increment();
            if (consecutiveFailures > maxRetries) {
                log.fail(e instanceof IOException io ? new StorageException("flushing", log.config.logFile(), io) : e);
            }
            throw new LogWriteException(e, consecutiveFailures);
        }
        consecutiveFailures = 0;
        for (IoBuffer b : batch) {
            log.stability.markDurable(b.lsn, b.endLsn(b.header(), log.segmentSize));
            log.windowWritten(b);
        }
        windows.add(batch.size());
        bytes.add(written);
        log.signalProgress();
        return written;
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
        ByteBuffer window = memory.duplicate().limit(b.base + length).position(b.base);
        log.file.write(window, b.fileOffset);
        return length;
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
