package dev.toboggan.core.pagecache;

import dev.toboggan.core.Failpoints;
import dev.toboggan.core.LazyLogger;
import dev.toboggan.core.StorageException;
import dev.toboggan.core.log.Log;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
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
 *       full image); "so far" is what was reserved when the reclaim began, after the scan and the drain (when
 *       the reclaim took a snapshot, that snapshot's own flush has made it stable already); (4) the
 *       {@code stable-tip} file ({@link Log#promiseDurableTip}) records a tip strictly
 *       past its end ({@link Log#freeable}), so recovery takes its absence for a cleaned segment, not for
 *       the end of the log, and still finds the segment holding the promised tip's last byte, where it
 *       starts the log's tail; (5) its header is
 *       zeroed and forced before the log may start a new segment in the slot. Blob files of replaced pages
 *       are deleted under the same conditions (recovery skips a missing blob below the promised tip).
 *   <li><b>Space amplification</b> is {@code sizeOnDisk / live bytes}, live bytes counting live blob
 *       files. The budget is {@code max-space-amplification} × live bytes, less the segments the IO buffers
 *       may start before the next pass, and at least live bytes + two segments ({@link #budget}).
 *   <li><b>Pacing</b> (no compaction stall): cleaning for space starts at a watermark midway between the
 *       live data and the budget ({@link #watermark}), where a pass drains the segments that are cheap to
 *       drain. When none is cheap (under overwrites a tree's pages have deltas in many segments, so draining
 *       any rewrites many pages) a pass drains the emptiest one under {@code 1 / max-space-amplification}
 *       live instead (at rest under {@link #REST_DRAIN_LIVE_SHARE}, so that a store every segment of which a
 *       load left 67-80 % live still settles at its watermark), consolidating its pages: one a pass under
 *       the budget, more over it. It also drains the segment in the highest slot while free slots are still
 *       inside a file over its target ({@link #fileTarget}). A pass drains at most
 *       {@link #MAX_DRAINED_PER_PASS} segments and rewrites at most {@link #MAX_REWRITE_SEGMENTS_PER_PASS}
 *       segments' worth of pages (the next pass goes on where it stopped), and frees what is empty before it
 *       ends. Within budget the actor runs one pass per filled segment, so the cleaner writes at most that
 *       many segments per segment the writers fill; over it, passes run back to back. Writers are slowed by
 *       {@link SpaceGate}: a delay per change growing with how far the segments in use are over the budget
 *       (the soft limit), held only past a hard limit a quarter further ({@link #pace}). The limits are set
 *       from each pass's measurement, kept while passes make progress or there is nothing to do, and lifted
 *       by a pass over the watermark that can do nothing.
 *   <li><b>Writing and at rest</b> ({@link #pass(Policy, boolean)}): while writers keep filling segments
 *       a pass cleans for {@code load-space-amplification}, looser than {@code max-space-amplification}, and
 *       leaves a segment under the cleanup threshold alone if draining it would rewrite more than a segment.
 *       Under a random load every segment holds deltas of most pages, so any drain for space is a sweep of
 *       most pages, and a store held at {@code b} × live data sweeps once per {@code (b - 1)} × live data
 *       written: at 1.5 (less the IO buffers' room) a 1 M-key load rewrote each leaf 6–9 times. Writers are
 *       slowed and held against the looser budget in both modes (so a writer returning while the store
 *       settles is not held for the compaction); a pass at rest cleans for {@code max-space-amplification},
 *       and the actor runs such passes once writers are quiet, until the store, its file included
 *       ({@link #fileTarget}), is under its watermark ({@link Outcome#unsettled}). What a pass frees, and
 *       when, is the same in both modes.
 *   <li><b>A drain cut short</b> by the rewrite bound is not followed by a second scan: the reclaim frees
 *       what the first scan found empty (still empty: nothing lands below the stable tip read before it).
 *   <li><b>Threads</b>: {@link #pass} is synchronized (one pass at a time); {@link #metrics} reads
 *       counters and volatile gauges from any thread.
 * </ul>
 */
public final class SegmentCleaning {
    private static final LazyLogger LOG = LazyLogger.of(SegmentCleaning.class);
    /**
     * Segments one pass drains at most, all freed at its end: a pass is one measurement, one drain, one
     * measurement and one reclaim, so it stays short and the space it frees comes back at once: cleaning is
     * a trickle of passes, never one long drain while writers wait (the soak that showed the sawtooth drained
     * 16 segments with four table scans and four snapshots in a pass, writers held throughout).
     */
    static final int MAX_DRAINED_PER_PASS = 4;
    /**
     * At rest, the live share under which the emptiest segment is drained when none is cheap
     * ({@link #choose}): each such drain frees at least a fifth of a segment for at most four segments
     * rewritten, a price paid once after writers stop, not per write (while writing the bound is
     * {@code 1 / max-space-amplification}, as before).
     */
    static final double REST_DRAIN_LIVE_SHARE = 0.8;
    /**
     * Bytes of pages one pass rewrites at most, in segments. Under overwrites a tree's pages have deltas in
     * most segments, so draining one segment can mean rewriting most pages (six segments' worth in the soak):
     * done at once, that consolidates every page at the same moment, the pages then fill with deltas
     * together and the next drain again rewrites them all, a self-renewing sawtooth. Spread over passes,
     * one per segment the writers fill while within budget, the cleaner writes at most this many segments per
     * segment written and pages are consolidated a few at a time, at steadily spaced moments.
     */
    static final int MAX_REWRITE_SEGMENTS_PER_PASS = 2;

    /**
     * When the cleaner works.
     *
     * @param cleanupThreshold a segment whose live share falls under this is drained ({@code cleanup-threshold},
     *     more than 0, at most 1; default 0.5)
     * @param maxSpaceAmplification the store's on-disk size may be at most this times its live data plus one
     *     segment once writers are quiet ({@code max-space-amplification}, more than 1; default 1.5)
     * @param loadSpaceAmplification the same bound while writers keep filling segments (a load, a burst of
     *     writes; {@code load-space-amplification}, more than 1, default 1.5 (one bound); a value under
     *     {@code maxSpaceAmplification} counts as {@code maxSpaceAmplification}): the
     *     budget writers are slowed and held against, and the one a pass {@linkplain #pass(Policy, boolean)
     *     while writing} cleans for. Every drain of a segment that holds deltas of most pages rewrites most
     *     pages, and a store held at {@code b} × live data needs one such sweep per {@code (b - 1)} × live
     *     data written: a looser bound while writing means fewer sweeps, and one more once writers are quiet
     */
    public record Policy(double cleanupThreshold, double maxSpaceAmplification, double loadSpaceAmplification) {
        public static final Policy DEFAULT = new Policy(0.5, 1.5, 1.5);

        /** A policy with one bound, while writing and at rest. */
        public Policy(double cleanupThreshold, double maxSpaceAmplification) {
            this(cleanupThreshold, maxSpaceAmplification, maxSpaceAmplification);
        }

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
            if (!(loadSpaceAmplification > 1 && loadSpaceAmplification < 1_000)) {
                throw new IllegalArgumentException("toboggan.load-space-amplification (the bound while writers are "
                        + "busy) must be more than 1 and below 1000, was " + loadSpaceAmplification
                        + "; the default is max-space-amplification's value (one bound at all times), 2.0 favours loads");
            }
            // never tighter than the bound at rest: raising max-space-amplification alone raises both
            loadSpaceAmplification = Math.max(loadSpaceAmplification, maxSpaceAmplification);
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
     * @param heldWrites changes held over the hard limit on segments in use until the cleaner freed some
     * @param delayedWrites changes delayed between the soft and the hard limit ({@link SpaceGate})
     * @param writeWaitMillis time writers spent delayed or held, summed over writers
     * @param liveBytes live data at the last pass: live fragments and blob files
     * @param sizeOnDisk the log file and blobs at the end of the last pass
     * @param spaceAmplification {@code sizeOnDisk / liveBytes} at the end of the last pass
     * @param lagBytes how far the store was over {@code max-space-amplification} × live data (or live data
     *     and two segments, if more) at the end of the last pass (0: within it)
     * @param segmentsKeptForBackups empty segments the cleaner left, now, for a backup that has yet to copy
     *     them ({@link Log#segmentsKeptForCopies}): freed by the first pass after it
     */
    public record Metrics(long passes, long pagesRewritten, long bytesCleaned, long segmentsFreed,
            long slotsTruncated, long blobsDeleted, long heldWrites, long delayedWrites, long writeWaitMillis,
            long liveBytes, long sizeOnDisk, double spaceAmplification, long lagBytes, int segmentsKeptForBackups) {}

    /**
     * @param progress whether the pass freed space (segments or blobs) or moved pages out of segments it drains
     * @param overBudget whether the store is still over its working budget ({@link #budget}: the limit less
     *     room for the segments the IO buffers may start before the next pass), so the actor runs another
     *     pass at once; within it, the next pass comes with the next filled segment
     * @param overLimit whether the store is over the pass's space amplification bound itself ({@link #limit}:
     *     {@code load-space-amplification} while writing, else {@code max-space-amplification})
     * @param unsettled whether the store (its segments in use, or its file) is over the watermark of
     *     {@code max-space-amplification}'s budget, where a pass at rest still finds work: once writers are
     *     quiet the actor runs passes at rest while this holds and they make progress, compacting what a load
     *     left
     */
    public record Outcome(boolean progress, boolean overBudget, boolean overLimit, boolean unsettled) {}

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

    /**
     * Live bytes per segment, and what draining each would write: a page is rewritten whole, so a segment
     * holding one small delta of a large page costs the whole page.
     */
    private record Usage(Map<Long, Long> livePerSegment, Map<Long, Long> rewriteCost, long liveFragments,
            Set<Long> liveBlobs) {}

    /**
     * A pass at rest: {@link #pass(Policy, boolean) pass(policy, false)}.
     */
    public Outcome pass(Policy policy) {
        return pass(policy, false);
    }

    /**
     * One round of cleaning: measure, drain what the policy picks, free what is empty, update the gauges,
     * and set whether writers must wait for the next pass. Writers are slowed and held against the budget of
     * {@code load-space-amplification} either way; {@code writing} says which bound the pass cleans for: a
     * pass while writers keep filling segments cleans for space only past the watermark of that looser
     * budget, one at rest past the watermark of {@code max-space-amplification}'s.
     *
     * @throws StorageException if an IO step failed: nothing is lost, the next pass starts over
     */
    public synchronized Outcome pass(Policy policy, boolean writing) {
        double bound = writing ? policy.loadSpaceAmplification() : policy.maxSpaceAmplification();
        boolean keepLimits = false;
        long started = System.nanoTime();
        try {
            passes.increment();
            long stableBefore;
            Map<Long, Long> blobs;
            Usage usage;
            long budget;
            boolean movedDown = false;
            while (true) {
                // The scan always follows the tip it is judged against: a segment wholly below that tip gets
                // no new fragment after it, so what the scan finds there is all there is.
                stableBefore = log.stableTip();
                blobs = log.blobSizes();
                usage = measure(blobs.keySet());
                measureLive(usage, blobs);
                budget = budget(bound);
                int holes = log.freeSlotCount();
                if (movedDown || log.sizeOnDisk() <= fileTarget(budget, writing) || holes == 0
                        || log.activeSlot() < log.slotCount() - holes) {
                    break;
                }
                // The log writes in the file's last slots while free slots lie below (an idle store would
                // keep it there): move it down, so that the end of the file can be drained and cut off. The
                // flush moves the tip past what the scan saw while writers kept going, so measure again.
                failpoint("cleaner.rotate");
                log.startNewSegment();
                log.flush();
                movedDown = true;
            }
            if (inBackground) {
                // from the fresh measurement: writers over budget are slowed while this pass works
                pace(budget(policy.loadSpaceAmplification()), blobs);
            }
            long inUse = inUse(blobs);
            List<Long> targets = choose(policy.cleanupThreshold(), bound, writing, usage, stableBefore,
                    inUse - watermark(budget), inUse - budget, log.sizeOnDisk() - fileTarget(budget, writing));
            int inUseAtStart = log.segmentsInUse();
            long rewritten = 0;
            if (!targets.isEmpty()) {
                Drained drained = drain(targets, (long) MAX_REWRITE_SEGMENTS_PER_PASS * segmentSize);
                rewritten = drained.rewritten();
                if (drained.complete()) {
                    usage = measure(blobs.keySet());
                }
                // Cut short, the drain left pages in every target, and the pages it did rewrite rarely held
                // all of another segment's live data (under a load each has fragments in most segments): a
                // second scan would seldom find more to free, at a third of a pass's cost. The reclaim frees
                // what the first scan found empty, which stays empty (no fragment lands below the stable tip
                // read before it); anything the rewrites emptied is found by the next pass's scan.
            }
            int freed = reclaim(usage, stableBefore, blobs);
            if (freed > 0) {
                gate.wake(); // held writers look again: there may be room now
            }
            blobs = log.blobSizes();
            long size = log.sizeOnDisk();
            measureLive(usage, blobs);
            long atRest = budget(policy.maxSpaceAmplification());
            boolean unsettled = inUse(blobs) > watermark(atRest) || size > fileTarget(atRest, false);
            long loose = budget(policy.loadSpaceAmplification());
            budget = writing ? loose : atRest;
            boolean overBudget = inUse(blobs) > budget || size > budget;
            boolean overWatermark = overBudget || inUse(blobs) > watermark(budget);
            boolean progress = freed > 0 || rewritten > 0;
            boolean gateOverWatermark = inUse(blobs) > watermark(loose) || size > loose;
            if (inBackground && (progress || !gateOverWatermark)) {
                // Draining or freeing, or nothing to free: the limits stay until the next pass (which a
                // filled segment brings), so a cleaner starved of CPU still bounds the log. Over the watermark
                // and unable to do anything, they go: writers are not slowed by a cleaner that cannot help.
                pace(loose, blobs);
                keepLimits = true;
            }
            lagBytes = Math.max(0, size - limit(policy.maxSpaceAmplification()));
            long allowed = limit(bound);
            sizeOnDisk = size;
            if (overWatermark && !progress) {
                LOG.get().debug("store {} is {} bytes over its space budget, but no segment can be cleaned now",
                        cache.config().log().directory(), size - budget);
            }
            // Only a pass that did something says so: an idle pass (the one at every start, say) must not
            // initialize logging, which costs a fresh JVM's first open a quarter of a second (LazyLogger).
            if ((progress || !targets.isEmpty()) && LOG.get().isDebugEnabled()) {
                LOG.get().debug("pass in {} ms: draining {} segments, rewrote {} KiB, freed {}, segments in use {} -> {} "
                        + "(soft limit {}, hard {}), space amplification {}", (System.nanoTime() - started) / 1_000_000,
                        targets.size(), rewritten / 1024, freed, inUseAtStart, log.segmentsInUse(), gate.softLimit(),
                        gate.hardLimit(), String.format("%.2f", amplification));
            }
            return new Outcome(progress, overBudget, size > allowed, unsettled);
        } finally {
            if (!keepLimits) {
                gate.lift();
            }
        }
    }

    /**
     * Sets the writers' limits on segments in use from a budget: soft at the budget ({@link #segmentLimit}),
     * where writers start to be slowed, hard a quarter further (at least the segments the IO buffers may
     * start, and two more), where they are held: only a cleaner that falls far behind stops them.
     */
    private void pace(long budget, Map<Long, Long> blobs) {
        int soft = segmentLimit(budget, blobs);
        int slack = Math.max(cache.config().log().ioBuffers() + 2, soft / 4);
        gate.limits(soft, (int) Math.min(Integer.MAX_VALUE - 1L, (long) soft + slack));
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

    /** The background cleaner stopped: releases writers held for space, and slows none from now on. */
    public void stopped() {
        inBackground = false;
        gate.lift();
    }

    /**
     * Sets the live data ({@code liveBytes}: the live fragments of {@code usage} and the live blob files) and
     * the space amplification gauge, which {@link #budget}, {@link #watermark} and {@link #limit} work from.
     */
    private void measureLive(Usage usage, Map<Long, Long> blobs) {
        long live = usage.liveFragments;
        for (long id : usage.liveBlobs) {
            live += blobs.getOrDefault(id, 0L);
        }
        liveBytes = live;
        amplification = (double) log.sizeOnDisk() / Math.max(1, live);
    }

    /**
     * The bytes the store may take: a space amplification {@code bound} × the live data {@link #measureLive}
     * set, less room for the segments the IO buffers may start before the next pass (so the bound holds
     * between passes too), and never less than the live data and two segments (the one being written and one
     * more), which is as small as a log can be.
     */
    private long budget(double bound) {
        long inFlight = (long) cache.config().log().ioBuffers() * segmentSize;
        return Math.max((long) (bound * liveBytes) - inFlight, liveBytes + 2L * segmentSize);
    }

    /**
     * Where cleaning for space starts: midway between the live data and the budget. From here on a pass
     * also drains the segments whose draining rewrites less than {@code segment / max-space-amplification}
     * (cheapest first), so the cleaner works steadily while writers are still far from the budget instead of
     * waiting until they reach it and then draining many segments while they wait. A cheap segment frees more
     * than its draining writes, and draining the emptiest consolidates its pages, after which they cost only
     * their own bytes; so an idle store stops at the watermark or when no segment qualifies.
     */
    private long watermark(long budget) {
        return liveBytes + (budget - liveBytes) / 2;
    }

    /**
     * The file size a pass works towards once segments are freed inside the file (moving the log into the
     * free slots and draining the highest, so that the end can be cut off): the budget while writing, the
     * watermark at rest. At rest the segments in use settle at the watermark, and a file left a slot or two
     * longer (a drain that started a segment at the end and freed one inside) would keep that space for as
     * long as the store stays idle.
     */
    private long fileTarget(long budget, boolean writing) {
        return writing ? budget : watermark(budget);
    }

    /**
     * The bytes a space amplification {@code bound} allows for the live data the last {@link #measureLive}
     * measured, and never less than the live data and two segments: {@code max-space-amplification}'s is what
     * {@code lagBytes} is measured against.
     */
    private long limit(double bound) {
        return Math.max((long) (bound * liveBytes), liveBytes + 2L * segmentSize);
    }

    /**
     * Live bytes per segment, by the segment's base LSN: the fragments of current pages that lie in it, as
     * a pass measures them (one scan of the page table). For tools: {@code toboggan inspect}.
     */
    public Map<Long, Long> liveBytesBySegment() {
        return measure(Set.of()).livePerSegment();
    }

    /**
     * One scan of the page table. It tallies into arrays indexed by the segments the log had when the scan
     * began ({@link SegmentIndex}): a map per fragment cost two thirds of the cleaner's CPU under a random
     * load (boxing and hashing, and a set per page). A fragment in a segment started during the scan is
     * tallied in the small {@code later} maps.
     */
    private Usage measure(Set<Long> blobsOnDisk) {
        long[] bases = log.segments().keySet().stream().mapToLong(Long::longValue).toArray();
        SegmentIndex index = new SegmentIndex(bases, segmentSize);
        long[] live = new long[bases.length];
        long[] cost = new long[bases.length];
        long[] costedFor = new long[bases.length]; // pid + 1 of the page last added to cost: once per page
        Map<Long, Long> laterLive = new HashMap<>();
        Map<Long, Long> laterCost = new HashMap<>();
        Set<Long> laterTouched = new HashSet<>();
        Set<Long> liveBlobs = new HashSet<>();
        long total = 0;
        long next = cache.nextPid();
        TableBlock block = new TableBlock();
        for (long first = 0; first < next; first += TableBlock.SIZE) {
            int n = block.load(cache, first, next);
            for (int k = 0; k < n; k++) {
                long[] f = block.locations[k];
                if (f == null) {
                    continue;
                }
                long pid = first + k;
                long pageBytes = block.pageBytes[k];
                for (int i = 0; i < f.length - 1; i += Page.FRAGMENT_LONGS) { // the last long is the page's ts
                    long lsn = f[i];
                    long length = f[i + 2];
                    long segment = lsn & -segmentSize;
                    int at = index.of(segment);
                    if (at >= 0) {
                        live[at] += length;
                    } else {
                        laterLive.merge(segment, length, Long::sum);
                    }
                    if (!blobsOnDisk.isEmpty() && blobsOnDisk.contains(lsn)) {
                        liveBlobs.add(lsn);
                    }
                }
                laterTouched.clear();
                for (int i = 0; i < f.length - 1; i += Page.FRAGMENT_LONGS) {
                    long segment = f[i] & -segmentSize;
                    int at = index.of(segment);
                    if (at >= 0) {
                        if (costedFor[at] != pid + 1) {
                            costedFor[at] = pid + 1;
                            cost[at] += pageBytes;
                        }
                    } else if (laterTouched.add(segment)) {
                        laterCost.merge(segment, pageBytes, Long::sum);
                    }
                }
                total += pageBytes;
            }
        }
        Map<Long, Long> perSegment = new HashMap<>(laterLive);
        Map<Long, Long> costs = new HashMap<>(laterCost);
        for (int i = 0; i < bases.length; i++) {
            if (live[i] > 0) {
                perSegment.put(bases[i], live[i]);
                costs.put(bases[i], cost[i]);
            }
        }
        return new Usage(perSegment, costs, total, liveBlobs);
    }

    /**
     * The segments to drain, at most {@link #MAX_DRAINED_PER_PASS}, cheapest first (by the bytes draining
     * them rewrites): every complete one under the threshold (with some live data; empty ones need no
     * draining), and, while the segments in use are {@code overWatermark} bytes over the {@link #watermark},
     * those whose draining rewrites less than {@code segment / max-space-amplification} until freeing them
     * would bring the store under it. When no segment is that cheap, the emptiest under
     * {@code 1 / max-space-amplification} live instead (rewriting consolidates their pages, so costs fall),
     * or at rest under {@link #REST_DRAIN_LIVE_SHARE} live if that is more: one a pass, and up to the bound
     * over the budget ({@code overBudget}). When the file is over its target ({@code excessFile}; see
     * {@link #fileTarget}) because free slots are still inside it, one of the drained segments is the one
     * in the highest slot, so that its data moves into a free slot (new segments take the lowest) and the end
     * of the file can be cut off. While {@code writing}, a segment under the threshold is drained only if
     * draining it rewrites less than a segment: under a random load every segment holds deltas of most
     * pages, so draining one under the threshold would rewrite most pages to free one segment, the sweep the
     * looser bound exists to defer (cleaning for space still drains the emptiest past its watermark).
     */
    private List<Long> choose(double cleanupThreshold, double bound, boolean writing, Usage usage,
            long stableBefore, long overWatermark, long overBudget, long excessFile) {
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
                overWatermark -= segmentSize;
                overBudget -= segmentSize;
            }
        }
        candidates.sort(Comparator.comparingLong((long[] c) -> c[3]));
        double forSpace = segmentSize / bound;
        List<Long> targets = new ArrayList<>();
        for (long[] c : candidates) {
            boolean underThreshold = c[1] < cleanupThreshold * segmentSize && (!writing || c[3] < segmentSize);
            if (underThreshold || (overWatermark > 0 && c[3] < forSpace)) {
                targets.add(c[0]);
                overWatermark -= segmentSize - c[3];
                overBudget -= segmentSize - c[3];
            }
        }
        if (targets.isEmpty() && overWatermark > 0) {
            // Every segment is dear because its pages have fragments all over (deltas): drain the emptiest
            // anyway. Rewriting consolidates those pages, so their other fragments die, the live bytes shrink
            // and the costs fall. One segment a pass under the budget: consolidation is what frees space
            // under overwrites, and doing it a little at a time from the watermark on is what keeps it from
            // piling up into one burst at the budget (the sawtooth of the first soak); more over the budget.
            // At rest the emptiest may be fuller: after a load every segment can be 67-80 % live, and the store
            // would stay that far over its watermark (1.33 x the keys and values of a 1 M-key load) for good.
            candidates.sort(Comparator.comparingLong((long[] c) -> c[1]));
            int most = overBudget > 0 ? MAX_DRAINED_PER_PASS : 1;
            double emptiestUnder = writing ? forSpace : Math.max(forSpace, REST_DRAIN_LIVE_SHARE * segmentSize);
            for (long[] c : candidates) {
                if (targets.size() < most && overWatermark > 0 && c[1] < emptiestUnder) {
                    targets.add(c[0]);
                    overWatermark -= segmentSize - c[1];
                }
            }
        }
        if (targets.size() > MAX_DRAINED_PER_PASS) {
            targets = new ArrayList<>(targets.subList(0, MAX_DRAINED_PER_PASS));
        }
        int holes = log.freeSlotCount();
        if (excessFile > 0 && holes > 0) {
            int inUse = log.slotCount() - holes;
            long[] highest = candidates.stream().max(Comparator.comparingLong((long[] c) -> c[2])).orElse(null);
            // No lower free slot to move it into: nothing to gain. Else it takes a place of the bound, if
            // need be, so that the file's end is cut off even while cheaper segments keep coming.
            if (highest != null && highest[2] >= inUse && !targets.contains(highest[0])) {
                if (targets.size() == MAX_DRAINED_PER_PASS) {
                    targets.remove(targets.size() - 1);
                }
                targets.add(highest[0]);
            }
        }
        return targets;
    }

    /**
     * Rewrites the pages that have a fragment in one of {@code targets}, in pid order, until {@code maxBytes}
     * of pages are rewritten: the next pass measures again and goes on with what is left (the rewritten pages
     * have left the targets).
     *
     * @return bytes of the pages rewritten (their fragments, as measured before), and whether every page was
     *     looked at (not cut short by {@code maxBytes})
     */
    private Drained drain(List<Long> targetList, long maxBytes) {
        long[] targets = targetList.stream().mapToLong(Long::longValue).sorted().toArray();
        long rewritten = 0;
        long next = cache.nextPid();
        TableBlock block = new TableBlock();
        long first = 0;
        int k = 0;
        walk:
        for (; first < next; first += TableBlock.SIZE) {
            int n = block.load(cache, first, next);
            for (k = 0; k < n; k++) {
                if (rewritten >= maxBytes) {
                    break walk;
                }
                long[] f = block.locations[k];
                if (f == null) {
                    continue;
                }
                long inTargets = 0;
                for (int i = 0; i < f.length - 1; i += Page.FRAGMENT_LONGS) { // the last long is the page's ts
                    if (Arrays.binarySearch(targets, f[i] & -segmentSize) >= 0) {
                        inTargets += f[i + 2];
                    }
                }
                if (inTargets > 0) {
                    failpoint("cleaner.rewrite");
                    cache.rewrite(first + k);
                    pagesRewritten.increment();
                    bytesCleaned.add(inTargets);
                    rewritten += block.pageBytes[k];
                }
            }
        }
        return new Drained(rewritten, first + k >= next);
    }

    /** What a {@link #drain} did: bytes of pages rewritten, and whether it looked at every page. */
    private record Drained(long rewritten, boolean complete) {}

    /**
     * Frees every complete segment with no live fragment and deletes every blob no page refers to, after
     * making the state that scan saw stable and promising it on disk (see the class notes).
     *
     * @return segments freed plus blobs deleted
     */
    private int reclaim(Usage usage, long stableBefore, Map<Long, Long> blobs) {
        // Every version the scan saw, and every move the drain made, was reserved before this: once the log is
        // stable past it, recovery rebuilds those versions or later ones.
        long seen = log.maxReservedLsn();
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
        // Not a flush of everything reserved by now: a snapshot taken above has just made all of `seen` stable,
        // and forcing the writers' newer messages again would be a second force for nothing.
        log.makeStable(seen);
        failpoint("cleaner.promise");
        log.promiseDurableTip();
        // Recovery starts the log's tail at the segment holding the promised tip's last byte: one that ends
        // exactly at the promise (nothing written after it yet, say the segment a rotation just ended) stays
        // until a later pass can promise past it.
        empty.removeIf(base -> !log.freeable(base));
        Log.Freed freed = log.freeSegments(empty); // a backup in progress may keep some for a later pass
        slotsTruncated.add(freed.slotsTruncated());
        segmentsFreed.add(freed.segments().size());
        int deleted = 0;
        for (long id : deadBlobs) {
            if (log.deleteReplacedBlob(id)) {
                deleted++;
            }
        }
        blobsDeleted.add(deleted);
        return freed.segments().size() + deleted;
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
                slotsTruncated.sum(), blobsDeleted.sum(), gate.heldWrites.sum(), gate.delayedWrites.sum(),
                gate.waitNanos.sum() / 1_000_000, liveBytes, sizeOnDisk,
                amplification, lagBytes, log.segmentsKeptForCopies());
    }

    /**
     * Where a segment is among the sorted bases a scan began with, by one array read. A scan looks up every
     * fragment's segment twice, and under a random load a page has a fragment in most segments: a binary
     * search per lookup (a few unpredictable branches each) was most of a scan's time once its cache misses
     * overlapped ({@link TableBlock}). The bases in use span a short stretch of segment numbers (the cleaner
     * keeps the log near its live data), so an array over that stretch maps a segment to its position; a
     * stretch over {@link #SPAN_PER_SEGMENT} slots per segment in use (an old segment that stays live while
     * the log moves on for a long time) falls back to the binary search.
     */
    static final class SegmentIndex {
        static final int SPAN_PER_SEGMENT = 64;
        private final long[] bases;
        private final long first;
        private final int shift;
        /** Per segment number from {@code first}'s on, its position in {@code bases}, else -1; null: search. */
        private final int[] positions;

        SegmentIndex(long[] bases, int segmentSize) {
            this.bases = bases;
            this.shift = Integer.numberOfTrailingZeros(segmentSize);
            this.first = bases.length == 0 ? 0 : bases[0];
            long span = bases.length == 0 ? 0 : ((bases[bases.length - 1] - first) >>> shift) + 1;
            if (span > (long) SPAN_PER_SEGMENT * bases.length + 1024) {
                positions = null;
                return;
            }
            positions = new int[(int) span];
            Arrays.fill(positions, -1);
            for (int i = 0; i < bases.length; i++) {
                positions[(int) ((bases[i] - first) >>> shift)] = i;
            }
        }

        /** The position of the segment starting at {@code base} among the bases; negative if it is none of them. */
        int of(long base) {
            if (positions == null) {
                return Arrays.binarySearch(bases, base);
            }
            long slot = (base - first) >>> shift; // a base below the first wraps to a huge slot
            return slot < positions.length ? positions[(int) slot] : -1;
        }
    }

    /**
     * The page table read a block of pages at a time for the cleaner's walks. A walk is memory-bound: each
     * page is two dependent cache misses (its {@link Page}, then its locations array), and a loop that reads
     * one page and then works on it pays them one after another, since the work on a page (a lookup and a
     * tally per fragment) is longer than the CPU looks ahead. {@link #load} reads a block's slots, then every
     * page's locations array, then every array's fragment lengths, each step a short loop of independent
     * loads, so that the CPU has many misses in flight at once. What a walk does with a page is unchanged: it
     * sees each slot as read once, after whatever the walk read before it (a drain may rewrite a page up to a
     * block after reading its slot: fragments only ever leave the segments it drains, so at worst it
     * rewrites a page that no longer needed it).
     */
    static final class TableBlock {
        static final int SIZE = 32;
        /** Per page of the block, its locations (a resident or a paged-out page's); null for an empty slot. */
        final long[][] locations = new long[SIZE][];
        /** Per page of the block, the bytes of all its fragments. */
        final long[] pageBytes = new long[SIZE];
        private final Object[] entries = new Object[SIZE];

        /** Loads pages {@code first} up to {@code next} (exclusive), at most {@link #SIZE}; returns how many. */
        int load(PageCache<?, ?> cache, long first, long next) {
            int n = (int) Math.min(SIZE, next - first);
            for (int k = 0; k < n; k++) {
                entries[k] = cache.tableEntry(first + k);
            }
            for (int k = 0; k < n; k++) {
                Object entry = entries[k];
                entries[k] = null;
                locations[k] = entry == null ? null : Page.locationsOf(entry);
            }
            for (int k = 0; k < n; k++) {
                long[] f = locations[k];
                long bytes = 0;
                if (f != null) {
                    for (int i = 0; i < f.length - 1; i += Page.FRAGMENT_LONGS) { // the last long is the page's ts
                        bytes += f[i + 2];
                    }
                }
                pageBytes[k] = bytes;
            }
            return n;
        }
    }
}
