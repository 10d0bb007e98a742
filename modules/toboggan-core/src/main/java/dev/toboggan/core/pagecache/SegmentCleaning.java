package dev.toboggan.core.pagecache;

import dev.toboggan.core.Failpoints;
import dev.toboggan.core.LazyLogger;
import dev.toboggan.core.StorageException;
import dev.toboggan.core.log.Log;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;

/**
 * The segment cleaner's work (SLED-REFERENCE §3; seed 000's {@code attempt_gc}, {@code rewrite_page},
 * {@code space_amplification}): finds segments whose live share fell under the cleanup threshold, moves the
 * pages still living there to the log's tip ({@link PageCache#rewrite}, a relocation that keeps each page's
 * {@code ts}), and gives a segment's slot back once nothing can need it. The engine's SegmentCleaner actor
 * schedules {@link #pass}; tests call it directly.
 *
 * <h2>Segment states</h2>
 * <pre>
 *   FREE ──(the log starts a segment in the slot)──► ACTIVE ──(wholly below the stable tip)──► INACTIVE
 *    ▲                                                                                            │
 *    │                                                       (live share &lt; cleanup-threshold,      │
 *    │                                                        or over max-space-amplification)     ▼
 *    └──(header zeroed + forced, slot released)── RECLAIMABLE ◄──(every page living there rewritten)── DRAINING
 * </pre>
 * None of these states is stored: each pass derives them from the page table and the log's slots, so the
 * actor keeps nothing and a restart (or a crash) loses nothing but the work in progress. A segment that
 * was RECLAIMABLE when the process died is found again with no live bytes by the next pass.
 *
 * <h2>Implementation notes</h2>
 * <ul>
 *   <li><b>Live bytes</b> of a segment: the lengths of every fragment of every current page that lies in
 *       it, summed by a scan of the page table (the fragments are there even for paged-out pages). The
 *       core tells the engine once per filled segment ({@link dev.toboggan.core.Background#segmentFilled}),
 *       never per write; the scan then costs one pass over the table per segment written, not a counter
 *       update per change.
 *   <li><b>Only segments wholly below the stable tip read before the scan</b> are considered: every LSN a
 *       writer reserves from then on is at or above that tip, so no new fragment can appear in them.
 *   <li><b>Safe reuse</b> (the H2 MVStore bug #2067 is reusing a chunk a crash still needs). A segment
 *       goes back only when: (1) a table scan finds no fragment in it; (2) it lies wholly below the newest
 *       durable snapshot's LSN (one is taken if needed), so replay never meets it: it may have held the
 *       seal of a batch whose manifest is still in use, and replay drops a batch without its seal with
 *       everything after it; (3) then everything reserved so far is made stable, so the versions that scan
 *       saw (and the rewrites that moved pages out) are what recovery rebuilds: per page, versions follow
 *       each other in LSN order and a later version only adds fragments at new LSNs or drops them all (a
 *       full image); (4) the {@code stable-tip} file ({@link Log#promiseDurableTip}) records a tip strictly
 *       past its end ({@link Log#freeable}), so recovery takes its absence for a cleaned segment, not for
 *       the end of the log, and still finds the segment holding the promised tip's last byte, where it
 *       starts the log's tail; (5) its header is
 *       zeroed and forced before the log may start a new segment in the slot. Blob files of replaced pages
 *       are deleted under the same conditions (recovery skips a missing blob below the promised tip).
 *   <li><b>Space amplification</b> is {@code sizeOnDisk / live bytes}, live bytes counting live blob
 *       files. The budget is {@code max-space-amplification} × live bytes, less the segments the IO buffers
 *       may start before the next pass, and at least live bytes + two segments ({@link #budget}). Over it
 *       a pass also drains the emptiest segments under {@code 1 / max-space-amplification} live, and the
 *       segments in the highest slots when free slots are still inside the file; the actor then runs
 *       another pass at once; and while the segments in use are over budget writers wait for each pass
 *       ({@link SpaceGate}) as long as passes free space. A pass that cannot free anything releases them.
 *   <li><b>Threads</b>: {@link #pass} is synchronized (one pass at a time); {@link #metrics} reads
 *       counters and volatile gauges from any thread.
 * </ul>
 */
public final class SegmentCleaning {
    private static final LazyLogger LOG = LazyLogger.of(SegmentCleaning.class);
    /** Segments drained between two reclaims within a pass. */
    private static final int DRAIN_BATCH = 4;
    /**
     * Segments one pass drains at most: a pass stays short (the actor then runs the next one at once if the
     * store is still over budget, and stops promptly), and writers held for space get a turn between passes.
     */
    private static final int MAX_DRAINED_PER_PASS = 16;

    /**
     * When the cleaner works.
     *
     * @param cleanupThreshold a segment whose live share falls under this is drained ({@code cleanup-threshold},
     *     more than 0, at most 1; default 0.5)
     * @param maxSpaceAmplification the store's on-disk size may be at most this times its live data plus one
     *     segment ({@code max-space-amplification}, more than 1; default 1.5)
     */
    public record Policy(double cleanupThreshold, double maxSpaceAmplification) {
        public static final Policy DEFAULT = new Policy(0.5, 1.5);

        public Policy {
            if (!(cleanupThreshold > 0 && cleanupThreshold <= 1)) {
                throw new IllegalArgumentException("toboggan.cleanup-threshold must be more than 0 and at most 1 "
                        + "(a share of a segment, 50% or 0.5 say), was " + cleanupThreshold);
            }
            if (!(maxSpaceAmplification > 1 && maxSpaceAmplification < 1_000)) {
                throw new IllegalArgumentException("toboggan.max-space-amplification must be more than 1 (the "
                        + "store can never be smaller than its live data) and below 1000, was "
                        + maxSpaceAmplification + "; 1.5 is a good default");
            }
        }
    }

    /**
     * What the cleaner did since the store was opened, and the gauges its last pass measured.
     *
     * @param passes passes run
     * @param pagesRewritten pages moved out of drained segments
     * @param bytesCleaned live bytes (fragments) those pages had in drained segments
     * @param segmentsFreed segment slots given back for reuse
     * @param slotsTruncated free slots cut off the end of the log file
     * @param blobsDeleted blob files of replaced pages deleted
     * @param heldWrites changes writers started while throttled (each waited for a pass)
     * @param liveBytes live data at the last pass: live fragments and blob files
     * @param sizeOnDisk the log file and blobs at the end of the last pass
     * @param spaceAmplification {@code sizeOnDisk / liveBytes} at the end of the last pass
     * @param lagBytes how far the store was over {@code max-space-amplification} × live data (or live data
     *     and two segments, if more) at the end of the last pass (0: within it)
     */
    public record Metrics(long passes, long pagesRewritten, long bytesCleaned, long segmentsFreed,
            long slotsTruncated, long blobsDeleted, long heldWrites, long liveBytes, long sizeOnDisk,
            double spaceAmplification, long lagBytes) {}

    /**
     * @param progress whether the pass freed space (segments or blobs)
     * @param overBudget whether the store is still over its working budget ({@link #budget}: the limit less
     *     room for the segments the IO buffers may start before the next pass), so another pass may help
     * @param overLimit whether the store is over {@code max-space-amplification} itself ({@link #limit})
     */
    public record Outcome(boolean progress, boolean overBudget, boolean overLimit) {}

    private final PageCache<?, ?> cache;
    private final Log log;
    private final int segmentSize;
    final SpaceGate gate;
    private final LongAdder passes = new LongAdder();
    private final LongAdder pagesRewritten = new LongAdder();
    private final LongAdder bytesCleaned = new LongAdder();
    private final LongAdder segmentsFreed = new LongAdder();
    private final LongAdder slotsTruncated = new LongAdder();
    private final LongAdder blobsDeleted = new LongAdder();
    /** Whether a background cleaner runs passes, so writers may wait for them ({@link #started}). */
    private volatile boolean inBackground;
    private volatile long liveBytes;
    private volatile long sizeOnDisk;
    private volatile double amplification;
    private volatile long lagBytes;

    SegmentCleaning(PageCache<?, ?> cache, Log log) {
        this.cache = cache;
        this.log = log;
        this.segmentSize = log.segmentSize();
        this.gate = new SpaceGate(log);
    }

    /** Live bytes per segment and which blob files are live, from one scan of the page table. */
    /**
     * Live bytes per segment, and what draining each would write: a page is rewritten whole, so a segment
     * holding one small delta of a large page costs the whole page.
     */
    private record Usage(Map<Long, Long> livePerSegment, Map<Long, Long> rewriteCost, long liveFragments,
            Set<Long> liveBlobs) {}

    /**
     * One round of cleaning: measure, drain what the policy picks, free what is empty, update the gauges,
     * and set whether writers must wait for the next pass.
     *
     * @throws StorageException if an IO step failed: nothing is lost, the next pass starts over
     */
    public synchronized Outcome pass(Policy policy) {
        int limit = Integer.MAX_VALUE;
        try {
            passes.increment();
            long stableBefore = log.stableTip();
            Map<Long, Long> blobs = log.blobSizes();
            Usage usage = measure(blobs.keySet());
            long budget = budget(policy, usage, blobs);
            int holes = log.freeSlotCount();
            if (log.sizeOnDisk() > budget && holes > 0 && log.activeSlot() >= log.slotCount() - holes) {
                // The log writes in the file's last slots while free slots lie below (an idle store would
                // keep it there): move it down, so that the end of the file can be drained and cut off.
                failpoint("cleaner.rotate");
                log.startNewSegment();
                log.flush();
                // The tip moved past what the scan above saw: writers kept going meanwhile, and their pages
                // may now live wholly below it. Measure again after reading it, or those segments would look
                // empty and be freed under live pages.
                stableBefore = log.stableTip();
                blobs = log.blobSizes();
                usage = measure(blobs.keySet());
                budget = budget(policy, usage, blobs);
            }
            if (inBackground) {
                gate.limit(segmentLimit(budget, blobs)); // writers wait while this pass works, if over budget
            }
            List<Long> targets = choose(policy, usage, stableBefore, inUse(blobs) - budget, log.sizeOnDisk() - budget);
            targets = targets.subList(0, Math.min(targets.size(), MAX_DRAINED_PER_PASS));
            int freed = 0;
            int from = 0;
            int inUseAtStart = log.segmentsInUse();
            do {
                // A few segments at a time, each batch freed before the next is drained: the rewrites of the
                // next batch then reuse those slots instead of growing the file.
                List<Long> batch = targets.subList(from, Math.min(targets.size(), from + DRAIN_BATCH));
                if (!batch.isEmpty()) {
                    drain(new HashSet<>(batch));
                    usage = measure(blobs.keySet());
                }
                int freedNow = reclaim(usage, stableBefore, blobs);
                if (freedNow > 0) {
                    gate.limit(gate.limit()); // wake held writers: there may be room now
                }
                freed += freedNow;
                blobs = log.blobSizes();
                from += DRAIN_BATCH;
                // Rewrites that grow the log instead of shrinking it (pages larger than their share of the
                // drained segments): stop here; the next pass measures again.
            } while (from < targets.size() && log.segmentsInUse() <= inUseAtStart);
            long size = log.sizeOnDisk();
            budget = budget(policy, usage, blobs);
            boolean overBudget = size > budget;
            boolean progress = freed > 0;
            if (inBackground && progress) {
                limit = segmentLimit(budget, blobs);
            }
            long allowed = limit(policy);
            lagBytes = Math.max(0, size - allowed);
            sizeOnDisk = size;
            if (overBudget && !progress) {
                LOG.get().debug("store {} is {} bytes over its space budget, but no segment can be cleaned now",
                        cache.config().log().directory(), size - budget);
            }
            return new Outcome(progress, overBudget, size > allowed);
        } finally {
            gate.limit(limit);
        }
    }

    /**
     * How many segments writers may keep in use: the budget less the blob files, in segments (not the free
     * slots still inside the file, which the next segments reuse), and never fewer than the IO buffers can
     * start plus two.
     */
    private int segmentLimit(long budget, Map<Long, Long> blobs) {
        long blobBytes = 0;
        for (long b : blobs.values()) {
            blobBytes += b;
        }
        return (int) Math.min(Integer.MAX_VALUE - 1,
                Math.max((budget - blobBytes) / segmentSize, cache.config().log().ioBuffers() + 2L));
    }

    /** Bytes of the segments in use and of the blob files. */
    private long inUse(Map<Long, Long> blobs) {
        long bytes = (long) log.segments().size() * segmentSize;
        for (long b : blobs.values()) {
            bytes += b;
        }
        return bytes;
    }

    /**
     * A background cleaner runs passes from now on: writers may be held for them when the store is over
     * budget. Without one (a caller running passes itself) writers are never held: they would wait for a
     * pass only they could run.
     */
    public void started() {
        inBackground = true;
    }

    /** The background cleaner stopped: releases writers held for space, and holds none from now on. */
    public void stopped() {
        inBackground = false;
        gate.limit(Integer.MAX_VALUE);
    }

    /**
     * The bytes the store may take: {@code max-space-amplification} × live data, less room for the segments
     * the IO buffers may start before the next pass (so the bound holds between passes too), and never
     * less than the live data and two segments (the one being written and one more), which is as small
     * as a log can be.
     */
    private long budget(Policy policy, Usage usage, Map<Long, Long> blobs) {
        long live = usage.liveFragments;
        for (long id : usage.liveBlobs) {
            live += blobs.getOrDefault(id, 0L);
        }
        liveBytes = live;
        amplification = (double) log.sizeOnDisk() / Math.max(1, live);
        long inFlight = (long) cache.config().log().ioBuffers() * segmentSize;
        return Math.max((long) (policy.maxSpaceAmplification() * live) - inFlight, live + 2L * segmentSize);
    }

    /**
     * The bytes {@code max-space-amplification} allows for the live data the last {@link #budget} measured,
     * and never less than the live data and two segments: what {@code lagBytes} is measured against.
     */
    private long limit(Policy policy) {
        return Math.max((long) (policy.maxSpaceAmplification() * liveBytes), liveBytes + 2L * segmentSize);
    }

    /**
     * Live bytes per segment, by the segment's base LSN: the fragments of current pages that lie in it, as
     * a pass measures them (one scan of the page table). For tools: {@code toboggan inspect}.
     */
    public Map<Long, Long> liveBytesBySegment() {
        return measure(Set.of()).livePerSegment();
    }

    private Usage measure(Set<Long> blobsOnDisk) {
        Map<Long, Long> perSegment = new HashMap<>();
        Map<Long, Long> cost = new HashMap<>();
        Set<Long> liveBlobs = new HashSet<>();
        Set<Long> touched = new HashSet<>();
        long total = 0;
        long next = cache.nextPid();
        for (long pid = 0; pid < next; pid++) {
            Object entry = cache.tableEntry(pid);
            if (entry == null) {
                continue;
            }
            long[] f = Page.locationsOf(entry);
            long pageBytes = 0;
            touched.clear();
            for (int i = 0; i < f.length - 1; i += Page.FRAGMENT_LONGS) { // the last long is the page's ts
                long lsn = f[i];
                long length = f[i + 2];
                long segment = lsn & -segmentSize;
                perSegment.merge(segment, length, Long::sum);
                touched.add(segment);
                pageBytes += length;
                if (!blobsOnDisk.isEmpty() && blobsOnDisk.contains(lsn)) {
                    liveBlobs.add(lsn);
                }
            }
            for (long segment : touched) {
                cost.merge(segment, pageBytes, Long::sum);
            }
            total += pageBytes;
        }
        return new Usage(perSegment, cost, total, liveBlobs);
    }

    /**
     * The segments to drain, cheapest first (by the bytes draining them rewrites): every complete one under
     * the threshold (with some live data; empty ones need no draining), and, when the segments in use are
     * {@code excessInUse} bytes over budget, those whose draining rewrites less than
     * {@code segment / max-space-amplification} until freeing them would bring the store within budget.
     * Dearer segments are drained for space only when no segment is cheap (then the emptiest, under
     * {@code 1 / max-space-amplification} live: rewriting consolidates their pages, so costs fall). When
     * the file is over budget ({@code excessFile}) because free slots are still inside it, the segments
     * in the highest slots are drained too, so that their data moves into the free slots (new segments
     * take the lowest) and the end of the file can be cut off.
     */
    private List<Long> choose(Policy policy, Usage usage, long stableBefore, long excessInUse, long excessFile) {
        List<long[]> candidates = new ArrayList<>(); // (base, live, slot, rewrite cost)
        for (Map.Entry<Long, Integer> segment : log.segments().entrySet()) {
            long base = segment.getKey();
            if (base + segmentSize > stableBefore) {
                continue; // active: may still get fragments
            }
            long live = usage.livePerSegment.getOrDefault(base, 0L);
            if (live > 0) {
                candidates.add(new long[] {base, live, segment.getValue(), usage.rewriteCost.get(base)});
            } else {
                excessInUse -= segmentSize;
            }
        }
        candidates.sort(Comparator.comparingLong((long[] c) -> c[3]));
        double forSpace = segmentSize / policy.maxSpaceAmplification();
        List<Long> targets = new ArrayList<>();
        for (long[] c : candidates) {
            boolean underThreshold = c[1] < policy.cleanupThreshold() * segmentSize;
            if (underThreshold || (excessInUse > 0 && c[3] < forSpace)) {
                targets.add(c[0]);
                excessInUse -= segmentSize - c[3];
            }
        }
        if (targets.isEmpty() && excessInUse > 0) {
            // Every segment is dear because its pages have fragments all over (deltas): drain the emptiest
            // anyway. Rewriting consolidates those pages, so the live bytes shrink and the costs fall.
            candidates.sort(Comparator.comparingLong((long[] c) -> c[1]));
            for (long[] c : candidates) {
                if (excessInUse > 0 && c[1] < forSpace) {
                    targets.add(c[0]);
                    excessInUse -= segmentSize - c[1];
                }
            }
        }
        int holes = log.freeSlotCount();
        if (excessFile > 0 && holes > 0) {
            int inUse = log.slotCount() - holes;
            candidates.sort(Comparator.comparingLong((long[] c) -> -c[2]));
            for (long[] c : candidates) {
                if (c[2] < inUse || excessFile <= 0) {
                    break; // no lower free slot to move it into, or the file is within budget once cut
                }
                if (!targets.contains(c[0])) {
                    targets.add(c[0]);
                }
                excessFile -= segmentSize;
            }
        }
        return targets;
    }

    /** Rewrites every page that has a fragment in one of {@code targets}. */
    private void drain(Set<Long> targets) {
        long next = cache.nextPid();
        for (long pid = 0; pid < next; pid++) {
            Object entry = cache.tableEntry(pid);
            if (entry == null) {
                continue;
            }
            long inTargets = 0;
            long[] f = Page.locationsOf(entry);
            for (int i = 0; i < f.length - 1; i += Page.FRAGMENT_LONGS) { // the last long is the page's ts
                if (targets.contains(f[i] & -segmentSize)) {
                    inTargets += f[i + 2];
                }
            }
            if (inTargets > 0) {
                failpoint("cleaner.rewrite");
                cache.rewrite(pid);
                pagesRewritten.increment();
                bytesCleaned.add(inTargets);
            }
        }
    }

    /**
     * Frees every complete segment with no live fragment and deletes every blob no page refers to, after
     * making the state that scan saw stable and promising it on disk (see the class notes).
     *
     * @return segments freed plus blobs deleted
     */
    private int reclaim(Usage usage, long stableBefore, Map<Long, Long> blobs) {
        List<Long> empty = new ArrayList<>();
        for (long base : log.segments().keySet()) {
            if (base + segmentSize <= stableBefore && !usage.livePerSegment.containsKey(base)) {
                empty.add(base);
            }
        }
        if (!empty.isEmpty() && empty.get(empty.size() - 1) + segmentSize > cache.snapshots().lastSnapshotLsn()) {
            // Replay must never meet a freed segment: one may have held the seal of a batch whose manifest
            // lies in a segment still in use, and replay drops a batch without its seal, with everything
            // after it. So free only below the snapshot replay starts from, taking one first.
            failpoint("cleaner.snapshot");
            cache.snapshots().takeSnapshot();
            long covered = cache.snapshots().lastSnapshotLsn();
            empty.removeIf(base -> base + segmentSize > covered);
        }
        List<Long> deadBlobs = new ArrayList<>();
        for (long id : blobs.keySet()) {
            if (id < stableBefore && !usage.liveBlobs.contains(id)) {
                deadBlobs.add(id);
            }
        }
        if (empty.isEmpty() && deadBlobs.isEmpty()) {
            return 0;
        }
        failpoint("cleaner.stabilize");
        log.flush();
        failpoint("cleaner.promise");
        log.promiseDurableTip();
        // Recovery starts the log's tail at the segment holding the promised tip's last byte: one that ends
        // exactly at the promise (nothing written after it yet, say the segment a rotation just ended) stays
        // until a later pass can promise past it.
        empty.removeIf(base -> !log.freeable(base));
        slotsTruncated.add(log.freeSegments(empty));
        segmentsFreed.add(empty.size());
        for (long id : deadBlobs) {
            log.deleteReplacedBlob(id);
            blobsDeleted.increment();
        }
        return empty.size() + deadBlobs.size();
    }

    private void failpoint(String name) {
        try {
            Failpoints.check(name);
        } catch (IOException e) {
            throw new StorageException("cleaning segments", cache.config().log().logFile(), e);
        }
    }

    /** Counters since the store was opened, and the gauges of the last pass. */
    public Metrics metrics() {
        return new Metrics(passes.sum(), pagesRewritten.sum(), bytesCleaned.sum(), segmentsFreed.sum(),
                slotsTruncated.sum(), blobsDeleted.sum(), gate.heldWrites.sum(), liveBytes, sizeOnDisk,
                amplification, lagBytes);
    }
}
