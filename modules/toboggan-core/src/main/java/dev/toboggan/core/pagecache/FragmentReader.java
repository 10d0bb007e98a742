package dev.toboggan.core.pagecache;

import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.log.Log;
import dev.toboggan.core.log.LogMessage;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;

/**
 * Reads the log fragments of a paged-out page (its base and deltas) for a page-in, with as few reads as
 * their places allow: the miss path of the cache.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>One read per span</b>: every location carries the message's length, so a fragment is read
 *       with exactly one positional read of its bytes (no header probe first). Fragments that lie in one
 *       segment close together (gaps of at most {@value #MAX_GAP} bytes, at most {@value #MAX_SPAN} bytes
 *       in all) are read together, with one read over the span, and decoded from it: the bytes between
 *       them (other pages' messages) cost less to copy than another system call or device request.
 *   <li><b>Parallel only for the device</b>: spans are read one after the other on the caller's thread
 *       while they come from memory (the OS page cache answers a read in microseconds, far less than a
 *       hand-off to another thread costs); only when the first span's read took longer than
 *       {@value #DEVICE_READ_NANOS} ns (it went to the device) are the others handed to the page-in
 *       readers ({@code page-in-parallelism}), and the caller waits for them.
 *   <li><b>Consistency</b>: the caller reads only locations of a slot entry it loaded, whose fragments
 *       are all durable or are made durable first ({@link Log#readSpan}); each decoded message is
 *       checked (CRC, segment, page id). If a segment was cleaned and reused under the read, the
 *       message check fails and the caller retries against the slot's current entry.
 *   <li>Stateless but for its configuration: any number of threads read at once.
 * </ul>
 */
final class FragmentReader {
    /** Bytes of other messages between two fragments worth reading through rather than making another read. */
    static final int MAX_GAP = 16 << 10;
    /** The largest span read at once. */
    static final int MAX_SPAN = 256 << 10;
    /** A read slower than this went to the device rather than to the OS page cache. */
    static final long DEVICE_READ_NANOS = 50_000;

    /** Reads one span (called once per read, before it: the failpoint and the metrics of a pull). */
    interface SpanReads {
        void beforeRead();

        void afterRead(long nanos);
    }

    private final Log log;
    private final Path logFile;
    private final int segmentSize;
    /** Where spans after the first go when the device is being read; {@code null}: always on the caller. */
    private final Executor readers;
    private final SpanReads hooks;

    FragmentReader(Log log, Path logFile, Executor readers, SpanReads hooks) {
        this.log = log;
        this.logFile = logFile;
        this.segmentSize = log.segmentSize();
        this.readers = readers;
        this.hooks = hooks;
    }

    /**
     * The messages of the {@code n} fragments at {@code locations}, in fragment order, each checked to
     * belong to {@code pid}.
     *
     * @throws dev.toboggan.core.CorruptionException if a fragment's bytes are not its message
     */
    LogMessage[] read(long pid, long[] locations, int n) {
        LogMessage[] messages = new LogMessage[n];
        if (n == 1) {
            readSpan(pid, locations, new int[] {0}, 0, 1, messages);
            return messages;
        }
        int[] byPointer = sortedByPointer(locations, n);
        int[] spanStarts = new int[n + 1];
        int spans = 0;
        for (int k = 0; k < n; ) {
            spanStarts[spans++] = k;
            k = spanEnd(locations, byPointer, k, n);
        }
        spanStarts[spans] = n;
        long start = System.nanoTime();
        readSpan(pid, locations, byPointer, spanStarts[0], spanStarts[1], messages);
        if (spans == 1) {
            return messages;
        }
        if (readers == null || System.nanoTime() - start < DEVICE_READ_NANOS) {
            for (int s = 1; s < spans; s++) {
                readSpan(pid, locations, byPointer, spanStarts[s], spanStarts[s + 1], messages);
            }
            return messages;
        }
        CompletableFuture<?>[] others = new CompletableFuture<?>[spans - 1];
        for (int s = 1; s < spans; s++) {
            int from = spanStarts[s];
            int to = spanStarts[s + 1];
            others[s - 1] = CompletableFuture.runAsync(() -> readSpan(pid, locations, byPointer, from, to, messages),
                    readers);
        }
        try {
            CompletableFuture.allOf(others).join(); // also publishes the readers' writes to messages
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        return messages;
    }

    /** The fragment indexes {@code 0..n-1} in the order of their file pointers (n is small: insertion sort). */
    private static int[] sortedByPointer(long[] locations, int n) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            int j = i;
            long pointer = Page.fragmentPointer(locations, i);
            while (j > 0 && Page.fragmentPointer(locations, order[j - 1]) > pointer) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = i;
        }
        return order;
    }

    /** One past the last of {@code byPointer[from..]} that joins the span starting at {@code byPointer[from]}. */
    private int spanEnd(long[] locations, int[] byPointer, int from, int n) {
        long first = Page.fragmentPointer(locations, byPointer[from]);
        long segment = first / segmentSize;
        long end = first + Page.fragmentLength(locations, byPointer[from]);
        int k = from + 1;
        while (k < n) {
            long pointer = Page.fragmentPointer(locations, byPointer[k]);
            long next = pointer + Page.fragmentLength(locations, byPointer[k]);
            if (pointer / segmentSize != segment || pointer - end > MAX_GAP || next - first > MAX_SPAN) {
                break;
            }
            end = Math.max(end, next);
            k++;
        }
        return k;
    }

    /** Reads the fragments {@code byPointer[from..to)}, which lie in one span, into {@code messages}. */
    private void readSpan(long pid, long[] locations, int[] byPointer, int from, int to, LogMessage[] messages) {
        int firstFragment = byPointer[from];
        long first = Page.fragmentPointer(locations, firstFragment);
        long end = first;
        long newestLsn = -1;
        for (int k = from; k < to; k++) {
            int i = byPointer[k];
            end = Math.max(end, Page.fragmentPointer(locations, i) + Page.fragmentLength(locations, i));
            newestLsn = Math.max(newestLsn, Page.fragmentLsn(locations, i));
        }
        hooks.beforeRead();
        long start = System.nanoTime();
        ByteBuffer span = log.readSpan(Page.fragmentLsn(locations, firstFragment), newestLsn, first,
                (int) (end - first));
        for (int k = from; k < to; k++) {
            int i = byPointer[k];
            long pointer = Page.fragmentPointer(locations, i);
            LogMessage m = log.decode(Page.fragmentLsn(locations, i), pointer, span, (int) (pointer - first));
            if (m.pid() != pid) {
                throw new CorruptionException(logFile, pointer, "the message at LSN "
                        + m.lsn() + " belongs to page " + m.pid() + ", not to page " + pid);
            }
            messages[i] = m;
        }
        hooks.afterRead(System.nanoTime() - start);
    }
}
