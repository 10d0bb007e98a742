package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.io.SimulatedStorage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The page cache's operations and their semantics, one at a time. */
class PageCacheTest {
    private final SimulatedStorage disk = new SimulatedStorage();
    private PageCache<List<Integer>, Integer> pc = Stores.open(disk);

    @AfterEach
    void closeStore() {
        pc.close();
    }

    private void reopen() {
        pc.close();
        pc = Stores.open(disk);
    }

    private void crash() {
        pc.abandon();
        disk.powerLoss();
        pc = Stores.open(disk);
    }

    /**
     * An atomic batch another thread holds open, having made {@code changes} in it, until {@link #seal()}.
     */
    private final class HeldBatch {
        private final CountDownLatch opened = new CountDownLatch(1);
        private final CountDownLatch seal = new CountDownLatch(1);
        private final CompletableFuture<Void> done;

        @SuppressWarnings("try") // the resource is used for its scope only
        HeldBatch(Runnable changes) {
            done = CompletableFuture.runAsync(() -> {
                try (Batch batch = pc.openBatch()) {
                    changes.run();
                    opened.countDown();
                    seal.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
        }

        /** Whether the batch is open within {@code millis}. */
        boolean awaitOpen(long millis) throws InterruptedException {
            return opened.await(millis, TimeUnit.MILLISECONDS);
        }

        /** Seals the batch and waits until it is. */
        void seal() throws Exception {
            seal.countDown();
            done.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aNewStoreHasTheReservedPagesAndStartsAtTheFirstUserPid() {
        assertThat(pc.wasRecovered()).isFalse();
        assertThat(pc.nextPid()).isEqualTo(PageCache.FIRST_USER_PID);
        assertThat(pc.roots()).isEmpty();
        assertThat(pc.allocate(List.of(7)).pid()).isEqualTo(PageCache.FIRST_USER_PID);
        reopen();
        assertThat(pc.wasRecovered()).isTrue();
    }

    @Test
    void linkAppliesTheDeltaAndRaisesTheVersion() {
        Page<List<Integer>> v0 = pc.allocate(List.of(1));
        CasResult<List<Integer>> r = pc.link(v0.pid(), v0, 2);
        assertThat(r.succeeded()).isTrue();
        assertThat(r.page().value()).containsExactly(1, 2);
        assertThat(r.page().ts()).isEqualTo(v0.ts() + 1);
        assertThat(r.page().fragmentCount()).isEqualTo(2);
        assertThat(pc.get(v0.pid())).isSameAs(r.page());
        assertThat(v0.value()).containsExactly(1);
    }

    @Test
    void aStaleViewFailsAgainstARealChangeAndGetsTheCurrentVersion() {
        Page<List<Integer>> v0 = pc.allocate(List.of(1));
        Page<List<Integer>> v1 = pc.link(v0.pid(), v0, 2).page();

        CasResult<List<Integer>> link = pc.link(v0.pid(), v0, 3);
        assertThat(link.succeeded()).isFalse();
        assertThat(link.page()).isSameAs(v1);

        CasResult<List<Integer>> replace = pc.replace(v0.pid(), v0, List.of(9));
        assertThat(replace.succeeded()).isFalse();
        assertThat(replace.page().value()).containsExactly(1, 2);

        CasResult<List<Integer>> free = pc.free(v0.pid(), v0);
        assertThat(free.succeeded()).isFalse();
        assertThat(pc.get(v0.pid()).value()).containsExactly(1, 2);
        assertThat(pc.metrics().conflicts()).isEqualTo(3);
    }

    @Test
    void aFailedChangeAgainstAPagedOutVersionHandsBackTheMaterializedPage() {
        Page<List<Integer>> v0 = pc.allocate(List.of(1));
        pc.link(v0.pid(), v0, 2);
        pc.flush();
        assertThat(pc.pageOut(v0.pid())).isTrue();
        CasResult<List<Integer>> r = pc.link(v0.pid(), v0, 3);
        assertThat(r.succeeded()).isFalse();
        assertThat(r.page().value()).containsExactly(1, 2);
    }

    @Test
    void relocationsDoNotFailAStaleViewTheChangeIsRetried() {
        Page<List<Integer>> v = pc.allocate(List.of(1));
        long pid = v.pid();
        v = pc.link(pid, v, 2).page();

        pc.rewrite(pid);
        assertThat(pc.get(pid)).isNotSameAs(v);
        assertThat(pc.get(pid).ts()).isEqualTo(v.ts());
        assertThat(pc.get(pid).fragmentCount()).isEqualTo(1);
        CasResult<List<Integer>> afterRewrite = pc.link(pid, v, 3);
        assertThat(afterRewrite.succeeded()).isTrue();
        assertThat(afterRewrite.page().value()).containsExactly(1, 2, 3);

        v = afterRewrite.page();
        pc.flush();
        assertThat(pc.pageOut(pid)).isTrue();
        assertThat(pc.get(pid).value()).containsExactly(1, 2, 3);
        CasResult<List<Integer>> afterPageIn = pc.replace(pid, v, List.of(4));
        assertThat(afterPageIn.succeeded()).isTrue();
        assertThat(pc.metrics().relocationRetries()).isEqualTo(2);
        assertThat(pc.metrics().conflicts()).isZero();

        reopen();
        assertThat(pc.get(pid).value()).containsExactly(4);
    }

    @Test
    void linkConsolidatesIntoAFullImageAtTheThreshold() {
        Page<List<Integer>> v = pc.allocate(List.of(0));
        long pid = v.pid();
        List<Integer> fragmentCounts = new ArrayList<>();
        for (int i = 1; i <= 12; i++) {
            v = pc.link(pid, v, i).page();
            fragmentCounts.add(v.fragmentCount());
        }
        assertThat(fragmentCounts).containsExactly(2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3);
        assertThat(pc.metrics().consolidations()).isEqualTo(1);
        assertThat(v.value()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
        reopen();
        assertThat(pc.get(pid).value()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
        assertThat(pc.get(pid).fragmentCount()).isEqualTo(3);
    }

    @Test
    void theMaterializerSetsEachPagesConsolidationThresholdUpToTheFormatsLimit() {
        pc.close();
        // pages starting with a negative number consolidate at 3 fragments; others would at 1000, capped at 255
        pc = PageCache.open(Stores.small(), disk, dev.toboggan.core.Background.NONE, new IntListMaterializer() {
            @Override
            public int consolidationThreshold(List<Integer> page, int configured) {
                return page.get(0) < 0 ? 3 : 1000;
            }
        });
        Page<List<Integer>> small = pc.allocate(List.of(-1));
        Page<List<Integer>> large = pc.allocate(List.of(1));
        List<Integer> smallCounts = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            small = pc.link(small.pid(), small, i).page();
            smallCounts.add(small.fragmentCount());
        }
        assertThat(smallCounts).containsExactly(2, 3, 1, 2, 3, 1);
        for (int i = 0; i < PageCacheConfig.MAX_CONSOLIDATION_THRESHOLD; i++) {
            large = pc.link(large.pid(), large, i).page();
        }
        assertThat(large.fragmentCount()).as("consolidated at the format's limit").isEqualTo(1);
        assertThat(pc.metrics().consolidations()).isEqualTo(3);
        assertThat(large.value()).hasSize(1 + PageCacheConfig.MAX_CONSOLIDATION_THRESHOLD);
    }

    @Test
    void pagesOutOnlyWhatIsDurableAndReadsItBackFromSeveralFragments() {
        Page<List<Integer>> v = pc.allocate(List.of(0));
        long pid = v.pid();
        for (int i = 1; i < 8; i++) {
            v = pc.link(pid, v, i).page();
        }
        assertThat(pc.pageOut(pid)).as("fragments are not durable yet").isFalse();
        pc.flush();
        assertThat(pc.pageOut(pid)).isTrue();
        assertThat(pc.pageOut(pid)).as("already out").isFalse();
        Page<List<Integer>> in = pc.get(pid);
        assertThat(in.value()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
        assertThat(in.ts()).isEqualTo(v.ts());
        assertThat(pc.get(pid)).isSameAs(in);
        var metrics = pc.metrics();
        assertThat(metrics.get(PageCacheMetrics.Op.PAGE_IN).count()).isEqualTo(1);
        assertThat(metrics.get(PageCacheMetrics.Op.PULL).count()).as("8 fragments side by side: one read").isEqualTo(1);
        assertThat(metrics.get(PageCacheMetrics.Op.PAGE_OUT).count()).isEqualTo(1);
        assertThat(pc.pageOut(PageCache.META_PID)).isFalse();
        assertThat(pc.pageOut(PageCache.COUNTER_PID)).isFalse();
    }

    @Test
    void readsFragmentsLyingTogetherWithOneReadAndFragmentsApartWithOneEach() {
        Page<List<Integer>> v = pc.allocate(List.of(0));
        long pid = v.pid();
        v = pc.link(pid, v, 1).page();
        v = pc.link(pid, v, 2).page();
        List<Integer> filler = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            filler.add(i * 100_000);
        }
        for (int i = 0; i < 40; i++) {
            pc.allocate(List.copyOf(filler)); // other pages' messages, inline: several segments (of 1 KiB)
        }
        v = pc.link(pid, v, 3).page();
        pc.flush();
        assertThat(pc.pageOut(pid)).isTrue();
        long pulls = pc.metrics().get(PageCacheMetrics.Op.PULL).count();
        Page<List<Integer>> in = pc.get(pid);
        assertThat(in.value()).containsExactly(0, 1, 2, 3);
        assertThat(in.ts()).isEqualTo(v.ts());
        assertThat(pc.metrics().get(PageCacheMetrics.Op.PULL).count() - pulls)
                .as("the first three fragments in one read, the last from another segment").isEqualTo(2);
    }

    @Test
    void readsFragmentsOneByOneWhenParallelismIsOne() {
        pc.close();
        pc = Stores.open(disk, Stores.small().withPageInParallelism(1));
        Page<List<Integer>> v = pc.allocate(List.of(0));
        v = pc.link(v.pid(), v, 1).page();
        pc.flush();
        assertThat(pc.pageOut(v.pid())).isTrue();
        assertThat(pc.get(v.pid()).value()).containsExactly(0, 1);
    }

    @Test
    void largePagesGoToBlobsAndComeBack() {
        List<Integer> big = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            big.add(i * 1000);
        }
        Page<List<Integer>> v = pc.allocate(List.copyOf(big));
        v = pc.link(v.pid(), v, -1).page();
        pc.flush();
        assertThat(pc.pageOut(v.pid())).isTrue();
        assertThat(pc.get(v.pid()).value()).hasSize(2001).endsWith(-1);
        reopen();
        assertThat(pc.get(v.pid()).value()).hasSize(2001).startsWith(0, 1000);
    }

    @Test
    void freedIdsAreReusedLowestFirst() {
        List<Page<List<Integer>>> pages = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            pages.add(pc.allocate(List.of(i)));
        }
        pc.free(pages.get(4).pid(), pages.get(4));
        pc.free(pages.get(1).pid(), pages.get(1));
        pc.free(pages.get(3).pid(), pages.get(3));
        assertThat(pc.get(pages.get(1).pid())).isNull();
        assertThat(pc.allocate(List.of(10)).pid()).isEqualTo(pages.get(1).pid());
        assertThat(pc.allocate(List.of(11)).pid()).isEqualTo(pages.get(3).pid());
        assertThat(pc.allocate(List.of(12)).pid()).isEqualTo(pages.get(4).pid());
        assertThat(pc.allocate(List.of(13)).pid()).isEqualTo(pages.get(5).pid() + 1);
    }

    @Test
    void aReallocatedPageIsANewVersionThatOldViewsCannotChange() {
        Page<List<Integer>> v = pc.allocate(List.of(1));
        Page<List<Integer>> tombstone = pc.free(v.pid(), v).page();
        assertThat(tombstone.isFree()).isTrue();
        assertThat(tombstone.ts()).isEqualTo(v.ts() + 1);
        Page<List<Integer>> again = pc.allocate(List.of(2));
        assertThat(again.pid()).isEqualTo(v.pid());
        assertThat(again.ts()).isEqualTo(tombstone.ts() + 1);
        CasResult<List<Integer>> stale = pc.link(v.pid(), v, 3);
        assertThat(stale.succeeded()).isFalse();
        assertThat(stale.page().value()).containsExactly(2);
    }

    @SuppressWarnings("try") // the resource is used for its scope only
    @Test
    void aFreedIdWaitsForEveryGuardOpenAtTheFree() throws Exception {
        Page<List<Integer>> a = pc.allocate(List.of(1));
        Page<List<Integer>> b = pc.allocate(List.of(2));
        CountDownLatch pinned = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
            try (Guard g = pc.pin()) {
                pinned.countDown();
                await(release);
            }
        });
        pinned.await();
        pc.free(a.pid(), a);
        long during = pc.allocate(List.of(3)).pid();
        assertThat(during).as("the reader may still act on page " + a.pid()).isNotEqualTo(a.pid());
        assertThat(pc.pidsInGrace()).isEqualTo(1);
        release.countDown();
        reader.get(10, TimeUnit.SECONDS);
        assertThat(pc.allocate(List.of(4)).pid()).isEqualTo(a.pid());
        assertThat(b.pid()).isLessThan(during);
    }

    @Test
    void guardsNestAndBelongToTheirThread() throws Exception {
        Page<List<Integer>> a = pc.allocate(List.of(1));
        Guard outer = pc.pin();
        Guard inner = pc.pin();
        inner.close();
        pc.free(a.pid(), a);
        assertThat(pc.allocate(List.of(2)).pid()).as("still pinned by the outer guard").isNotEqualTo(a.pid());
        assertThatThrownBy(() -> CompletableFuture.runAsync(outer::close).join())
                .hasCauseInstanceOf(IllegalStateException.class);
        outer.close();
        assertThatThrownBy(outer::close).isInstanceOf(IllegalStateException.class).hasMessageContaining("already closed");
        assertThat(pc.allocate(List.of(3)).pid()).isEqualTo(a.pid());
    }

    @Test
    void rootsAreComparedAndSetAndSurviveARestart() {
        long a = pc.allocate(List.of(1)).pid();
        long b = pc.allocate(List.of(2)).pid();
        assertThat(pc.root("tree")).isEqualTo(PageCache.NO_ROOT);
        assertThat(pc.casRoot("tree", PageCache.NO_ROOT, a)).isTrue();
        assertThat(pc.casRoot("tree", PageCache.NO_ROOT, b)).isFalse();
        assertThat(pc.casRoot("tree", a, b)).isTrue();
        assertThat(pc.casRoot("other", PageCache.NO_ROOT, a)).isTrue();
        assertThat(pc.casRoot("other", a, PageCache.NO_ROOT)).isTrue();
        assertThat(pc.casRoot("ünïcödé", PageCache.NO_ROOT, a)).isTrue();
        pc.rewrite(PageCache.META_PID);
        reopen();
        assertThat(pc.root("tree")).isEqualTo(b);
        assertThat(pc.roots()).containsOnlyKeys("tree", "ünïcödé");
        assertThatThrownBy(() -> pc.casRoot("x", PageCache.NO_ROOT, 999)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> pc.casRoot("x", PageCache.NO_ROOT, PageCache.META_PID))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reserved");
    }

    @Test
    void idsRiseAndNeverRepeatAcrossRestartsAndCrashes() {
        long interval = pc.config().idgenPersistInterval();
        long last = -1;
        for (int i = 0; i < 10; i++) {
            long id = pc.generateId();
            assertThat(id).isGreaterThan(last);
            last = id;
        }
        assertThat(last).isEqualTo(9);
        reopen();
        long afterRestart = pc.generateId();
        assertThat(afterRestart).isGreaterThan(last).isEqualTo(8 + 2 * interval);
        last = afterRestart;
        for (int i = 0; i < 7; i++) {
            last = pc.generateId();
        }
        crash();
        assertThat(pc.generateId()).isGreaterThan(last);
    }

    @SuppressWarnings("try") // the resource is used for its scope only
    @Test
    void idsAdvancedPastAnotherStoresStayAboveItAcrossAPowerLoss() {
        long interval = pc.config().idgenPersistInterval();
        long imported = 1_000_003 * interval + 1; // far past this store's own marks, inside an interval
        pc.generateId();
        pc.advanceIdsPast(imported);
        crash(); // nothing flushed since: the advance's mark must have been made stable by the call itself
        long next = pc.generateId();
        assertThat(next).isGreaterThan(imported);
        pc.advanceIdsPast(5); // never moves ids back
        assertThat(pc.generateId()).isGreaterThan(next);
        assertThatThrownBy(() -> pc.advanceIdsPast(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("cannot advance past -1");
        try (Batch batch = pc.openBatch()) {
            assertThatThrownBy(() -> pc.advanceIdsPast(imported * 2)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("outside any batch");
        }
        crash();
        assertThat(pc.generateId()).as("the refused advance moved nothing").isLessThan(imported * 2);
    }

    @Test
    void anOpenWritesNothingUntilTheFirstIdAndRunsWithoutIdsRestartAtTheSameId() {
        long interval = pc.config().idgenPersistInterval();
        pc.generateId();
        reopen();
        long reserved = pc.log().maxReservedLsn();
        reopen();
        assertThat(pc.log().maxReservedLsn()).as("two opens and a close without ids wrote nothing").isEqualTo(reserved);
        crash();
        assertThat(pc.log().maxReservedLsn()).isEqualTo(reserved);
        long first = pc.generateId();
        assertThat(first).as("the runs without ids handed none out: the restart point is where it was")
                .isEqualTo(2 * interval);
        crash();
        assertThat(pc.generateId()).as("the first id's mark was stable before the id was returned").isGreaterThan(first);
    }

    @SuppressWarnings("try") // the resource is used for its scope only
    @Test
    void theFirstMarkOfARunIsStableBeforeAThreadsFirstBatchOpens() {
        long before = pc.generateId();
        reopen();
        long last;
        try (Batch batch = pc.openBatch()) {
            assertThat(pc.log().stableTip()).as("the restart mark, written and made stable by openBatch")
                    .isGreaterThan(((Page<?>) pc.tableEntry(PageCache.COUNTER_PID)).lastLsn());
            last = pc.generateId();
        }
        crash(); // the batch was never made stable: it is lost, the mark before it is not
        assertThat(pc.generateId()).isGreaterThan(last).isGreaterThan(before);
    }

    @Test
    void aSmallerIntervalAfterARestartCannotReissueIds() {
        pc.close();
        pc = Stores.open(disk, Stores.small().withIdgenPersistInterval(100));
        long first = pc.generateId();
        assertThat(first).as("the new store's mark 0 was written with an interval of 4").isEqualTo(0 + 2 * 100);
        long last = first;
        for (int i = 0; i < 150; i++) {
            last = pc.generateId();
        }
        pc.abandon();
        disk.powerLoss();
        pc = Stores.open(disk, Stores.small().withIdgenPersistInterval(1));
        assertThat(pc.generateId()).as("mark 300 was lost; 200 was stable").isGreaterThan(last).isEqualTo(200 + 2 * 100);
    }

    @SuppressWarnings("try") // the resource is used for its scope only
    @Test
    void idsInsideABatchNeverWaitForThatBatch() {
        long interval = pc.config().idgenPersistInterval();
        long last;
        try (Batch batch = pc.openBatch()) {
            last = pc.generateId();
            for (int i = 0; i < 3 * interval; i++) {
                long id = pc.generateId();
                assertThat(id).isGreaterThan(last);
                last = id;
            }
        }
        pc.flush();
        crash();
        assertThat(pc.generateId()).isGreaterThan(last);
    }

    /**
     * A batch that takes ids across two interval boundaries needs, for its later ids, a mark written inside
     * itself; the batch is lost in a crash (sealed, never flushed), and that mark with it. The ids were
     * handed out all the same, so they must not come back after the restart.
     */
    @SuppressWarnings("try") // the resource is used for its scope only
    @Test
    void idsHandedOutInsideABatchLostInACrashDoNotRepeat() {
        long interval = pc.config().idgenPersistInterval();
        pc.generateId();
        long last;
        try (Batch batch = pc.openBatch()) {
            last = pc.generateId();
            for (int i = 0; i < 3 * interval; i++) {
                last = pc.generateId();
            }
        }
        crash();
        assertThat(pc.generateId()).isGreaterThan(last);
    }

    /**
     * Another thread's batch X opened before a mark and sealed after this thread's batch M opened: X and M
     * stand or fall together, so the mark is stable only once M is sealed. An id inside M that waited for that
     * mark to be stable waited for its own batch, for ever. Then a crash before anything is flushed loses X, M
     * and that mark together: the ids M handed out across the boundary must not come back (the id-mark file).
     */
    @SuppressWarnings("try") // the resource is used for its scope only
    @Test
    void idsInsideABatchNeverWaitForAGroupTheirOwnBatchBelongsTo() throws Exception {
        long interval = pc.config().idgenPersistInterval();
        pc.generateId();
        HeldBatch x = new HeldBatch(() -> {});
        assertThat(x.awaitOpen(10_000)).isTrue();
        for (int i = 0; i < interval; i++) {
            pc.generateId(); // a mark written after X's manifest
        }
        // M lives on a thread of its own, so that a wait for itself fails the test instead of hanging it.
        CompletableFuture<Long> insideM = CompletableFuture.supplyAsync(() -> {
            long last = -1;
            try (Batch m = pc.openBatch()) {
                x.seal(); // X's seal lies after M's manifest
                for (int i = 0; i < 2 * interval; i++) {
                    long id = pc.generateId();
                    assertThat(id).isGreaterThan(last);
                    last = id;
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            return last;
        });
        long last;
        try {
            last = insideM.get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            crash(); // fails the stuck wait, so the thread and the store can go
            throw new AssertionError("an id inside a batch waited for that batch to seal", e);
        }
        crash(); // nothing flushed: X, M and the mark written after X's manifest are lost together
        assertThat(pc.generateId()).isGreaterThan(last);
    }

    /**
     * Batches that keep overlapping form one group, stable only as a whole: while a flush waits, a thread
     * about to open a batch waits until the batches in flight have sealed, so the group ends and the flush
     * completes even though new batches keep opening (8 threads of back-to-back batches got 7 flushes
     * through in 3 s without this, 27 000 with it).
     */
    @Test
    void aFlushCompletesWhileNewBatchesKeepOpening() throws Exception {
        pc.generateId(); // the run's first mark, so that opening a batch writes nothing else first
        HeldBatch x = new HeldBatch(() -> pc.allocate(List.of(1)));
        assertThat(x.awaitOpen(10_000)).isTrue();
        // What a flush waiting for X wants (set here, so that Y cannot open before the flush asked for it).
        pc.log().requestStable(pc.log().maxReservedLsn());
        CompletableFuture<Long> flush = CompletableFuture.supplyAsync(pc::flush);
        HeldBatch y = new HeldBatch(() -> {});
        try {
            assertThat(y.awaitOpen(200)).as("Y waits for X while a flush waits").isFalse();
            x.seal();
            assertThat(y.awaitOpen(10_000)).isTrue();
            assertThat(flush.get(30, TimeUnit.SECONDS)).as("the flush, with Y still open").isPositive();
        } finally {
            x.seal();
            y.seal();
        }
    }

    @Test
    void idsSurviveACrashRightAfterTheFirstMarkOfARun() {
        long first = pc.generateId();
        pc.rewrite(PageCache.COUNTER_PID);
        crash();
        long afterCrash = pc.generateId();
        assertThat(afterCrash).isGreaterThan(first);
        long last = afterCrash;
        for (int i = 0; i < 20; i++) {
            last = pc.generateId();
        }
        crash();
        assertThat(pc.generateId()).isGreaterThan(last);
    }

    @SuppressWarnings("try") // the resource is used for its scope only
    @Test
    void aBatchIsRecoveredWholeOrNotAtAll() {
        Page<List<Integer>> a = pc.allocate(List.of(1));
        Page<List<Integer>> b = pc.allocate(List.of(2));
        pc.flush();
        try (Batch batch = pc.openBatch()) {
            assertThat(batch.manifestLsn()).isPositive();
            a = pc.link(a.pid(), a, 10).page();
            b = pc.replace(b.pid(), b, List.of(20)).page();
            pc.allocate(List.of(30));
            assertThatThrownBy(pc::flush).isInstanceOf(IllegalStateException.class).hasMessageContaining("batch");
        }
        crash();
        assertThat(pc.get(a.pid()).value()).containsExactly(1);
        assertThat(pc.get(b.pid()).value()).containsExactly(2);
        assertThat(pc.nextPid()).isEqualTo(b.pid() + 1);

        a = pc.get(a.pid());
        b = pc.get(b.pid());
        try (Batch batch = pc.openBatch()) {
            a = pc.link(a.pid(), a, 10).page();
            b = pc.replace(b.pid(), b, List.of(20)).page();
        }
        pc.flush();
        crash();
        assertThat(pc.get(a.pid()).value()).containsExactly(1, 10);
        assertThat(pc.get(b.pid()).value()).containsExactly(20);
    }

    @Test
    void closeRefusesWhileABatchIsOpen() {
        Batch batch = pc.openBatch();
        assertThatThrownBy(pc::close).isInstanceOf(IllegalStateException.class).hasMessageContaining("batch");
        batch.close();
        batch.close();
    }

    @Test
    void readTimestampsOnlyRise() {
        long a = pc.allocate(List.of(1)).pid();
        long b = pc.allocate(List.of(2)).pid();
        assertThat(pc.readTimestamp(a)).isZero();
        pc.bumpReadTimestamp(a, 5);
        pc.bumpReadTimestamp(a, 3);
        assertThat(pc.readTimestamp(a)).isEqualTo(5);
        assertThat(pc.readTimestamp(b)).isZero();
        pc.bumpReadTimestamp(b, 7);
        assertThat(pc.readTimestamp(b)).isEqualTo(7);
        assertThatThrownBy(() -> pc.bumpReadTimestamp(b + 1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> pc.readTimestamp(-1)).isInstanceOf(IllegalArgumentException.class);
        reopen();
        assertThat(pc.readTimestamp(a)).as("not persisted").isZero();
    }

    @Test
    void concurrentReadTimestampBumpsKeepTheHighest() throws Exception {
        long pid = pc.allocate(List.of(1)).pid();
        List<CompletableFuture<Void>> bumpers = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int offset = t;
            bumpers.add(CompletableFuture.runAsync(() -> {
                for (int i = 0; i < 10_000; i++) {
                    pc.bumpReadTimestamp(pid, i * 4L + offset);
                }
            }));
        }
        CompletableFuture.allOf(bumpers.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        assertThat(pc.readTimestamp(pid)).isEqualTo(9_999 * 4L + 3);
    }

    @Test
    void measuresItsSize() {
        for (int i = 0; i < 50; i++) {
            Page<List<Integer>> v = pc.allocate(List.of(i, i));
            pc.link(v.pid(), v, i);
        }
        pc.flush();
        pc.pageOut(PageCache.FIRST_USER_PID);
        assertThat(pc.sizeOnDisk()).isGreaterThan(0);
        assertThat(pc.logicalSize()).isEqualTo(16 + 16 + 50 * (16 + 60));
        assertThat(pc.get(PageCache.FIRST_USER_PID).value()).as("logicalSize does not cache").isNotNull();
        assertThat(pc.spaceAmplification()).isGreaterThan(0);
    }

    @Test
    void recoveryPutsFreedAndLostIdsBackOnTheFreeList() {
        Page<List<Integer>> a = pc.allocate(List.of(1));
        Page<List<Integer>> b = pc.allocate(List.of(2));
        Page<List<Integer>> c = pc.allocate(List.of(3));
        pc.free(b.pid(), b);
        pc.flush();
        Page<List<Integer>> lost = pc.allocate(List.of(4));
        assertThat(lost.pid()).isEqualTo(b.pid());
        Page<List<Integer>> lostToo = pc.allocate(List.of(5));
        crash();
        assertThat(pc.get(a.pid()).value()).containsExactly(1);
        assertThat(pc.get(b.pid())).isNull();
        assertThat(pc.get(c.pid()).value()).containsExactly(3);
        assertThat(pc.nextPid()).isEqualTo(c.pid() + 1);
        assertThatThrownBy(() -> pc.get(lostToo.pid())).isInstanceOf(IllegalArgumentException.class);
        assertThat(pc.allocate(List.of(6)).pid()).isEqualTo(b.pid());
        assertThat(pc.allocate(List.of(7)).pid()).isEqualTo(c.pid() + 1);
    }

    @Test
    void aCrashKeepsTheFlushedStateAndAPrefixOfTheRest() {
        Page<List<Integer>> v = pc.allocate(List.of(0));
        long pid = v.pid();
        for (int i = 1; i <= 30; i++) {
            v = pc.link(pid, v, i).page();
            if (i == 15) {
                pc.flush();
            }
        }
        crash();
        List<Integer> recovered = pc.get(pid).value();
        assertThat(recovered.size()).isBetween(16, 31);
        for (int i = 0; i < recovered.size(); i++) {
            assertThat(recovered.get(i)).isEqualTo(i);
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
