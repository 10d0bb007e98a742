package dev.toboggan.core.pagecache;

import dev.toboggan.core.Background;
import dev.toboggan.core.Failpoints;
import dev.toboggan.core.log.Log;
import java.time.Duration;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Keeps the estimated heap bytes of the materialized pages under {@code cache-capacity}: accounts them,
 * collects accesses, and pages out what {@link CachePolicy} picks. The work as a plain object, like
 * {@link SnapshotWriter}: the engine's Evictor actor calls {@link #run()}; without an engine (the
 * {@link Background} port says nobody will), the reader or writer that asks for a run does it itself,
 * if no other thread is running it.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Accounting</b>: {@code resident} is the sum of {@link Page#weight} over the resident pages
 *       of the table. Every successful CAS of a user page's slot adds (weight of the new entry − weight
 *       of the replaced one), where a paged-out or free entry weighs 0 ({@link #changed}); page-out
 *       subtracts its page's weight. Each slot's chain of CASes telescopes, so the counter is exact once
 *       the adds of completed CASes have landed (it lags a CAS by one add, never drifts). It is a
 *       {@link LongAdder}: threads changing pages add to cells of their own, not to one shared line (as
 *       one {@code AtomicLong}, it was 8 % of a journal thread's samples, and 12 % of a tree overwrite's,
 *       docs/benchmarks.md).
 *   <li><b>The total</b> ({@link #total}: the sum, also published in {@code estimate}, volatile) is read
 *       at every arrival, page-out, run and wait for room, and by a thread that changes pages once the
 *       weight it added or removed since its last read reaches {@code checkBytes} (1/{@value
 *       #CHECK_DIVISOR} of the capacity; a per-thread count). What it decides (a run when over capacity,
 *       the hit-recording flag) is so decided at most {@code checkBytes} per changing thread late;
 *       {@link #admit} reads {@code estimate}, which lags the total by at most as much: within the slack.
 *       {@link #residentBytes()} is the sum, exact once the adds have landed.
 *   <li><b>Accesses</b>: reads (one hit in {@value #HIT_SAMPLE_EVERY}, in
 *       {@value #PASSED_THROUGH_HIT_SAMPLE_EVERY} for pages most reads pass through, and none while the
 *       cache is far from full; see {@link #hit}) and writes (none while the cache is far from full) record
 *       the pid in {@link AccessBuffers} (lossy, no lock); a stripe at a half mark, or a change that leaves
 *       the cache over capacity, asks the port for an eviction run: the engine coalesces that into at most
 *       one message in flight.
 *   <li><b>Recording hits</b> ({@code recordingHits}, volatile): set when a change leaves {@code resident}
 *       above half the capacity, cleared when one leaves it below a quarter, written only when it flips (so
 *       the line readers read it from stays shared in their caches). Racy by design: a hit that reads a
 *       stale value is recorded or not one time too many; the flag only decides whether the policy hears of
 *       hits and writes, never what is resident or counted.
 *   <li><b>Arrivals</b>: a CAS that makes a page resident (a page-in, a first write) also queues its
 *       pid in {@code arrivals}, a lock-free queue that loses nothing, so the policy tracks every
 *       resident page (a lost arrival would leave a page the policy cannot evict, squeezing the pages it
 *       manages). Its length is bounded like the resident bytes: only runs page out, and a run drains
 *       it first, so while no run happens arrivals are bounded by the admission limit below. A caller of
 *       {@link PageCache#pageOut} pages out outside a run: one that does so for many pages without an
 *       Evictor (the CLI's page scan) calls {@link #run} now and then to drain what its page-ins queued.
 *   <li><b>Run</b> (under {@code lock}, one at a time): drain the buffers into the policy (a pid whose
 *       slot no longer holds a resident page is forgotten), then, if {@code resident > capacity}, page out
 *       victims until {@code resident <= capacity - capacity / HEADROOM_DIVISOR}: under a load of misses
 *       every page-in takes the cache over its capacity, and paging out to just under it would ask for
 *       (and make) one run, one message to the Evictor, per page-in; the headroom makes it one per
 *       1/{@value #HEADROOM_DIVISOR} of the capacity paged in. A victim whose newest fragment is not
 *       durable yet is made durable first ({@link Log#makeDurable}: the run may drive the flush itself) and
 *       tried once more, then
 *       skipped. When the policy has nothing left to offer (lossy buffers dropped some pages' first
 *       records, or the run follows a restart) it adopts resident pages it does not know from the page
 *       table, from a rotating cursor.
 *   <li><b>Page-out</b> is {@link PageCache}'s CAS from the resident {@link Page} to its own locations
 *       array, only when every fragment is below the durable tip: the linearization point of an
 *       eviction. A concurrent change wins over it (the CAS fails; the page stays resident).
 *   <li><b>Backpressure</b>: before a read that must page in, and before every write, {@link #admit}
 *       lets the caller through while {@code resident <= capacity + slack}; above, it waits (parking,
 *       asking for runs) until the Evictor has made room, up to {@code send-timeout}, then throws
 *       {@link CacheFullException} — before the operation started, so nothing changed. The wait holds
 *       no lock and no log reservation. Wait-for graph: writer → evictor → log flush work → disk; the
 *       flush work never waits for writers or the evictor, so there is no cycle.
 *   <li><b>Restart</b>: {@link #restart()} drops the policy; the next run rebuilds it by adoption from
 *       the page table (approximate: recency and frequency start over). Nothing else is lost: the
 *       accounting lives in the core.
 * </ul>
 */
public final class CacheEvictor {
    /** Slack above the capacity before callers wait: this share of the capacity, at least {@link #MIN_SLACK}. */
    static final int SLACK_DIVISOR = 8;
    static final long MIN_SLACK = 1 << 20;
    private static final long WAIT_PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(200);
    /** A run that finds the cache over capacity pages out until it is 1/this of the capacity under it. */
    static final int HEADROOM_DIVISOR = 256;
    /** One resident hit in this many is recorded for the policy (a power of two); see {@link #hit}. */
    static final int HIT_SAMPLE_EVERY = 2;
    /**
     * One resident hit in this many is recorded for a page the materializer says most reads pass through
     * ({@link Materializer#isPassedThrough}); see {@link #hit}.
     */
    static final int PASSED_THROUGH_HIT_SAMPLE_EVERY = 16;
    /** The bits of a get's random draw that choose the sampled hits: above those the get metrics use. */
    private static final int HIT_SAMPLE_SHIFT = 16;
    /** A thread reads the total after changing this share of the capacity in weight (see the class notes). */
    static final int CHECK_DIVISOR = 1024;
    /** Pids looked at per adoption scan step. */
    private static final int ADOPT_BATCH = 4096;

    /** {@link PageCache#tryPageOut} results other than an LSN to wait for. */
    static final long PAGED_OUT = -1;
    static final long NOT_RESIDENT = -2;

    private final PageCache<?, ?> cache;
    private final PageTable table;
    private final Log log;
    private final Background background;
    private final long capacity;
    private final long waitLimit;
    private final Duration waitTimeout;
    private final AccessBuffers accesses = AccessBuffers.forThisMachine();
    private final ConcurrentLinkedQueue<Long> arrivals = new ConcurrentLinkedQueue<>();
    private final LongAdder resident = new LongAdder();
    /** The total as last read ({@link #total}): what {@link #admit} compares. */
    private volatile long estimate;
    /** Weight a thread may change before it reads the total. */
    private final long checkBytes;
    /** Per thread: the weight it added or removed since it last read the total. */
    private final ThreadLocal<long[]> unchecked = ThreadLocal.withInitial(() -> new long[1]);
    /** Whether resident hits and writes are recorded (see the class notes and {@link #hit}). */
    private volatile boolean recordingHits;
    private final long recordHitsAbove;
    private final long stopRecordingHitsBelow;
    private final LongAdder evictions = new LongAdder();
    private final LongAdder runs = new LongAdder();
    private final ReentrantLock lock = new ReentrantLock();
    /** Guarded by lock. */
    private CachePolicy policy;
    /** Guarded by lock: where the next adoption scan starts. */
    private long adoptCursor = PageCache.FIRST_USER_PID;

    CacheEvictor(PageCache<?, ?> cache, PageTable table, Log log, Background background, long capacity,
            Duration waitTimeout) {
        this.cache = cache;
        this.table = table;
        this.log = log;
        this.background = background;
        this.capacity = capacity;
        this.waitLimit = capacity + Math.max(MIN_SLACK, capacity / SLACK_DIVISOR);
        this.waitTimeout = waitTimeout;
        this.policy = new CachePolicy(capacity);
        this.recordHitsAbove = capacity / 2;
        this.stopRecordingHitsBelow = capacity / 4;
        this.checkBytes = Math.max(1, capacity / CHECK_DIVISOR);
    }

    // ---------------------------------------------------------------- called by readers and writers

    /**
     * A read found {@code pid} resident: recorded ({@link #accessed}) one time in {@value #HIT_SAMPLE_EVERY},
     * as {@code draw} (a random int; its low byte is taken by the get metrics) decides. W-TinyLFU ranks
     * pages by relative frequency and recency, which a uniform sample of the hits keeps (a hot page is still
     * recorded often), and every record costs the get a ring write and the eviction work a drain. One in 2
     * kept the Zipf hit ratio of docs/benchmarks.md; one in 4 or 8 lowered it. Arrivals (page-ins, first
     * writes) are never sampled away.
     *
     * <p>A page most reads pass through ({@code passedThrough}: a tree's root and inner nodes, read by every
     * lookup below them) is recorded one time in {@value #PASSED_THROUGH_HIT_SAMPLE_EVERY}: a point read of
     * a three-level tree recorded 1.5 hits on average, two thirds of them for pages that rank far above
     * every leaf anyway; now about 0.6. An inner node of a 1 M-key tree is read hundreds of times as often
     * as any leaf below it, so an eighth of its records still leaves it far ahead.
     *
     * <p>No hit is recorded until {@code resident} has passed half the capacity, nor once it has fallen below
     * a quarter, until it passes half again (see the class notes): nothing is paged out before the cache
     * reaches its capacity, and what the policy knows then comes from the hits and writes between half and
     * full, and the arrivals, which are always recorded. Below that, every record only cost: the ring write
     * here, and on the Evictor's thread a drain into the policy, a few cache misses per record (for a 1 M-key
     * store that fit, about a fifth of the CPU its readers spent themselves, on the core a second reader
     * needs; docs/benchmarks.md). Writes ({@link #changed}) follow the same gate: in a 1 M-key load, whose
     * cache stays under half full, recording every change made the Evictor drain 128 records per 128
     * inserts, a tenth of the writer thread's CPU on the other core.
     */
    void hit(long pid, int draw, boolean passedThrough) {
        if (!recordingHits) {
            return;
        }
        int every = passedThrough ? PASSED_THROUGH_HIT_SAMPLE_EVERY : HIT_SAMPLE_EVERY;
        if (((draw >>> HIT_SAMPLE_SHIFT) & (every - 1)) == 0) {
            accessed(pid);
        }
    }

    /**
     * An access to the resident {@code pid}: one lossy buffer write; about twice per ring a drain request
     * (run here if the port says nobody else will).
     */
    void accessed(long pid) {
        if (accesses.record(pid) && !background.evictionNeeded()) {
            runIfIdle();
        }
    }

    /** A CAS replaced {@code old} (an entry or null) with {@code next} in a user page's slot. */
    void changed(long pid, Object old, Page<?> next) {
        if (pid < PageCache.FIRST_USER_PID) {
            return;
        }
        int oldWeight = Page.weightOf(old);
        long delta = next.weight - oldWeight;
        if (delta != 0) {
            resident.add(delta);
        }
        boolean drainDue = false;
        boolean arrival = oldWeight == 0 && next.weight > 0;
        if (arrival) {
            arrivals.add(pid);
        } else if (next.value != Page.FREE && recordingHits) {
            drainDue = accesses.record(pid);
        }
        if ((arrival || checkDue(delta)) && total() > capacity) {
            if (!background.evictionNeeded()) {
                runIfIdle();
            }
        } else if (drainDue && !background.evictionNeeded()) {
            runIfIdle();
        }
    }

    /** Whether this thread, having changed {@code delta} more, reads the total now (see the class notes). */
    private boolean checkDue(long delta) {
        if (delta == 0) {
            return false;
        }
        long[] count = unchecked.get();
        count[0] += Math.abs(delta);
        if (count[0] < checkBytes) {
            return false;
        }
        count[0] = 0;
        return true;
    }

    /** The resident bytes now: read, published as {@code estimate}, and checked against the hit marks. */
    private long total() {
        long now = resident.sum();
        estimate = now;
        noteResident(now);
        return now;
    }

    /** A page of weight {@code weight} was paged out. */
    void pagedOut(int weight) {
        resident.add(-weight);
        total();
    }

    /** Flips {@link #recordingHits} if {@code now} (the resident bytes after a change) crossed its marks. */
    private void noteResident(long now) {
        if (recordingHits) {
            if (now < stopRecordingHitsBelow) {
                recordingHits = false;
            }
        } else if (now > recordHitsAbove) {
            recordingHits = true;
        }
    }

    /**
     * Waits while the cache is over capacity + slack (see the class notes).
     *
     * @throws CacheFullException after {@code send-timeout} without room; nothing was started
     */
    void admit() {
        if (estimate > waitLimit) {
            awaitRoom();
        }
    }

    private void awaitRoom() {
        long deadline = System.nanoTime() + waitTimeout.toNanos();
        while (total() > waitLimit) {
            cache.checkUsable();
            if (!background.evictionNeeded()) {
                runIfIdle();
                if (total() <= waitLimit) {
                    return;
                }
            }
            if (System.nanoTime() - deadline > 0) {
                throw new CacheFullException(resident.sum(), capacity, waitTimeout);
            }
            LockSupport.parkNanos(WAIT_PARK_NANOS);
            if (Thread.interrupted()) {
                Thread.currentThread().interrupt();
                throw new CacheFullException(resident.sum(), capacity, Duration.ZERO);
            }
        }
    }

    private void runIfIdle() {
        if (lock.tryLock()) {
            try {
                runLocked();
            } finally {
                lock.unlock();
            }
        }
    }

    // ---------------------------------------------------------------- the eviction work

    /**
     * Drains the access buffers into the policy and pages out until the cache is within its capacity.
     * For the Evictor actor; blocks in IO when a victim must be made durable first.
     *
     * @return pages paged out by this run
     */
    public long run() {
        if (Failpoints.ENABLED) {
            try {
                Failpoints.check("evictor.run");
            } catch (Failpoints.InjectedFailure e) {
                throw new IllegalStateException("injected failure of the eviction run", e);
            }
        }
        lock.lock();
        try {
            return runLocked();
        } finally {
            lock.unlock();
        }
    }

    /** Forgets the policy's state (an Evictor restart): the next run adopts resident pages from the table. */
    public void restart() {
        lock.lock();
        try {
            policy = new CachePolicy(capacity);
            adoptCursor = PageCache.FIRST_USER_PID;
        } finally {
            lock.unlock();
        }
    }

    private long runLocked() {
        runs.increment();
        for (Long pid; (pid = arrivals.poll()) != null; ) {
            onAccess(pid);
        }
        accesses.drain(this::onAccess);
        long evicted = 0;
        long stuck = -1;
        // Over the capacity, page out to a little under it, so that the next run is due only after that
        // much more came in, not after the next page-in (see the class notes).
        long target = resident.sum() > capacity ? capacity - capacity / HEADROOM_DIVISOR : capacity;
        while (resident.sum() > target) {
            cache.checkUsable();
            long pid = policy.victim();
            if (pid < 0) {
                if (adopt() == 0) {
                    break; // nothing resident is left to page out
                }
                continue;
            }
            long result = cache.tryPageOut(pid);
            if (result == PAGED_OUT) {
                policy.remove(pid);
                evictions.increment();
                evicted++;
            } else if (result == NOT_RESIDENT) {
                policy.remove(pid);
            } else if (stuck != pid) {
                log.makeDurable(result);
                stuck = pid;
            } else {
                policy.skip(pid); // rewritten faster than the log became durable: try another
                stuck = -1;
            }
        }
        return evicted;
    }

    private void onAccess(long pid) {
        if (pid < PageCache.FIRST_USER_PID) {
            return;
        }
        Object entry = table.get(pid);
        if (entry instanceof Page<?> page && page.value != Page.FREE) {
            policy.recordAccess(pid, page.weight);
        } else {
            policy.remove(pid);
        }
    }

    /**
     * Adds resident pages the policy does not track, scanning the table from the cursor until it has
     * adopted the excess over the capacity or gone round once.
     *
     * @return pages adopted
     */
    private int adopt() {
        long end = cache.nextPid();
        long excess = resident.sum() - capacity;
        long adoptedWeight = 0;
        int adopted = 0;
        long scanned = 0;
        long span = end - PageCache.FIRST_USER_PID;
        while (scanned < span && adoptedWeight < excess) {
            for (int i = 0; i < ADOPT_BATCH && scanned < span; i++, scanned++) {
                if (adoptCursor >= end) {
                    adoptCursor = PageCache.FIRST_USER_PID;
                }
                long pid = adoptCursor++;
                Object entry = table.peek(pid); // a page still undecoded in the snapshot is not resident
                if (entry instanceof Page<?> page && page.value != Page.FREE && !policy.contains(pid)) {
                    policy.adopt(pid, page.weight);
                    adoptedWeight += page.weight;
                    adopted++;
                }
            }
        }
        return adopted;
    }

    // ---------------------------------------------------------------- state

    /** The capacity in estimated heap bytes. */
    public long capacity() {
        return capacity;
    }

    /** Where callers start to wait: the capacity plus the slack. */
    public long waitLimit() {
        return waitLimit;
    }

    /** Estimated heap bytes of the resident pages now. */
    public long residentBytes() {
        return resident.sum();
    }

    /** Pages paged out by eviction runs so far. */
    public long evictions() {
        return evictions.sum();
    }

    /** Eviction runs so far. */
    public long runs() {
        return runs.sum();
    }
}
