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
}
