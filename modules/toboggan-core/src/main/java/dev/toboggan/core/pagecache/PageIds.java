package dev.toboggan.core.pagecache;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.WeakReference;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Hands out page ids: freed ids (lowest first) once their grace period is over, else a new one past
 * every id ever used. The grace period is epoch based, with per-thread participation.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Why a grace period</b>: the collector keeps a freed {@link Page} alive while anyone holds it,
 *       so memory is safe, but an id is a name that other pages store. A thread that read id {@code p}
 *       out of a page before {@code p} was freed must not find a different page under {@code p} later
 *       in the same traversal. So an id freed at epoch {@code r} is reused only when no thread that was
 *       pinned at that moment still is.
 *   <li><b>State</b>: a global epoch (monotonic); per participating thread a {@link Participant} whose
 *       {@code pinnedAt} is the epoch it read when it pinned, or {@link #UNPINNED}; a queue of retired
 *       (pid, epoch) pairs; a sorted set of reusable ids; {@code next}, the first id never used.
 *   <li><b>Pin</b>: the outermost {@link #pin()} reads the global epoch and publishes it in its
 *       participant, then issues a full fence. NOTE: the fence makes that store visible BEFORE the
 *       pinned thread reads the page table (a store followed by loads is the one reordering that
 *       acquire/release alone allows).
 *   <li><b>Retire</b>: {@code r = epoch.getAndIncrement()} AFTER the free's CAS in the table.
 *   <li><b>Invariant</b>: a retired id is reusable once every pinned participant has
 *       {@code pinnedAt > r}. Proof sketch: let T be pinned and read the slot without seeing the free's
 *       CAS. T's epoch read returned at most {@code r}: a value written by the increment (which follows
 *       the CAS) would have made the CAS visible to T's later slot read. The free side's CAS, increment
 *       and scan are all volatile, T's pin store is fenced before its slot read, so (the store-buffering
 *       pattern, forbidden with a fence on each side) the scan sees T's {@code pinnedAt <= r} unless T
 *       has unpinned since. A thread pinned after the increment reads an epoch {@code > r}.
 *   <li><b>Reclaim</b> runs under a try-lock (one scanner at a time; others skip it) at every
 *       allocation while ids are in their grace period, so that the lowest reusable id is chosen among
 *       all whose grace is over. It takes the queue's head entries while they are safe; an
 *       entry retired slightly out of order waits for the next scan, which is only conservative.
 *   <li><b>Lowest first</b>: reusable ids are a {@link ConcurrentSkipListSet}; {@link #take()} polls
 *       its first element. Every reusable id is below {@code next}.
 *   <li>Participants of threads that have died are dropped at the next scan (a dead thread cannot
 *       act on anything it read).
 * </ul>
 */
final class PageIds {
    /** {@link Participant#pinnedAt} of a thread outside any pinned section. */
    static final long UNPINNED = Long.MAX_VALUE;

    private final AtomicLong epoch = new AtomicLong(1);
    private final CopyOnWriteArrayList<Participant> participants = new CopyOnWriteArrayList<>();
    private final ThreadLocal<Participant> local = ThreadLocal.withInitial(this::register);
    private final ConcurrentLinkedQueue<Retired> retired = new ConcurrentLinkedQueue<>();
    private final ConcurrentSkipListSet<Long> reusable = new ConcurrentSkipListSet<>();
    private final ReentrantLock reclaiming = new ReentrantLock();
    private final AtomicLong next;

    private record Retired(long pid, long epoch) {}

    PageIds(long next) {
        this.next = new AtomicLong(next);
    }

    /** One past the highest id ever handed out. */
    long next() {
        return next.get();
    }

    /** Marks an id free and reusable at once: only for ids nobody can have read (recovery). */
    void reusableNow(long pid) {
        reusable.add(pid);
    }

    /** The lowest reusable id whose grace period is over, else a new id. */
    long take() {
        if (!retired.isEmpty()) {
            reclaim();
        }
        Long pid = reusable.pollFirst();
        if (pid != null) {
            return pid;
        }
        long fresh = next.getAndIncrement();
        if (!PageTable.holds(fresh)) {
            next.decrementAndGet();
            throw new IllegalStateException("the page table is full: " + PageTable.CAPACITY + " page ids are in use");
        }
        return fresh;
    }

    /** Puts back an id that {@link #take()} handed out but that was never installed. */
    void giveBack(long pid) {
        reusable.add(pid);
    }

    /** The id was freed in the table just now: reusable after the grace period. */
    void retire(long pid) {
        retired.add(new Retired(pid, epoch.getAndIncrement()));
    }

    /** Ids freed but still in their grace period. */
    int inGrace() {
        return retired.size();
    }

    /** Moves every retired id whose grace period is over to the reusable set. */
    void reclaim() {
        if (!reclaiming.tryLock()) {
            return;
        }
        try {
            long oldestPin = oldestPin();
            for (Retired r; (r = retired.peek()) != null && r.epoch() < oldestPin; ) {
                retired.poll();
                reusable.add(r.pid());
            }
        } finally {
            reclaiming.unlock();
        }
    }

    private long oldestPin() {
        long oldest = UNPINNED;
        for (Participant p : participants) {
            long pinned = p.pinnedAt();
            if (pinned == UNPINNED && p.ownerDied()) {
                participants.remove(p);
            }
            oldest = Math.min(oldest, pinned);
        }
        return oldest;
    }

    /** Pins the calling thread (see {@link Guard}); nested pins only count. */
    Guard pin() {
        Participant p = local.get();
        p.enter(epoch.get());
        return p;
    }

    private Participant register() {
        Participant p = new Participant(Thread.currentThread());
        participants.add(p);
        return p;
    }

    /** One thread's participation. Only {@code pinnedAt} is read by other threads. */
    static final class Participant implements Guard {
        private static final VarHandle PINNED_AT;

        static {
            try {
                PINNED_AT = MethodHandles.lookup().findVarHandle(Participant.class, "pinnedAt", long.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        private final WeakReference<Thread> owner;
        /** Confined to the owner thread. */
        private int depth;
        @SuppressWarnings("unused") // accessed through PINNED_AT
        private volatile long pinnedAt = UNPINNED;

        Participant(Thread owner) {
            this.owner = new WeakReference<>(owner);
        }

        void enter(long currentEpoch) {
            if (depth++ == 0) {
                PINNED_AT.setOpaque(this, currentEpoch);
                VarHandle.fullFence();
            }
        }

        @Override
        public void close() {
            if (owner.get() != Thread.currentThread()) {
                throw new IllegalStateException("a guard must be closed by the thread that opened it");
            }
            if (depth == 0) {
                throw new IllegalStateException("this guard is already closed");
            }
            if (--depth == 0) {
                PINNED_AT.setRelease(this, UNPINNED);
            }
        }

        long pinnedAt() {
            return (long) PINNED_AT.getVolatile(this);
        }

        boolean ownerDied() {
            Thread t = owner.get();
            return t == null || !t.isAlive();
        }
    }
}
