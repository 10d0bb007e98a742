package dev.toboggan.core.pagecache;

import dev.toboggan.core.Backup;
import dev.toboggan.core.Background;
import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.Failpoints;
import dev.toboggan.core.LazyLogger;
import dev.toboggan.core.StoreFailedException;
import dev.toboggan.core.io.StorageIo;
import dev.toboggan.core.log.Log;
import dev.toboggan.core.log.LogEntry;
import dev.toboggan.core.log.LogReplay;
import dev.toboggan.core.log.LogMessage;
import dev.toboggan.core.log.MessageKind;
import dev.toboggan.core.log.RecoveryReport;
import dev.toboggan.core.log.Reservation;
import dev.toboggan.core.pagecache.PageCacheMetrics.Op;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SortedMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A lock-free, log-structured page cache, generic over the page type {@code P} and the delta type
 * {@code D} (seeds 000 and 001; LLAMA's mapping table): every page is reached through a table from page
 * id to the page's current immutable version, and every change is logged, then installed by one
 * compare-and-set of that table slot.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Write path</b> (link, replace, free, meta, counter, allocate, rewrite): encode the message,
 *       reserve it in the log, build the new {@link Page}, CAS it into the slot, then complete the
 *       reservation on success or abort it (a canceled record recovery skips) on failure. NOTE: the
 *       reservation is open only between reserve and complete/abort, never across a wait, because an
 *       open reservation keeps its IO buffer from being written. The CAS is the linearization point of
 *       every change; completion comes after it, so a message never becomes durable for a change that
 *       did not happen.
 *   <li><b>Conflicts</b>: a CAS that fails against a version with the same {@code ts} lost only to a
 *       move (page-in, page-out, {@link #rewrite}) and is retried against it: the content the caller
 *       based the change on is still there. A different {@code ts} is a real change: the caller gets
 *       the current version back, materialized. A {@link #rewrite} gives up on any change: a newer
 *       version is newer on disk too.
 *   <li><b>Slots</b> hold a resident or free {@link Page}, or a paged-out page's bare locations array
 *       (see {@link Page} for the states); a change's CAS may expect either.
 *   <li><b>Read path</b>: {@link #get} of a resident page is a load of the slot and, for a sample of the
 *       hits (a smaller one for pages most reads pass through, {@link Materializer#isPassedThrough}), one
 *       lossy write to the access buffers ({@link CacheEvictor#hit}). A paged-out page is read
 *       back from its fragments ({@link FragmentReader}: few reads, on the caller's thread unless they go
 *       to the device), merged by the {@link Materializer}, and installed by a fix-up CAS that
 *       keeps {@code ts} (a miss); if that CAS loses, the reader takes whatever is current. A read that
 *       fails is retried if the page's fragments changed meanwhile, else it is fatal.
 *   <li><b>Page-out</b> CASes the resident {@link Page} to its own locations array, only when every
 *       fragment is below the log's durable tip, so a read-back never waits for the flusher. The
 *       {@link CacheEvictor} decides which and when; every successful CAS tells it the change of
 *       resident bytes.
 *   <li><b>Backpressure</b>: writes and page-ins first wait while the cache is over its capacity +
 *       slack ({@link CacheEvictor#admit}), before anything is reserved or changed.
 *   <li><b>Free ids</b> go back to allocation through {@link PageIds}'s grace period: after every
 *       {@link Guard} open at the free has closed.
 *   <li><b>Failure</b>: the log's failed state is the one global error. An injected failure at one of
 *       this class's IO sites, or an error reading a page back that a retry does not explain, puts the
 *       log into it; every call then throws {@link StoreFailedException} naming the first cause.
 *   <li><b>Reserved pages</b>: {@value #META_PID} is the meta page (named roots), {@value #COUNTER_PID}
 *       the id generator's mark; both are always resident and never paged out. User pages start at
 *       {@value #FIRST_USER_PID}.
 * </ul>
 *
 * <p>Thread safety: every method may be called from any thread, except that {@link #close()} and
 * {@link #abandon()} must come after every other call has returned.
 *
 * @param <P> the page type
 * @param <D> the delta type
 */
public final class PageCache<P, D> implements AutoCloseable {
    /** The meta page: named roots. */
    public static final long META_PID = 0;
    /** The id generator's high-water mark. */
    public static final long COUNTER_PID = 1;
    /** The first page id {@link #allocate} can hand out. */
    public static final long FIRST_USER_PID = 2;
    /** "No root" in {@link #root} and {@link #casRoot}. */
    public static final long NO_ROOT = -1;

    private static final LazyLogger LOG = LazyLogger.of(PageCache.class);
    private static final byte[] EMPTY = new byte[0];
    /** A thread's encoding buffer larger than this is dropped after use rather than kept. */
    private static final int SCRATCH_KEEP = 1 << 20;
    private static final ThreadLocal<BodyWriter> SCRATCH = ThreadLocal.withInitial(BodyWriter::new);

    private final PageCacheConfig config;
    private final Log log;
    private final Materializer<P, D> materializer;
    private final PageTable table;
    private final PageIds pids;
    private final ReadTimestamps readTimestamps = new ReadTimestamps();
    private final PageCacheMetrics metrics = new PageCacheMetrics();
    private final CacheEvictor evictor;
    private final int consolidationThreshold;
    /** Reads the fragments of a page but the first; {@code null} when pages are read one fragment at a time. */
    private final ThreadPoolExecutor readers;
    private final FragmentReader fragments;
    private final AtomicInteger openBatches = new AtomicInteger();
    private final ThreadLocal<OpenBatches> ownBatches = ThreadLocal.withInitial(OpenBatches::new);
    private final IdGenerator ids;
    private final SnapshotWriter snapshots;
    private final SegmentCleaning cleaning;
    private final StoreBackup backups;
    private final boolean wasRecovered;
    private volatile boolean closed;

    private PageCache(PageCacheConfig config, Log log, Materializer<P, D> materializer, PageTable table,
            TableReplay replay, SnapshotWriter snapshots, StoreBackup backups, IdMarkFile idMarks,
            IdGenerator.Mark filedMark, Background background, long openedAt) {
        this.config = config;
        this.log = log;
        this.snapshots = snapshots;
        this.backups = backups;
        this.cleaning = new SegmentCleaning(this, log);
        this.materializer = materializer;
        this.table = table;
        this.evictor = new CacheEvictor(this, table, log, background, config.cacheCapacity(),
                config.cacheWaitTimeout());
        this.consolidationThreshold = config.consolidationThreshold();
        this.pids = new PageIds(Math.max(FIRST_USER_PID, replay.maxPid() + 1));
        // free, or an allocation whose first write did not survive: nobody can hold either (read from the
        // snapshot's live maps where its pages are not decoded yet, see PageTable)
        table.forEachVacant(FIRST_USER_PID, pids.next(), pids::reusableNow);
        this.readers = config.pageInParallelism() > 1 ? newReaders(config.pageInParallelism()) : null;
        this.fragments = new FragmentReader(log, config.log().logFile(), readers, pullHooks());

        Object meta = table.get(META_PID);
        Object counter = table.get(COUNTER_PID);
        this.wasRecovered = meta != null && counter != null;
        if (meta != null) {
            long[] locations = Page.locationsOf(meta);
            table.set(META_PID, new Page<>(META_PID, readValue(META_PID, locations), locations, 0));
        } else {
            install(META_PID, null, MessageKind.INLINE_META, Meta.EMPTY);
        }
        long interval = config.idgenPersistInterval();
        // a mark recorded outside the log by a thread inside a batch (see IdGenerator): ids restart past it too
        long filedRestart = filedMark == null ? 0 : filedMark.restartAt(interval);
        IdGenerator.MarkFile markFile = mark -> idMarks.record(new IdGenerator.Mark(mark, interval));
        if (counter != null) {
            long[] locations = Page.locationsOf(counter);
            IdGenerator.Mark recovered = (IdGenerator.Mark) readValue(COUNTER_PID, locations);
            table.set(COUNTER_PID, new Page<>(COUNTER_PID, recovered, locations, 0));
            // Nothing is written here: the first generateId writes this run's first mark and makes it
            // stable (see IdGenerator), so an open costs no fsync, and a close after no change no snapshot.
            this.ids = new IdGenerator(interval, Math.max(recovered.restartAt(interval), filedRestart),
                    recovered.mark(), Page.lastLsn(locations), recovered.mark(), this::writeMark, log::makeStable,
                    markFile);
        } else {
            install(COUNTER_PID, null, MessageKind.COUNTER, new IdGenerator.Mark(0, interval));
            this.ids = new IdGenerator(interval, filedRestart, 0, ((Page<?>) table.get(COUNTER_PID)).lastLsn(),
                    Long.MIN_VALUE, this::writeMark, log::makeStable, markFile);
        }
        metrics.record(Op.RECOVERY, System.nanoTime() - openedAt);
    }

    /**
     * Opens (creating if needed) the store in {@code config.log().directory()} and recovers its page
     * table: after a crash, every page is as the last durable change left it, atomic batches are whole
     * or absent, and freed ids are free again.
     *
     * @param background where the log hands its flush work (e.g. a {@link dev.toboggan.core.log.FlushThread},
     *     started with {@link #log()} after this returns); {@link Background#NONE}: whoever waits for
     *     durability does the work
     * @throws dev.toboggan.core.CorruptionException if durable data is damaged; nothing on disk was changed
     */
    public static <P, D> PageCache<P, D> open(PageCacheConfig config, StorageIo io, Background background,
            Materializer<P, D> materializer) {
        Objects.requireNonNull(materializer, "materializer");
        long openedAt = System.nanoTime();
        Recovery recovery = new Recovery(new SnapshotStore(io, config.log().directory()), config.log().logFile());
        Log log = Log.open(config.log(), io, background, recovery);
        try {
            recovery.replay.checkMissingBlobs();
            SnapshotWriter snapshots = new SnapshotWriter(io, config.log(), log, background, recovery.snapshot);
            IdMarkFile idMarks = new IdMarkFile(io, config.log().directory());
            return new PageCache<>(config, log, materializer, recovery.snapshot.table(), recovery.replay, snapshots,
                    new StoreBackup(io, config.log(), log, snapshots), idMarks, idMarks.read(), background, openedAt);
        } catch (RuntimeException | Error e) {
            // Nothing this open wrote was acknowledged: release the log without a close's final flush, which
            // never finished on a log cut short under its snapshot (found by DamagedStoreFuzzTest).
            log.fail(e);
            try {
                log.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** Loads the newest usable snapshot once the store is locked, then replays the log after it. */
    private static final class Recovery implements LogReplay {
        private final SnapshotStore store;
        private final Path logFile;
        SnapshotStore.Loaded snapshot;
        TableReplay replay;

        Recovery(SnapshotStore store, Path logFile) {
            this.store = store;
            this.logFile = logFile;
        }

        @Override
        public long start() throws IOException {
            snapshot = store.loadNewest();
            replay = new TableReplay(snapshot.table(), logFile, snapshot.maxPid());
            return snapshot.lsn();
        }

        @Override
        public void accept(LogEntry entry) {
            replay.accept(entry);
        }

        @Override
        public void missingBlob(LogEntry entry, Path blob) {
            replay.missingBlob(entry, blob);
        }
    }

    private static ThreadPoolExecutor newReaders(int parallelism) {
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor pool = new ThreadPoolExecutor(parallelism, parallelism, 10, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(parallelism * 64), r -> {
                    Thread t = new Thread(r, "toboggan-page-in-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                }, new ThreadPoolExecutor.CallerRunsPolicy());
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    // ---------------------------------------------------------------- reading

    /**
     * The current version of a page, materialized: read back from the log if it was paged out.
     *
     * @return the page, or {@code null} if the page is free (freed, or allocated but lost in a crash
     *     before its first write was durable)
     * @throws IllegalArgumentException if {@code pid} is reserved or was never handed out
     */
    @SuppressWarnings("unchecked")
    public Page<P> get(long pid) {
        if (pid < FIRST_USER_PID || pid >= PageTable.CAPACITY) {
            throw notAUserPage(pid, "read with get");
        }
        checkUsable();
        int draw = ThreadLocalRandom.current().nextInt();
        if ((draw & (PageCacheMetrics.GET_SAMPLE_EVERY - 1)) == 0) {
            return timedGet(pid, draw);
        }
        Object entry = table.get(pid);
        if (entry instanceof Page<?> page && page.value != Page.FREE) {
            evictor.hit(pid, draw, materializer.isPassedThrough((P) page.value));
            return (Page<P>) page;
        }
        return (Page<P>) getSlow(pid, entry);
    }

    @SuppressWarnings("unchecked")
    private Page<P> timedGet(long pid, int draw) {
        long start = System.nanoTime();
        Object entry = table.get(pid);
        Page<?> result;
        if (entry instanceof Page<?> page && page.value != Page.FREE) {
            evictor.hit(pid, draw, materializer.isPassedThrough((P) page.value));
            result = page;
        } else {
            result = getSlow(pid, entry);
        }
        metrics.time(Op.GET, System.nanoTime() - start);
        metrics.countSampled(Op.GET, PageCacheMetrics.GET_SAMPLE_EVERY);
        return (Page<P>) result;
    }

    private Page<?> getSlow(long pid, Object entry) {
        if (entry == null || Page.isFree(entry)) {
            if (pid >= pids.next()) {
                throw neverAllocated(pid);
            }
            return null;
        }
        evictor.admit();
        metrics.misses.increment();
        Page<?> resident = pageIn(pid, entry);
        return resident.isFree() ? null : resident;
    }

    /** {@code entry} if it is a resident or free page (or {@code null}), else the page read back and installed. */
    private Page<?> materialize(long pid, Object entry) {
        return entry == null || entry instanceof Page<?> ? (Page<?>) entry : pageIn(pid, entry);
    }

    /**
     * Reads a paged-out page back and installs it with a fix-up CAS that keeps its version.
     *
     * @return the resident version (or whatever is current if the page changed meanwhile: it may be
     *     free)
     */
    private Page<?> pageIn(long pid, Object pagedOut) {
        long start = System.nanoTime();
        Object entry = pagedOut;
        while (entry instanceof long[] locations) {
            Object value;
            try {
                value = readValue(pid, locations);
            } catch (StoreFailedException e) {
                throw e;
            } catch (RuntimeException e) {
                Object now = table.get(pid);
                if (Page.locationsOf(now) != locations) {
                    entry = now; // moved or changed while we read: its old fragments may be gone
                    continue;
                }
                throw fail(e);
            }
            Page<?> resident = new Page<>(pid, value, locations, weigh(value));
            if (table.compareAndSet(pid, locations, resident)) {
                evictor.changed(pid, locations, resident);
                metrics.record(Op.PAGE_IN, System.nanoTime() - start);
                return resident;
            }
            entry = table.get(pid);
        }
        return (Page<?>) entry;
    }

    /** The weight of a user page's version holding {@code value}; see {@link Page#weight}. */
    @SuppressWarnings("unchecked")
    private int weigh(Object value) {
        long bytes = materializer.heapSize((P) value) + Page.SHELL_BYTES + CachePolicy.ENTRY_BYTES;
        return (int) Math.min(Integer.MAX_VALUE, Math.max(0, bytes));
    }

    /**
     * The value of the version of page {@code pid} at {@code locations}, paged out when a shared frozen view
     * copied it ({@link FrozenPages#read}): through the cache, as a {@link #get} reads it, while the page's slot
     * still holds that version (the same locations array, resident or paged out: an array stands for one
     * version, {@link PageTable}), so that the view's later reads of an unchanged page, an index node say, find
     * it in memory; read from the log, installed nowhere, once the page has changed or moved since.
     */
    Object readFrozen(long pid, long[] locations) {
        Object now = table.get(pid);
        if (Page.locationsOf(now) == locations) {
            if (now == locations) { // paged out still: a miss, with a get's backpressure
                evictor.admit();
                metrics.misses.increment();
            }
            Page<?> page = materialize(pid, now);
            if (page != null && page.fragments == locations) {
                return page.value;
            }
        }
        return readValue(pid, locations);
    }

    /** Reads every fragment at {@code locations} and merges them into a value. */
    @SuppressWarnings("unchecked")
    Object readValue(long pid, long[] locations) {
        int n = Page.fragmentCount(locations);
        LogMessage[] messages = fragments.read(pid, locations, n);
        Object base = decodeBase(pid, messages[0]);
        if (n == 1) {
            return base;
        }
        if (pid < FIRST_USER_PID) {
            throw new CorruptionException(config.log().logFile(), Page.fragmentPointer(locations, 1),
                    "the reserved page " + pid + " has " + (n - 1) + " deltas");
        }
        List<D> deltas = new ArrayList<>(n - 1);
        for (int i = 1; i < n; i++) {
            LogMessage m = messages[i];
            if (m.kind() != MessageKind.INLINE_LINK) {
                throw new CorruptionException(config.log().logFile(), Page.fragmentPointer(locations, i),
                        "fragment " + i + " of page " + pid + " is a " + m.kind() + ", not a delta");
            }
            deltas.add(materializer.decodeDelta(BodyReader.of(m.body())));
        }
        return Objects.requireNonNull(materializer.merge((P) base, deltas), "Materializer.merge returned null");
    }

    private Object decodeBase(long pid, LogMessage m) {
        MessageKind expected = baseKind(pid);
        if (m.kind() == MessageKind.FREE) {
            throw new IllegalStateException("page " + pid + " was freed while being read");
        }
        if (m.kind() != expected) {
            throw new CorruptionException(config.log().logFile(), m.lsn(),
                    "the base of page " + pid + " is a " + m.kind() + ", not a " + expected);
        }
        BodyReader in = BodyReader.of(m.body());
        if (pid == META_PID) {
            return Meta.decode(in);
        } else if (pid == COUNTER_PID) {
            return IdGenerator.Mark.decode(in);
        }
        return Objects.requireNonNull(materializer.decodePage(in), "Materializer.decodePage returned null");
    }

    /** A pull is one read of the log during a page-in (of one fragment, or of several that lie together). */
    private FragmentReader.SpanReads pullHooks() {
        return new FragmentReader.SpanReads() {
            @Override
            public void beforeRead() {
                failpoint("pagecache.pull");
            }

            @Override
            public void afterRead(long nanos) {
                metrics.record(Op.PULL, nanos);
            }
        };
    }

    // ---------------------------------------------------------------- writing

    /**
     * Creates a page: reuses the lowest freed id whose grace period is over, else a new one.
     *
     * @return the new page's resident version; its {@link Page#pid()} is the id
     */
    @SuppressWarnings("unchecked")
    public Page<P> allocate(P value) {
        long start = System.nanoTime();
        checkUsable();
        Objects.requireNonNull(value, "value");
        evictor.admit();
        awaitSpace();
        BodyWriter out = scratch();
        materializer.encodePage(value, out);
        long pid = pids.take();
        Outcome result;
        try {
            Object old = table.get(pid);
            if (old != null && !Page.isFree(old)) {
                throw new IllegalStateException("page " + pid + " was handed out for reuse but holds "
                        + Page.describe(pid, old));
            }
            result = casPage(pid, old, MessageKind.INLINE_NODE, value, out, false);
        } catch (RuntimeException | Error e) {
            pids.giveBack(pid);
            throw e;
        }
        if (!result.succeeded()) {
            throw new IllegalStateException("a new page " + pid + " was changed by another thread before it was "
                    + "handed out: " + Page.describe(pid, result.entry()));
        }
        metrics.record(Op.ALLOCATE, System.nanoTime() - start);
        return (Page<P>) result.entry();
    }

    /**
     * Appends a delta to a page: the new version is {@code Materializer.apply(view.value(), delta)}, and
     * the log gets the delta only. Once the page has {@code consolidation-threshold} fragments (or what
     * {@link Materializer#consolidationThreshold} makes of it for this page) the link writes the whole
     * merged page instead, as a {@link #replace} would.
     *
     * @param view the version the delta was computed against (from {@link #get} or an earlier change)
     * @return success with the new version, or failure with the current one if the page changed since
     *     {@code view} (a move does not count: that is retried here)
     */
    @SuppressWarnings("unchecked")
    public CasResult<P> link(long pid, Page<P> view, D delta) {
        boolean timed = (ThreadLocalRandom.current().nextInt() & (PageCacheMetrics.LINK_SAMPLE_EVERY - 1)) == 0;
        long start = timed ? System.nanoTime() : 0;
        checkChange(pid, view, "linked");
        Objects.requireNonNull(delta, "delta");
        evictor.admit();
        awaitSpace();
        P newValue = Objects.requireNonNull(materializer.apply((P) view.value, delta), "Materializer.apply returned null");
        CasResult<P> result;
        if (view.fragmentCount() >= consolidationThreshold((P) view.value)) {
            metrics.consolidations.increment();
            result = replaceWith(pid, view, newValue);
        } else {
            BodyWriter out = scratch();
            materializer.encodeDelta(delta, out);
            result = linkWith(pid, view, newValue, out);
        }
        if (timed) {
            metrics.record(Op.LINK, System.nanoTime() - start);
        } else {
            metrics.count(Op.LINK);
        }
        return result;
    }

    /** The fragments a version holding {@code value} may have before a link consolidates it. */
    private int consolidationThreshold(P value) {
        return Math.min(PageCacheConfig.MAX_CONSOLIDATION_THRESHOLD,
                materializer.consolidationThreshold(value, consolidationThreshold));
    }

    @SuppressWarnings("unchecked")
    private CasResult<P> linkWith(long pid, Page<?> view, P newValue, BodyWriter delta) {
        byte[] body = delta.array();
        int length = delta.length();
        int weight = weigh(newValue);
        Object old = view;
        while (true) {
            failpoint("pagecache.reserve.link");
            Reservation r = log.reserve(MessageKind.INLINE_LINK, pid, body, 0, length);
            Page<?> next = new Page<>(pid, newValue,
                    Page.appended(Page.locationsOf(old), r.lsn(), r.pointer(), r.length(), Page.tsOf(old) + 1), weight);
            if (table.compareAndSet(pid, old, next)) {
                r.complete();
                evictor.changed(pid, old, next);
                snapshots.operationLogged();
                return new CasResult<>(true, (Page<P>) next);
            }
            r.abort();
            Object current = table.get(pid);
            if (Page.tsOf(current) != Page.tsOf(old)) {
                metrics.conflicts.increment();
                return new CasResult<>(false, (Page<P>) materialize(pid, current));
            }
            metrics.relocationRetries.increment();
            old = current;
        }
    }

    /**
     * Replaces a page's content with {@code value}: one full image in the log, the page's older
     * fragments no longer needed.
     *
     * @param view the version the new value was derived from
     * @return success with the new version, or failure with the current one if the page changed since
     *     {@code view}
     */
    public CasResult<P> replace(long pid, Page<P> view, P value) {
        long start = System.nanoTime();
        checkChange(pid, view, "replaced");
        Objects.requireNonNull(value, "value");
        evictor.admit();
        awaitSpace();
        CasResult<P> result = replaceWith(pid, view, value);
        metrics.record(Op.REPLACE, System.nanoTime() - start);
        return result;
    }

    @SuppressWarnings("unchecked")
    private CasResult<P> replaceWith(long pid, Page<?> view, P value) {
        BodyWriter out = scratch();
        materializer.encodePage(value, out);
        Outcome result = casPage(pid, view, MessageKind.INLINE_NODE, value, out, false);
        return new CasResult<>(result.succeeded(), (Page<P>) materialize(pid, result.entry()));
    }

    /**
     * Frees a page. Its id is handed out again once every {@link Guard} open now has closed.
     *
     * @return success with the free tombstone, or failure with the current version if the page changed
     *     since {@code view}
     * @throws IllegalArgumentException if {@code pid} is a reserved page
     * @throws IllegalStateException if the page is already free (a double free)
     */
    @SuppressWarnings("unchecked")
    public CasResult<P> free(long pid, Page<P> view) {
        long start = System.nanoTime();
        checkUsable();
        checkUserPid(pid, "freed");
        checkView(pid, view);
        if (view.isFree()) {
            throw doubleFree(pid);
        }
        Outcome result = freeEntry(pid, view, start);
        return new CasResult<>(result.succeeded(), (Page<P>) materialize(pid, result.entry()));
    }

    /**
     * The version ({@link Page#ts()}) of page {@code pid} now, without reading the page back if it is paged out:
     * for a caller that will {@linkplain #free(long, long) free it by that version} and needs nothing of what
     * it holds.
     *
     * @throws IllegalStateException if the page is free
     */
    public long version(long pid) {
        checkUsable();
        checkUserPid(pid, "looked up");
        Object entry = table.get(pid);
        if (entry == null || Page.isFree(entry)) {
            throw new IllegalStateException("page " + pid + " is free: it has no version");
        }
        return Page.tsOf(entry);
    }

    /**
     * Frees a page by its {@linkplain #version version} instead of a view, without reading it back if it is
     * paged out (a tree's teardown frees thousands of pages it has no further use for). Moves of the page by the
     * segment cleaner or the cache since that version are not changes.
     *
     * @return whether it was freed: {@code false} if the page changed since {@code version}
     * @throws IllegalStateException if the page is already free (a double free)
     */
    public boolean free(long pid, long version) {
        long start = System.nanoTime();
        checkUsable();
        checkUserPid(pid, "freed");
        Object entry = table.get(pid);
        if (entry == null || Page.isFree(entry)) {
            throw doubleFree(pid);
        }
        return Page.tsOf(entry) == version && freeEntry(pid, entry, start).succeeded();
    }

    /** Frees the page whose slot held {@code expected} (a resident or paged-out version): {@link #free}'s CAS. */
    private Outcome freeEntry(long pid, Object expected, long start) {
        awaitSpace();
        Outcome result = casPage(pid, expected, MessageKind.FREE, Page.FREE, null, false);
        if (result.succeeded()) {
            pids.retire(pid);
        } else if (Page.isFree(result.entry())) {
            throw doubleFree(pid);
        }
        metrics.record(Op.FREE, System.nanoTime() - start);
        return result;
    }

    /**
     * The one write primitive of every full-image change: reserve, CAS, complete or abort (see the class
     * notes).
     *
     * @param expected the version the change is based on; {@code null} for a slot never written
     * @param body the encoded message, or {@code null} for an empty one
     * @param rewrite whether this only moves the page: the version keeps its {@code ts}, and any
     *     concurrent change makes it fail
     * @return success with the installed {@link Page}, or failure with the entry that beat it (perhaps
     *     paged out)
     */
    private Outcome casPage(long pid, Object expected, MessageKind kind, Object value, BodyWriter body,
            boolean rewrite) {
        byte[] bytes = body == null ? EMPTY : body.array();
        int length = body == null ? 0 : body.length();
        String failpoint = reserveFailpoint(kind);
        int weight = value == Page.FREE || pid < FIRST_USER_PID ? 0 : weigh(value);
        Object old = expected;
        while (true) {
            failpoint(failpoint);
            Reservation r = log.reserve(kind, pid, bytes, 0, length);
            long ts = old == null ? 1 : rewrite ? Page.tsOf(old) : Page.tsOf(old) + 1;
            Page<?> next = new Page<>(pid, value, Page.locations(r.lsn(), r.pointer(), r.length(), ts), weight);
            if (table.compareAndSet(pid, old, next)) {
                r.complete();
                evictor.changed(pid, old, next);
                snapshots.operationLogged();
                return new Outcome(true, next);
            }
            r.abort();
            Object current = table.get(pid);
            if (rewrite || old == null || Page.tsOf(current) != Page.tsOf(old)) {
                if (!rewrite) {
                    metrics.conflicts.increment();
                }
                return new Outcome(false, current);
            }
            metrics.relocationRetries.increment();
            old = current;
        }
    }

    /**
     * What {@link #casPage} did: on success {@code entry} is the installed {@link Page}, on failure the
     * slot's entry that beat it.
     */
    private record Outcome(boolean succeeded, Object entry) {}

    /** Installs a reserved page at open. */
    private void install(long pid, Object expected, MessageKind kind, Object value) {
        BodyWriter out = scratch();
        encodeValue(pid, value, out);
        if (!casPage(pid, expected, kind, value, out, false).succeeded()) {
            throw new IllegalStateException("page " + pid + " changed while the store was opening");
        }
    }

    /**
     * Moves a page to the log's tip without changing its content: writes its whole current value (or
     * its free record) again, keeping its version, so that callers holding a view of it are not
     * disturbed. The segment cleaner calls this to empty old segments; it also consolidates a page's
     * fragments into one. Retries until the page is rewritten; returns at once for an id that holds no
     * page.
     */
    public void rewrite(long pid) {
        long start = System.nanoTime();
        checkUsable();
        if (pid < 0 || pid >= pids.next()) {
            throw neverAllocated(pid);
        }
        while (true) {
            Object page = table.get(pid);
            if (page == null) {
                return;
            }
            Outcome result;
            if (Page.isFree(page)) {
                result = casPage(pid, page, MessageKind.FREE, Page.FREE, null, true);
            } else {
                Page<?> resident = materialize(pid, page);
                if (resident == null || resident.isFree()) {
                    continue;
                }
                BodyWriter out = scratch();
                encodeValue(pid, resident.value, out);
                result = casPage(pid, resident, baseKind(pid), resident.value, out, true);
            }
            if (result.succeeded()) {
                metrics.record(Op.REWRITE, System.nanoTime() - start);
                return;
            }
        }
    }

    /**
     * Drops the in-memory value of a page, keeping where its fragments are; a later {@link #get} reads
     * it back. Only a page whose every fragment is durable is paged out, so that read never waits; the
     * meta and counter pages and free pages never are. The page's arrival stays queued for the cache
     * policy until the next eviction run: a caller that pages in and out many pages on a cache without an
     * Evictor calls {@code evictor().run()} now and then (see {@link CacheEvictor}).
     *
     * @return whether the page was paged out by this call
     */
    public boolean pageOut(long pid) {
        checkUsable();
        return pid >= FIRST_USER_PID && pid < pids.next() && tryPageOut(pid) == CacheEvictor.PAGED_OUT;
    }

    /**
     * Pages {@code pid} out if it is resident and durable: the CAS from its {@link Page} to its own
     * locations array.
     *
     * @return {@link CacheEvictor#PAGED_OUT}; {@link CacheEvictor#NOT_RESIDENT} if the slot holds no
     *     resident page; else the LSN that must become durable first
     */
    long tryPageOut(long pid) {
        long start = System.nanoTime();
        while (true) {
            Object entry = table.get(pid);
            if (!(entry instanceof Page<?> page) || page.value == Page.FREE) {
                return CacheEvictor.NOT_RESIDENT;
            }
            long lastLsn = page.lastLsn();
            if (lastLsn >= log.durableTip()) {
                return lastLsn;
            }
            if (table.compareAndSet(pid, page, page.fragments)) {
                evictor.pagedOut(page.weight);
                metrics.record(Op.PAGE_OUT, System.nanoTime() - start);
                return CacheEvictor.PAGED_OUT;
            }
        }
    }

    // ---------------------------------------------------------------- grace, read timestamps

    /** Enters a pinned section; see {@link Guard}. */
    public Guard pin() {
        checkUsable();
        return pids.pin();
    }

    /** Raises a page's transactional read timestamp to at least {@code ts} (seed 001's {@code bump_page_rts}). */
    public void bumpReadTimestamp(long pid, long ts) {
        checkUsable();
        checkHandedOut(pid);
        readTimestamps.bump(pid, ts);
    }

    /** A page's transactional read timestamp: the highest bumped since the store was opened, else 0. */
    public long readTimestamp(long pid) {
        checkUsable();
        checkHandedOut(pid);
        return readTimestamps.get(pid);
    }

    // ---------------------------------------------------------------- meta page

    /** The page id of the root named {@code name}, or {@link #NO_ROOT}. */
    public long root(String name) {
        checkUsable();
        return meta().root(Objects.requireNonNull(name, "name"));
    }

    /** Every named root, sorted by name. */
    public SortedMap<String, Long> roots() {
        checkUsable();
        return meta().roots();
    }

    /**
     * Sets the root named {@code name} to {@code newPid} if it is {@code expectedPid} now.
     *
     * @param expectedPid the root's current page id, or {@link #NO_ROOT} if it must not exist
     * @param newPid the new page id, or {@link #NO_ROOT} to remove the root
     * @return whether the root was changed
     */
    public boolean casRoot(String name, long expectedPid, long newPid) {
        checkUsable();
        Objects.requireNonNull(name, "name");
        if (newPid != NO_ROOT) {
            checkUserPid(newPid, "named as a root");
        }
        while (true) {
            Page<?> page = (Page<?>) table.get(META_PID);
            Meta meta = (Meta) page.value;
            if (meta.root(name) != expectedPid) {
                return false;
            }
            Meta changed = meta.with(name, newPid);
            BodyWriter out = scratch();
            changed.encode(out);
            if (casPage(META_PID, page, MessageKind.INLINE_META, changed, out, false).succeeded()) {
                return true;
            }
        }
    }

    private Meta meta() {
        return (Meta) ((Page<?>) table.get(META_PID)).value;
    }

    // ---------------------------------------------------------------- ids

    /**
     * A new id: higher than every id this store handed out before, in this run or any earlier one,
     * crashes included. Writes a mark every {@code idgen-persist-interval} ids and rarely waits for one
     * to be durable; see {@link IdGenerator}.
     *
     * @throws dev.toboggan.core.StorageException if recording a mark in the {@link IdMarkFile} failed (inside
     *     a batch only): this call hands out no id, the store goes on
     */
    public long generateId() {
        checkUsable();
        return ids.generate(ownBatches.get().depth > 0);
    }

    /**
     * Makes every id {@link #generateId()} hands out from now on, in this run and any later one, higher than
     * {@code id}: what an import does with the ids of the store it came from. Writes and waits for one mark.
     *
     * @throws IllegalArgumentException if {@code id} is negative or {@code Long.MAX_VALUE}
     * @throws IllegalStateException if the calling thread holds an atomic batch open
     */
    public void advanceIdsPast(long id) {
        checkUsable();
        if (ownBatches.get().depth > 0) {
            throw new IllegalStateException("advanceIdsPast waits for a mark to be stable, which it cannot be inside "
                    + "the caller's own batch: call it outside any batch");
        }
        ids.advancePast(id);
    }

    private long writeMark(long mark) {
        failpoint("pagecache.idgen.persist");
        while (true) {
            Page<?> page = (Page<?>) table.get(COUNTER_PID);
            IdGenerator.Mark value = new IdGenerator.Mark(mark, config.idgenPersistInterval());
            BodyWriter out = scratch();
            value.encode(out);
            Outcome result = casPage(COUNTER_PID, page, MessageKind.COUNTER, value, out, false);
            if (result.succeeded()) {
                return ((Page<?>) result.entry()).lastLsn();
            }
        }
    }

    // ---------------------------------------------------------------- batches, durability

    /**
     * Opens an atomic batch: every change made until it is closed, by any thread, survives a crash
     * together or not at all.
     */
    public Batch openBatch() {
        checkUsable();
        if (ownBatches.get().depth == 0) {
            ids.awaitReady(); // the batch's first id must need no mark written inside it (see IdGenerator)
            log.awaitBatchAdmission(); // overlapping batches must not keep a flush waiting (see StabilityTracker)
        }
        failpoint("pagecache.batch.open");
        long manifest = log.openBatch();
        openBatches.incrementAndGet();
        ownBatches.get().opened();
        return new Batch(this, manifest);
    }

    void sealBatch(Batch batch) {
        try {
            failpoint("pagecache.batch.seal");
            log.sealBatch(batch.manifestLsn());
        } finally {
            openBatches.decrementAndGet();
            ownBatches.get().closed();
        }
    }

    /** The atomic batches one thread holds open. Confined to that thread. */
    private static final class OpenBatches {
        int depth;

        void opened() {
            depth++;
        }

        void closed() {
            depth--;
        }
    }

    /**
     * Makes every change made so far durable (group commit with concurrent callers).
     *
     * @return the bytes by which this call moved the log's stable tip
     * @throws IllegalStateException inside an atomic batch of this thread, which could never seal
     */
    public long flush() {
        checkUsable();
        checkOutsideOwnBatch("a flush");
        return log.flush();
    }

    /**
     * Returns once the log is stable past {@code lsn}, a position reserved already (group commit with
     * concurrent callers, as {@link #flush}): for a caller that needs one change durable, not everything.
     *
     * @return the stable tip, above {@code lsn}
     * @throws IllegalStateException inside an atomic batch of this thread, which could never seal
     */
    public long makeStable(long lsn) {
        checkUsable();
        checkOutsideOwnBatch("waiting for the log");
        return log.makeStable(lsn);
    }

    /** {@code what} waits for the log to become stable: inside this thread's own batch it would wait forever. */
    private void checkOutsideOwnBatch(String what) {
        if (ownBatches.get().depth > 0) {
            throw new IllegalStateException(what + " inside an open atomic batch would wait for that batch itself; "
                    + "close the batch first");
        }
    }

    // ---------------------------------------------------------------- state

    /** Whether the store existed before this open (its meta and counter pages were recovered). */
    public boolean wasRecovered() {
        return wasRecovered;
    }

    /** Bytes the store's log and blobs take on disk. */
    public long sizeOnDisk() {
        checkUsable();
        return log.sizeOnDisk();
    }

    /**
     * Copies the store, as of now, into the new directory {@code target} while writers go on (an online
     * backup, {@link StoreBackup}): the copy opens as this store would after a crash right after this call
     * began, holding every change that returned before it and no part of an atomic batch that was not whole.
     * The segment cleaner frees nothing the copy has yet to read ({@link Log#listForCopy}).
     *
     * @throws IllegalArgumentException if {@code target} is null or exists, its parent does not, or it lies
     *     inside the store's directory; nothing was written
     * @throws IllegalStateException inside an atomic batch of this thread, which could never seal
     * @throws dev.toboggan.core.StorageException if reading the store or writing the copy failed; the partial
     *     copy is removed, the store is unchanged and stays open
     */
    public Backup backup(Path target) {
        checkUsable();
        if (target == null) {
            throw new IllegalArgumentException("the backup target is null: name a directory that does not exist yet");
        }
        checkOutsideOwnBatch("a backup (it flushes first)");
        return backups.copyTo(target);
    }

    /**
     * The page table as of now, for one reader to walk later while writers go on ({@link FrozenPages}): each
     * page's version of this moment, read back from the log if it is paged out by then. Every segment stays on
     * disk until the view's first read, then those holding fragments of pages it has yet to read back, and
     * every blob until it is closed ({@link Log#retain}): a long walk beside busy writers holds that space
     * (writers are not slowed for it).
     *
     * <p>The caller keeps every page's content unchanged while this runs (the tree calls it under its
     * exclusive side); the cache's own moves, page-outs and page-ins may go on. It costs a bulk copy of the
     * slots ({@link PageTable#copyBelow}) and heap for it (an array of references per {@value PageTable#L2_SIZE}
     * ids).
     *
     * @throws IllegalStateException if the store is closed
     */
    public FrozenPages<P> freeze() {
        return freeze(false);
    }

    /**
     * The page table as of now, for any number of threads to read any page of it until it is closed
     * ({@link FrozenPages#read}): as {@link #freeze}, but a page is never let go before the close, and the
     * segments holding fragments of pages paged out at this moment stay on disk until then.
     *
     * @throws IllegalStateException if the store is closed
     */
    public FrozenPages<P> freezeShared() {
        return freeze(true);
    }

    private FrozenPages<P> freeze(boolean shared) {
        checkUsable();
        Log.Retention retention = log.retain();
        try {
            long next = pids.next();
            return new FrozenPages<>(this, table.copyBelow(next), next, retention, shared);
        } catch (RuntimeException | Error e) {
            retention.close();
            throw e;
        }
    }

    /**
     * The heap size of every page as the {@link Materializer} estimates it, plus the meta and counter
     * pages. Pages that are paged out are read from disk for this (not cached), so it costs a full
     * scan.
     */
    @SuppressWarnings("unchecked")
    public long logicalSize() {
        checkUsable();
        long size = meta().heapSize() + 2 * Long.BYTES;
        for (long pid = FIRST_USER_PID; pid < pids.next(); pid++) {
            Object entry = table.get(pid);
            if (entry == null || Page.isFree(entry)) {
                continue;
            }
            Object value = entry instanceof Page<?> page ? page.value : readValue(pid, (long[]) entry);
            size += materializer.heapSize((P) value);
        }
        return size;
    }

    /** {@link #sizeOnDisk()} / ({@link #logicalSize()} + one segment), as sled measures it. */
    public double spaceAmplification() {
        return (double) sizeOnDisk() / (logicalSize() + log.segmentSize());
    }

    /** Counters and latency histograms of this page cache's operations. */
    public PageCacheMetrics.Snapshot metrics() {
        return metrics.snapshot();
    }

    /** Residency, hits, misses and evictions of the cache. */
    public CacheStats cacheStats() {
        long misses = metrics.misses.sum();
        long gets = metrics.snapshot().get(Op.GET).count();
        return new CacheStats(evictor.capacity(), evictor.residentBytes(), Math.max(0, gets - misses), misses,
                evictor.evictions());
    }

    /** The eviction work: the engine's Evictor actor runs it; without one, waiting callers do. */
    public CacheEvictor evictor() {
        return evictor;
    }

    /** What the log's recovery found when this store was opened. */
    public RecoveryReport recoveryReport() {
        return log.recoveryReport();
    }

    /** The segment cleaning work: the engine's SegmentCleaner schedules it; tests call it directly. */
    public SegmentCleaning cleaning() {
        return cleaning;
    }

    /**
     * Holds a writer while the segment cleaner is behind ({@link SpaceGate}), before it reserves anything;
     * never inside an atomic batch, which the cleaner's stable point would wait for.
     */
    private void awaitSpace() {
        if (cleaning.gate.throttled() && ownBatches.get().depth == 0) {
            cleaning.gate.awaitRoom(this::checkUsable);
        }
    }

    /** The snapshot work: the engine's Snapshotter schedules it; tests call it directly. */
    public SnapshotWriter snapshots() {
        return snapshots;
    }

    /** The log underneath, for the flusher and for diagnostics. */
    public Log log() {
        return log;
    }

    public PageCacheConfig config() {
        return config;
    }

    /** One past the highest page id ever handed out. */
    long nextPid() {
        return pids.next();
    }

    /** The table's current entry of {@code pid}, as it is (a {@link Page} or paged-out locations), or {@code null}. */
    Object tableEntry(long pid) {
        return table.get(pid);
    }

    /** Whether some page of the snapshot this store was opened from is not decoded yet (see {@link PageTable}). */
    boolean hasUndecodedSnapshotPages() {
        return table.hasUnresolved();
    }

    /** Freed ids still in their grace period. */
    int pidsInGrace() {
        return pids.inGrace();
    }

    /**
     * Makes everything durable and closes the store. Callers must have stopped using it; every call
     * after this throws {@link IllegalStateException}. A failed store is closed without writing.
     *
     * @throws IllegalStateException if an atomic batch is still open
     * @throws StoreFailedException if the final flush failed, or the store had failed before: the store is
     *     closed, but what was not yet durable is not
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        if (openBatches.get() > 0) {
            throw new IllegalStateException(openBatches.get() + " atomic batches are still open; close them first");
        }
        closed = true;
        if (readers != null) {
            readers.shutdown();
        }
        // A close that returns promises everything is durable: a failed final flush is thrown (once the log
        // is closed), never logged away as a missed snapshot; so is a failure the store met before the close
        // (in a background flush, say), since what was changed in memory after the last durable point is lost.
        RuntimeException flushFailure = null;
        Throwable earlier = log.failure();
        if (earlier != null) {
            flushFailure = new StoreFailedException("closed a store that had failed: " + earlier.getMessage()
                    + " -- what was not durable before that failure is lost; fix the cause and reopen the store, "
                    + "which recovers every acknowledged durable write", earlier);
        } else {
            try {
                log.flush();
            } catch (RuntimeException e) {
                flushFailure = e;
            }
            if (flushFailure == null) {
                // The next open then replays nothing: a clean close opens in the time it takes to read a snapshot.
                try {
                    snapshots.takeSnapshot();
                } catch (RuntimeException e) {
                    LOG.get().warn("no snapshot taken at the close of {}; the next open replays more of the log",
                            config.log().directory(), e);
                }
            }
        }
        try {
            log.close();
        } catch (RuntimeException e) {
            if (flushFailure == null) {
                throw e;
            }
            flushFailure.addSuppressed(e);
        }
        if (flushFailure != null) {
            throw flushFailure;
        }
    }

    /**
     * Drops this instance without writing, flushing or closing anything, as if the process died here:
     * for a process that is going down after a fatal error, and for tests that simulate a power loss
     * (whose file handles are dead). Reopening the store recovers what was durable.
     */
    public void abandon() {
        closed = true;
        if (readers != null) {
            readers.shutdownNow();
        }
    }

    // ---------------------------------------------------------------- helpers

    void checkUsable() {
        if (closed) {
            throw new IllegalStateException("the store at " + config.log().directory() + " is closed");
        }
        Throwable failure = log.failure();
        if (failure != null) {
            throw new StoreFailedException(failure);
        }
    }

    private void checkChange(long pid, Page<?> view, String verb) {
        checkUsable();
        checkUserPid(pid, verb);
        checkView(pid, view);
        if (view.isFree()) {
            throw new IllegalArgumentException("page " + pid + " is free and cannot be " + verb
                    + "; allocate a new page instead");
        }
    }

    private void checkUserPid(long pid, String verb) {
        if (pid < FIRST_USER_PID || pid >= pids.next()) {
            throw notAUserPage(pid, verb);
        }
    }

    private void checkHandedOut(long pid) {
        if (pid < 0 || pid >= pids.next()) {
            throw neverAllocated(pid);
        }
    }

    private static void checkView(long pid, Page<?> view) {
        Objects.requireNonNull(view, "view");
        if (view.pid != pid) {
            throw new IllegalArgumentException("the view passed for page " + pid + " is a version of page " + view.pid);
        }
    }

    private IllegalArgumentException notAUserPage(long pid, String verb) {
        if (pid == META_PID || pid == COUNTER_PID) {
            return new IllegalArgumentException("page " + pid + " is reserved for the "
                    + (pid == META_PID ? "meta page (use root/casRoot)" : "id generator (use generateId)")
                    + " and cannot be " + verb);
        }
        return neverAllocated(pid);
    }

    private IllegalArgumentException neverAllocated(long pid) {
        return new IllegalArgumentException("page " + pid + " was never allocated (page ids handed out so far: "
                + FIRST_USER_PID + " to " + (pids.next() - 1) + ")");
    }

    private static IllegalStateException doubleFree(long pid) {
        return new IllegalStateException("page " + pid + " is already free (double free)");
    }

    private static MessageKind baseKind(long pid) {
        return pid == META_PID ? MessageKind.INLINE_META
                : pid == COUNTER_PID ? MessageKind.COUNTER : MessageKind.INLINE_NODE;
    }

    private static String reserveFailpoint(MessageKind kind) {
        return switch (kind) {
            case INLINE_NODE -> "pagecache.reserve.node";
            case INLINE_META -> "pagecache.reserve.meta";
            case COUNTER -> "pagecache.reserve.counter";
            case FREE -> "pagecache.reserve.free";
            default -> "pagecache.reserve.link";
        };
    }

    @SuppressWarnings("unchecked")
    private void encodeValue(long pid, Object value, BodyWriter out) {
        if (pid == META_PID) {
            ((Meta) value).encode(out);
        } else if (pid == COUNTER_PID) {
            ((IdGenerator.Mark) value).encode(out);
        } else {
            materializer.encodePage((P) value, out);
        }
    }

    /** This thread's encoding buffer, cleared. */
    private static BodyWriter scratch() {
        BodyWriter out = SCRATCH.get();
        if (out.capacity() > SCRATCH_KEEP) {
            out = new BodyWriter();
            SCRATCH.set(out);
        }
        out.clear();
        return out;
    }

    /** Fires an injected failure as the store's fatal error. */
    private void failpoint(String name) {
        if (Failpoints.ENABLED) {
            try {
                Failpoints.check(name);
            } catch (Failpoints.InjectedFailure e) {
                throw fail(e);
            }
        }
    }

    /** Puts the store into the failed state (the first cause wins) and returns the exception to throw. */
    private StoreFailedException fail(Throwable cause) {
        log.fail(cause);
        return new StoreFailedException(log.failure());
    }

    @Override
    public String toString() {
        return "PageCache[" + config.log().directory() + ", pages below " + pids.next() + (closed ? ", closed" : "") + "]";
    }
}
