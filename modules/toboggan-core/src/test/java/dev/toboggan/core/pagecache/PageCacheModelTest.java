package dev.toboggan.core.pagecache;

import dev.toboggan.core.pagecache.ModelRun.Op;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Random operation sequences against the reference model ({@link ModelRun}). The default suite runs a
 * few small sequences; {@code -Plong} ({@code toboggan.test.scale=50}) runs fifty times as many. A
 * failure prints its seed and a shrunk sequence as Java: add it below as a named regression test.
 */
class PageCacheModelTest {
    private static final int SCALE = Integer.getInteger("toboggan.test.scale", 1);
    private static final long BASE_SEED = Long.getLong("toboggan.test.seed", System.nanoTime());

    @Test
    void randomSequencesMatchTheModel() {
        int runs = 12 * SCALE;
        System.out.println("PageCacheModelTest seed " + BASE_SEED + " (rerun with -Dtoboggan.test.seed=" + BASE_SEED
                + "), " + runs + " runs");
        for (int run = 0; run < runs; run++) {
            long seed = BASE_SEED + run;
            check(seed, 300);
        }
    }

    private static void check(long seed, int length) {
        PageCacheConfig config = ModelRun.configFor(seed);
        List<Op> ops = ModelRun.generate(seed, length);
        Throwable failure = ModelRun.failureOf(config, ops);
        if (failure != null) {
            List<Op> shrunk = ModelRun.shrink(config, ops);
            String test = "    @Test\n    void seed" + Long.toUnsignedString(seed) + "() {\n        regression("
                    + ModelRun.toJava(config) + ",\n        " + ModelRun.toJava(shrunk) + ");\n    }";
            throw new AssertionError("model run with seed " + seed + " failed; shrunk to " + shrunk.size()
                    + " operations. As a regression test:\n" + test + "\nfailure of the shrunk sequence: "
                    + ModelRun.failureOf(config, shrunk), failure);
        }
    }

    private static void regression(PageCacheConfig config, List<Op> ops) {
        new ModelRun(config).execute(ops);
    }

    // ---------------------------------------------------------------- named regressions and scenarios

    @Test
    void crashInsideABatchLosesTheWholeBatch() {
        regression(Stores.small(), List.of(
                new Op.Allocate(2),
                new Op.Allocate(1),
                new Op.Flush(),
                new Op.Batch(List.of(new Op.Link(0, 5), new Op.Free(1), new Op.Allocate(3), new Op.SetRoot(0, 1))),
                new Op.Crash(0L)));
    }

    @Test
    void freedAndReallocatedIdsSurviveRestartsAndCrashes() {
        regression(Stores.small().withConsolidationThreshold(2), List.of(
                new Op.Allocate(1), new Op.Allocate(1), new Op.Allocate(1),
                new Op.Free(1), new Op.Flush(), new Op.Allocate(2), new Op.Link(1, 9), new Op.Link(1, 10),
                new Op.Crash(0L), new Op.Allocate(0), new Op.Free(0), new Op.Restart(), new Op.Allocate(4),
                new Op.Crash(7L), new Op.Get(0)));
    }

    @Test
    void pagedOutBlobsConsolidateAndRecover() {
        regression(Stores.small().withConsolidationThreshold(3).withPageInParallelism(4), List.of(
                new Op.Allocate(500), new Op.Link(0, 1), new Op.Link(0, 2), new Op.Flush(), new Op.PageOut(0),
                new Op.Link(0, 3), new Op.Link(0, 4), new Op.Rewrite(0), new Op.Flush(), new Op.PageOut(0),
                new Op.Get(0), new Op.Crash(3L), new Op.Replace(0, 300), new Op.Restart()));
    }

    /** Found by seed 1025738702306: the first mark of a run was written inside a batch that a crash lost. */
    @Test
    void theFirstIdAfterARestartSurvivesACrashThatLosesItsBatch() {
        regression(Stores.small().withConsolidationThreshold(3).withIdgenPersistInterval(1).withPageInParallelism(4),
                List.of(new Op.Restart(), new Op.Batch(List.of(new Op.GenerateId())), new Op.Crash(0L)));
    }

    @Test
    void idsNeverGoBackWithAnIntervalOfOne() {
        regression(Stores.small().withIdgenPersistInterval(1), List.of(
                new Op.GenerateId(), new Op.GenerateId(), new Op.Crash(0L), new Op.GenerateId(),
                new Op.Batch(List.of(new Op.GenerateId(), new Op.Allocate(1))), new Op.Crash(0L),
                new Op.GenerateId(), new Op.Crash(11L), new Op.GenerateId()));
    }

    /**
     * A batch taking ids across several interval boundaries (interval 1: every id), lost in a crash: its later
     * ids needed marks written inside it, which recovery dropped with it. They must not come back (the
     * {@code id-mark} file), alone or with another batch in the same run.
     */
    @Test
    void idsOfABatchTakingSeveralIntervalsLostInACrashAreNotReissued() {
        regression(Stores.small().withIdgenPersistInterval(1), List.of(
                new Op.GenerateId(), new Op.Allocate(1),
                new Op.Batch(List.of(new Op.GenerateId(), new Op.GenerateId(), new Op.GenerateId(), new Op.Link(0, 5),
                        new Op.GenerateId())),
                new Op.Crash(0L), new Op.GenerateId(),
                new Op.Batch(List.of(new Op.GenerateId(), new Op.GenerateId())),
                new Op.Batch(List.of(new Op.GenerateId(), new Op.GenerateId(), new Op.GenerateId())),
                new Op.Crash(7L), new Op.GenerateId(), new Op.Restart(), new Op.GenerateId()));
    }

    /**
     * Found by seed 71920389839775 (shrunk): batches in a row, each taking one id across an interval boundary
     * (interval 1), lost in a crash; the second one's preceding mark had been written inside the first, so its
     * id came again. Now a batch opens only once the next id is ready.
     */
    @Test
    void idsOfBatchesInARowLostInACrashAreNotReissued() {
        regression(Stores.small().withConsolidationThreshold(2).withIdgenPersistInterval(1).withPageInParallelism(4),
                List.of(
                new Op.Allocate(1), new Op.SetRoot(2, 999), new Op.Link(752, 271052), new Op.Link(261, 645672),
                new Op.Batch(List.of(new Op.SetRoot(1, 268), new Op.Link(892, 125249))), new Op.Allocate(3),
                new Op.Link(665, 988278), new Op.Allocate(5), new Op.Allocate(4),
                new Op.Batch(List.of(new Op.Replace(772, 1))), new Op.Flush(), new Op.Crash(3303551741862937955L),
                new Op.Link(218, 432114), new Op.Link(649, 518), new Op.Link(878, 817720), new Op.Link(233, 307027),
                new Op.GenerateId(), new Op.GenerateId(), new Op.Allocate(3), new Op.Restart(), new Op.Allocate(3),
                new Op.Allocate(3), new Op.Link(937, 334054), new Op.GenerateId(), new Op.Crash(8042940039368692347L),
                new Op.Crash(6455401660600310361L), new Op.Link(820, 154279), new Op.Link(62, 441173),
                new Op.Link(702, 47635), new Op.Rewrite(283), new Op.Link(489, 756749),
                new Op.Batch(List.of(new Op.Allocate(4), new Op.Allocate(2), new Op.RemoveRoot(1))),
                new Op.Replace(188, 4), new Op.Link(841, 498703), new Op.Link(470, 157733), new Op.Link(252, 563206),
                new Op.Replace(425, 0), new Op.Link(321, 387219), new Op.Link(883, 77337), new Op.Replace(806, 0),
                new Op.Free(980), new Op.SetRoot(2, 618), new Op.Flush(), new Op.Crash(5932554855240378548L),
                new Op.Crash(5554224127733352589L), new Op.Link(929, 690443), new Op.Allocate(1), new Op.Allocate(0),
                new Op.Free(12), new Op.Link(500, 458556), new Op.Allocate(1), new Op.Allocate(0), new Op.Rewrite(58),
                new Op.Batch(List.of(new Op.Link(501, 983159), new Op.Allocate(0), new Op.GenerateId(),
                        new Op.Free(562))),
                new Op.Batch(List.of(new Op.GenerateId())), new Op.Crash(8107115318698431158L)));
    }
}
