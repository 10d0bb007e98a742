package dev.toboggan;

import dev.toboggan.TreeModelRun.Op;
import dev.toboggan.TreeModelRun.Setup;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Random operation sequences against the reference model ({@link TreeModelRun}): restarts, power losses
 * and flushes included. The default suite runs a few small sequences; {@code -Plong}
 * ({@code toboggan.test.scale=50}) runs fifty times as many. A failure prints its seed and a shrunk
 * sequence as Java: add it below as a named regression test.
 */
class TreeModelTest {
    private static final int SCALE = Integer.getInteger("toboggan.test.scale", 1);
    private static final long BASE_SEED = Long.getLong("toboggan.test.seed", System.nanoTime());

    @Test
    void randomSequencesMatchTheModel() {
        int runs = 20 * SCALE;
        System.out.println("TreeModelTest seed " + BASE_SEED + " (rerun with -Dtoboggan.test.seed=" + BASE_SEED + "), "
                + runs + " runs");
        for (int run = 0; run < runs; run++) {
            check(BASE_SEED + run, 400);
        }
    }

    private static void check(long seed, int length) {
        Setup setup = TreeModelRun.setupFor(seed);
        List<Op> ops = TreeModelRun.generate(seed, length);
        Throwable failure = TreeModelRun.failureOf(setup, ops);
        if (failure != null) {
            List<Op> shrunk = TreeModelRun.shrink(setup, ops);
            String test = "    @Test\n    void seed" + Long.toUnsignedString(seed) + "() {\n        regression("
                    + TreeModelRun.toJava(setup) + ",\n            " + TreeModelRun.toJava(shrunk) + ");\n    }";
            throw new AssertionError("model run with seed " + seed + " failed; shrunk to " + shrunk.size()
                    + " operations. As a regression test:\n" + test + "\nfailure of the shrunk sequence: "
                    + TreeModelRun.failureOf(setup, shrunk), failure);
        }
    }

    private static void regression(Setup setup, List<Op> ops) {
        new TreeModelRun(setup).execute(ops);
    }

    // ---------------------------------------------------------------- named regressions and scenarios

    /**
     * Found by seed 3133757380515: with keys longer than a node may be, index nodes split into halves of
     * one entry each, so every split of a child split the root again and the tree grew a level per insert
     * (index nodes now keep two entries per half).
     */
    @Test
    void seed38272534958580() {
        regression(new TreeModelRun.Setup(1024, 1, 8192, 8192),
            List.of(
                new Op.Insert(0, "", 12),
                new Op.Apply(0, List.of("", "", "800000", "ff41", ""), List.of(2, -1, -1, 19, 20)),
                new Op.Insert(1, "0180", 9),
                new Op.Apply(0, List.of("00", "004141", "", "01"), List.of(6, 2, -1, -1)),
                new Op.Insert(0, "", 17),
                new Op.Insert(0, "807f8041", 16),
                new Op.Restart(),
                new Op.Insert(0, "01414101", 5),
                new Op.Insert(0, "41", 4577),
                new Op.Insert(2, "017f00ff", 20),
                new Op.Insert(0, "7f80", 1),
                new Op.Insert(0, "007f00", 12),
                new Op.Insert(0, "01800100", 11),
                new Op.Apply(0, List.of("00007f7f", "41", "80000180", "01"), List.of(12, 15, 8, 4)),
                new Op.Apply(1, List.of("", "", "80ff41", "804180", "41ff4100"), List.of(94, 14, 117, 167, 14)),
                new Op.Apply(0, List.of("7f00", "7f0141", "ffff80ff", "", "", "", "", "7f01"), List.of(7, 104, 1, -1, 5, 19, -1, -1)),
                new Op.Insert(2, "7f4101", 15),
                new Op.Insert(0, "4180ffff", 7),
                new Op.Apply(0, List.of("", "ff417f01", "", "ff0001"), List.of(-1, 6, -1, 18)),
                new Op.Swap(0, "ff807f", 0, 5),
                new Op.Clean(true, false),
                new Op.Swap(0, "807f0001", 1, 1),
                new Op.Insert(0, "8001", 244),
                new Op.Insert(0, "ff8080", 9),
                new Op.Insert(0, "7f018001", 13),
                new Op.Insert(2, "80", 11),
                new Op.Insert(0, "ff804100", 16),
                new Op.Clean(true, false),
                new Op.RemoveRange(2, "", "807fff7f", true),
                new Op.Insert(0, "414141ff", 17),
                new Op.Insert(1, "00", 11),
                new Op.Insert(0, "4101417f", 22),
                new Op.Insert(0, "7f4141", 7),
                new Op.Insert(0, "417f80ff", 14),
                new Op.Insert(0, "ff41", 10),
                new Op.Apply(0, List.of("", "00ff", "41007f41", "014141", "00ff7f41", "ffff8080"), List.of(16, 2, 22, 17, 182, 20)),
                new Op.Swap(0, "004180", 1, 15),
                new Op.Insert(2, "410001", 22),
                new Op.Insert(0, "", 19),
                new Op.Remove(0, ""),
                new Op.Insert(2, "ff0100", 11),
                new Op.Insert(0, "8080", 21),
                new Op.Insert(1, "", 12),
                new Op.Insert(1, "0080", 23),
                new Op.Insert(0, "01", 19),
                new Op.Insert(0, "7f", 0),
                new Op.Insert(0, "", 5),
                new Op.Insert(2, "ff", 11),
                new Op.Insert(2, "41", 13),
                new Op.RemoveRange(2, "0001", "4101807f", false),
                new Op.Insert(0, "41ff80", 265),
                new Op.Insert(0, "", 7),
                new Op.Insert(2, "41", 16),
                new Op.Remove(0, ""),
                new Op.Insert(0, "", 0),
                new Op.Remove(0, "41"),
                new Op.Insert(2, "01010101010101010101010101010101010101010101010101010101010100", 9),
                new Op.Insert(0, "7f", 21),
                new Op.Insert(0, "807f", 19),
                new Op.Restart(),
                new Op.Insert(0, "7fff", 1),
                new Op.Insert(0, "01010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101010101017f", 15),
                new Op.Insert(0, "01800000", 17),
                new Op.Insert(0, "014141", 6),
                new Op.Clean(true, true),
                new Op.Insert(1, "7f804180", 2),
                new Op.Apply(0, List.of(""), List.of(-1)),
                new Op.Insert(0, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff41", 9),
                new Op.Insert(0, "0000007f", 2),
                new Op.Swap(1, "7f41", 1, 9),
                new Op.Insert(0, "", 248),
                new Op.RemoveRange(1, "010041", null, false),
                new Op.Swap(0, "41", 0, 11),
                new Op.Insert(0, "7fff", 249),
                new Op.Insert(2, "8001", 13),
                new Op.Insert(2, "0080", 22),
                new Op.Remove(0, ""),
                new Op.Insert(0, "ff41007f", 12),
                new Op.Flush(),
                new Op.Insert(1, "8001ff", 162),
                new Op.Insert(0, "01", 27),
                new Op.Insert(1, "41", 12),
                new Op.Insert(0, "80", 3),
                new Op.Insert(0, "", 8),
                new Op.Flush(),
                new Op.Insert(1, "418041", 4),
                new Op.Swap(2, "7fff", 0, 4),
                new Op.Insert(0, "01410080", 8),
                new Op.Insert(1, "0080", 20),
                new Op.RemoveRange(0, "018080", null, true),
                new Op.Insert(0, "0180", 1),
                new Op.Insert(2, "", 3),
                new Op.Insert(2, "4101ff80", 11),
                new Op.Insert(2, "00ff", 13),
                new Op.Insert(0, "807fff00", 1),
                new Op.Insert(0, "ff", 0),
                new Op.Insert(0, "80417f00", 1),
                new Op.Insert(0, "00ff7f41", 15),
                new Op.Insert(0, "ff", 309),
                new Op.Insert(0, "41", 17),
                new Op.Insert(0, "007f80ff", 7),
                new Op.Insert(0, "ff014100", 3849),
                new Op.Remove(0, "007f00"),
                new Op.CutShort(2, 16, 380351193945206427L),
                new Op.RemoveRange(0, null, null, false),
                new Op.CutShort(2, 4, 6984335126119502632L),
                new Op.Swap(1, "7f7f7fff", 1, 11),
                new Op.Insert(2, "4100807f", 0),
                new Op.CutShort(1, 3, 2643349748962227814L)));
    }

    @Test
    void seed3133757380515() {
        regression(TreeModelRun.setupFor(3133757380515L), List.of(
                new Op.Insert(0, "417f", 16),
                new Op.Apply(0, List.of("0041", "7f000080", "807fff80", "41", "4100ff7f", "7f010080", "410100", "41004101"), List.of(6, -1, -1, 22, -1, 15, 21, 23)),
                new Op.Apply(0, List.of("4100", "7f00417f", "80007f80", "0080", "8001"), List.of(23, 8, 12, 17, 221)),
                new Op.Insert(0, "8000ff", 14),
                new Op.Apply(0, List.of("", "014141", "", "418000"), List.of(10, 0, 4, 4)),
                new Op.Insert(0, "80018001", 20),
                new Op.Apply(0, List.of("7f01ffff", "", "01", "", ""), List.of(-1, 16, 9, -1, 185)),
                new Op.Insert(0, "80", 16),
                new Op.Swap(0, "7f80", 1, 10),
                new Op.Insert(0, "ff80", 148),
                new Op.Insert(0, "0101", 10),
                new Op.Insert(0, "80018000", 23),
                new Op.Apply(0, List.of("417f41", "ff4101", "0141807f", "41"), List.of(-1, -1, 13, 21)),
                new Op.Apply(0, List.of("01ff0180", "01017f41", "01", "", "80", "00ff0001", "41ffff", "ff00"), List.of(-1, 17, -1, 3, 3, -1, 2, 1)),
                new Op.Insert(0, "417f41", 4),
                new Op.Apply(0, List.of("014141", "ff7f017f", "00", "00".repeat(75) + "80"), List.of(154, 8, 15, 12)),
                new Op.Insert(0, "80418001", 20),
                new Op.Apply(0, List.of("41", "", "00", "80", "80", "807fff", "ff".repeat(54) + "7f", "417f"), List.of(10, 2, 11, -1, 5, 9, -1, -1)),
                new Op.Insert(0, "8041ff", 22),
                new Op.Apply(0, List.of("01ff7f80", "7fff", "0141", "00410000", "80", "017f7f"), List.of(18, -1, 86, 19, 131, 19)),
                new Op.Insert(0, "7f4101", 20),
                new Op.Insert(0, "00".repeat(44) + "41", 69),
                new Op.Insert(0, "417f", 7),
                new Op.Insert(0, "410100", 1),
                new Op.Insert(0, "7f", 10),
                new Op.Insert(0, "ff".repeat(55) + "41", 10),
                new Op.Insert(0, "01ff", 299),
                new Op.Insert(0, "41ff", 18),
                new Op.Apply(0, List.of("", "ff41ff01", "008000", "7f01807f", "7f", "010041", "ff808000", ""), List.of(-1, -1, 15, 1, 11, 18, 6, 10)),
                new Op.Insert(0, "410100ff", 11),
                new Op.Insert(0, "41", 18),
                new Op.Insert(0, "01", 0),
                new Op.Insert(0, "017f7f", 11),
                new Op.Insert(0, "00800180", 7),
                new Op.Insert(0, "01", 20),
                new Op.Remove(0, "41"),
                new Op.Apply(0, List.of("807f", "ffffff41", "0041", "018000", "", "7f"), List.of(21, 16, 34, 20, 23, 13)),
                new Op.Insert(0, "0141ff", 8),
                new Op.Insert(0, "417fff01", 15),
                new Op.Apply(0, List.of("80", "", "800101", "018041"), List.of(0, 7, 2853, -1)),
                new Op.Insert(0, "41", 5),
                new Op.Insert(0, "00ff", 21),
                new Op.Insert(0, "01ff0141", 18),
                new Op.Insert(0, "0180ff41", 9),
                new Op.Apply(0, List.of("", "01", "7f", "ff"), List.of(10, 10, 3, 13)),
                new Op.Insert(0, "41014101", 21),
                new Op.Insert(0, "7f01", 0),
                new Op.Insert(0, "41ffff", 187),
                new Op.Swap(0, "ff".repeat(80), 0, 206),
                new Op.Apply(0, List.of("7f", "", "ff01", "41", "7f".repeat(59) + "80", "01"), List.of(-1, -1, -1, 16, 0, 318)),
                new Op.Insert(0, "80ff41ff", 5),
                new Op.Insert(0, "41", 6),
                new Op.Remove(0, "ff"),
                new Op.Remove(0, "7f".repeat(59) + "01"),
                new Op.Remove(0, "41ff7f41"),
                new Op.Insert(0, "ffff", 13),
                new Op.Insert(0, "00004100", 45),
                new Op.Remove(0, "0100ff"),
                new Op.Apply(0, List.of("ff7f", "017f01", "01418080", "0001", "80", "00418041"), List.of(-1, 114, 14, 7, -1, 18)),
                new Op.Swap(0, "80017f", 0, -1),
                new Op.Swap(0, "41ff0100", 1, 185),
                new Op.Insert(0, "01410000", 22),
                new Op.Remove(0, "7f8041"),
                new Op.Insert(0, "004101", 2),
                new Op.Insert(0, "80", 8),
                new Op.Swap(0, "80", 0, 5),
                new Op.Insert(0, "00".repeat(30) + "ff", 13),
                new Op.Insert(0, "0041", 8)));
    }

    /**
     * Found by seed 3226646574719 (a gap in the model): creating a tree is a durable step of its own, so a
     * crash may keep a new, empty tree without the batch that created it.
     */
    @Test
    void aCrashMayKeepATreeCreatedByALostBatch() {
        regression(TreeModelRun.setupFor(3226646574719L), List.of(
                new Op.Insert(1, "", 13),
                new Op.Insert(0, "ffffff01", 6),
                new Op.Insert(2, "7f4180ff", 21),
                new Op.Insert(0, "01ff", 11),
                new Op.Apply(0, List.of("41ff", "ff8080", "ff", "", "ff7f80"), List.of(-1, -1, 9, 8, 23)),
                new Op.Insert(0, "ff7f41", 12),
                new Op.Insert(0, "007f80", 18),
                new Op.Drop(2),
                new Op.Apply(0, List.of("410101", "", "00ff01"), List.of(14, 3, -1)),
                new Op.Apply(0, List.of("ff", "7f7f4100", "80ff", "01417f00", "41", "417f7f", "7f01", "7f010000"),
                        List.of(15, 1909, 8, 21, 21, 237, -1, -1)),
                new Op.Apply(2, List.of("ff01", "8001807f", "ff".repeat(27) + "7f", "0041", "01", "7f0180"),
                        List.of(2, 15, 16, 17, 15, 157)),
                new Op.Crash(0L)));
    }

    @Test
    void aCrashInsideABatchLosesTheWholeBatchAndItsSplits() {
        regression(new Setup(4096, 2, 64, 8), List.of(
                new Op.Insert(0, "01", 3), new Op.Insert(0, "02", 30), new Op.Flush(),
                new Op.Apply(0, List.of("03", "04", "05", "06", "0601", "0602", "07", "08"),
                        List.of(20, 20, 20, 20, 20, 20, 20, 20)),
                new Op.Crash(0L), new Op.Scan(0, null, null, false), new Op.Count(0)));
    }

    @Test
    void droppedTreesFreeEveryPageAcrossRestartsAndCrashes() {
        regression(new Setup(1024, 1, 64, 0), List.of(
                new Op.Insert(1, "01", 40), new Op.Insert(1, "02", 4000), new Op.Insert(1, "03", 3),
                new Op.Insert(1, "04", 3), new Op.Insert(1, "05", 300), new Op.Flush(), new Op.Drop(1),
                new Op.Crash(7L), new Op.Drop(1), new Op.Restart(), new Op.Insert(1, "01", 1), new Op.Count(1)));
    }
}
