package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.io.SimulatedStorage;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * A model-based test harness: random sequences of page cache operations, crashes included, run against
 * the real page cache on a simulated disk and against a plain reference model.
 *
 * <p>The oracle. Between crashes the page cache must match the model exactly, after every operation. A
 * clean restart (close, reopen) must recover the model exactly. A crash may lose what was not flushed,
 * but the log is a sequence, so what survives is the state after some prefix of the operations: the
 * recovered store must equal the model as it was after some operation since the last flush (never
 * inside an atomic batch). Ids never go back, across restarts and crashes.
 *
 * <p>Operations are state-independent values (a page is "the k-th live page, modulo their count"), so a
 * failing sequence can be shrunk by dropping operations and printed as Java for a named regression
 * test.
 */
final class ModelRun {
    /** One operation; {@code pick} chooses among the live pages in id order. */
    sealed interface Op {
        record Allocate(int size) implements Op {}
        record Link(int pick, int delta) implements Op {}
        record Replace(int pick, int size) implements Op {}
        record Free(int pick) implements Op {}
        record Get(int pick) implements Op {}
        record PageOut(int pick) implements Op {}
        record Rewrite(int pick) implements Op {}
        record GenerateId() implements Op {}
        record SetRoot(int name, int pick) implements Op {}
        record RemoveRoot(int name) implements Op {}
        record Batch(List<Op> ops) implements Op {}
        record Flush() implements Op {}
        /**
         * A pass of the segment cleaner, outside batches (the Cleaner actor's thread never holds one):
         * {@code everySegment} drains every segment it can (else the default policy), {@code writing} as
         * while writers are active.
         */
        record Clean(boolean everySegment, boolean writing) implements Op {}
        /** A snapshot, outside batches, as the Snapshotter takes it (it makes the log stable first: a flush too). */
        record Snapshot() implements Op {}
        record Restart() implements Op {}
        /**
         * Work cut short by the disk dying at its {@code failAfter}-th storage call, then a power loss
         * ({@code seed} as in {@link Crash}): {@code work} 0 a pass draining every segment, 1 a snapshot, 2
         * a clean close.
         */
        record CutShort(int work, int failAfter, long seed) implements Op {}
        /** A power loss: {@code seed} 0 drops every unforced write, else each lands, tears or not, as drawn. */
        record Crash(long seed) implements Op {}
    }

    /** What the store should hold: live pages, roots, and one past the highest page id logged. */
    record State(Map<Long, List<Integer>> pages, Map<String, Long> roots, long nextPid) {
        State copy() {
            return new State(new TreeMap<>(pages), new TreeMap<>(roots), nextPid);
        }
    }

    /** Drains every segment a pass can: the most work a pass does. */
    private static final SegmentCleaning.Policy EVERY_SEGMENT = new SegmentCleaning.Policy(1.0, 1.01);

    private final PageCacheConfig config;
    private final SimulatedStorage disk = new SimulatedStorage();
    private PageCache<List<Integer>, Integer> pc;
    private State model = new State(new TreeMap<>(), new TreeMap<>(), PageCache.FIRST_USER_PID);
    /** States a crash may recover: the last flushed one and every later one between operations. */
    private final List<State> candidates = new ArrayList<>();
    private long lastId = -1;
    private boolean inBatch;

    ModelRun(PageCacheConfig config) {
        this.config = config;
    }

    /** A configuration drawn from the seed, so runs also cover small thresholds and intervals. */
    static PageCacheConfig configFor(long seed) {
        SplittableRandom r = new SplittableRandom(seed ^ 0x5DEECE66DL);
        int[] thresholds = {1, 2, 3, 10};
        long[] intervals = {1, 4, 100};
        return Stores.small().withConsolidationThreshold(thresholds[r.nextInt(thresholds.length)])
                .withIdgenPersistInterval(intervals[r.nextInt(intervals.length)])
                .withPageInParallelism(r.nextBoolean() ? 1 : 4);
    }

    static List<Op> generate(long seed, int count) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Op> ops = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            ops.add(nextOp(r, true));
        }
        return ops;
    }

    private static Op nextOp(SplittableRandom r, boolean outside) {
        int roll = r.nextInt(outside ? 100 : 62);
        if (roll < 12) {
            return new Op.Allocate(valueSize(r));
        } else if (roll < 37) {
            return new Op.Link(r.nextInt(1000), r.nextInt(1_000_000));
        } else if (roll < 44) {
            return new Op.Replace(r.nextInt(1000), valueSize(r));
        } else if (roll < 50) {
            return new Op.Free(r.nextInt(1000));
        } else if (roll < 54) {
            return new Op.GenerateId();
        } else if (roll < 58) {
            return new Op.SetRoot(r.nextInt(3), r.nextInt(1000));
        } else if (roll < 59) {
            return new Op.RemoveRoot(r.nextInt(3));
        } else if (roll < 62) {
            return new Op.Get(r.nextInt(1000));
        } else if (roll < 68) {
            return new Op.PageOut(r.nextInt(1000));
        } else if (roll < 72) {
            return new Op.Rewrite(r.nextInt(1000));
        } else if (roll < 79) {
            // Several ids per batch too: a batch running across interval boundaries (with an interval of 1,
            // every id is one) needs marks it cannot wait to be stable (the id-mark file, see IdGenerator).
            List<Op> inner = new ArrayList<>();
            for (int i = 1 + r.nextInt(5); i > 0; i--) {
                inner.add(nextOp(r, false));
            }
            if (r.nextInt(4) == 0) {
                for (int i = 2 + r.nextInt(3); i > 0; i--) {
                    inner.add(r.nextInt(inner.size() + 1), new Op.GenerateId());
                }
            }
            return new Op.Batch(List.copyOf(inner));
        } else if (roll < 87) {
            return new Op.Flush();
        } else if (roll < 89) {
            return new Op.Clean(r.nextBoolean(), r.nextBoolean());
        } else if (roll < 90) {
            return new Op.Snapshot();
        } else if (roll < 93) {
            return new Op.Restart();
        } else if (roll < 95) {
            int work = r.nextInt(3);
            int failAfter = 1 + r.nextInt(r.nextBoolean() ? 4 : 40);
            return new Op.CutShort(work, failAfter, r.nextInt(3) == 0 ? 0 : r.nextLong(1, Long.MAX_VALUE));
        } else {
            return new Op.Crash(r.nextInt(3) == 0 ? 0 : r.nextLong(1, Long.MAX_VALUE));
        }
    }

    private static int valueSize(SplittableRandom r) {
        return r.nextInt(50) == 0 ? 200 + r.nextInt(400) : r.nextInt(6);
    }

    /** Runs {@code ops} on a fresh store; throws the first mismatch. */
    void execute(List<Op> ops) {
        pc = Stores.open(disk, config);
        candidates.add(model.copy());
        try {
            for (int i = 0; i < ops.size(); i++) {
                try {
                    apply(ops.get(i));
                } catch (AssertionError | RuntimeException e) {
                    throw new AssertionError("operation " + i + " (" + ops.get(i) + ") failed: " + e, e);
                }
            }
            restart();
        } finally {
            pc.abandon();
        }
    }

    @SuppressWarnings("try") // the resource is used for its scope only
    private void apply(Op op) {
        if (op instanceof Op.Allocate a) {
            allocate(a.size());
        } else if (op instanceof Op.Link l) {
            withPage(l.pick(), pid -> {
                CasResult<List<Integer>> r = pc.link(pid, pc.get(pid), l.delta());
                assertThat(r.succeeded()).isTrue();
                model.pages().put(pid, IntListMaterializer.INSTANCE.apply(model.pages().get(pid), l.delta()));
                assertThat(r.page().value()).isEqualTo(model.pages().get(pid));
                changed();
            });
        } else if (op instanceof Op.Replace rep) {
            withPage(rep.pick(), pid -> {
                List<Integer> value = value(rep.size(), pid);
                assertThat(pc.replace(pid, pc.get(pid), value).succeeded()).isTrue();
                model.pages().put(pid, value);
                changed();
            });
        } else if (op instanceof Op.Free f) {
            withPage(f.pick(), pid -> {
                CasResult<List<Integer>> r = pc.free(pid, pc.get(pid));
                assertThat(r.succeeded()).isTrue();
                assertThat(r.page().isFree()).isTrue();
                model.pages().remove(pid);
                assertThat(pc.get(pid)).isNull();
                changed();
            });
        } else if (op instanceof Op.Get g) {
            withPage(g.pick(), pid -> assertThat(pc.get(pid).value()).isEqualTo(model.pages().get(pid)));
        } else if (op instanceof Op.PageOut p) {
            withPage(p.pick(), pc::pageOut);
        } else if (op instanceof Op.Rewrite w) {
            withPage(w.pick(), pid -> {
                pc.rewrite(pid);
                assertThat(pc.get(pid).value()).isEqualTo(model.pages().get(pid));
            });
        } else if (op instanceof Op.GenerateId) {
            long id = pc.generateId();
            assertThat(id).as("ids never go back").isGreaterThan(lastId);
            lastId = id;
        } else if (op instanceof Op.SetRoot s) {
            withPage(s.pick(), pid -> {
                String name = "root" + s.name();
                long current = model.roots().getOrDefault(name, PageCache.NO_ROOT);
                long wrong = current == PageCache.NO_ROOT ? pid : PageCache.NO_ROOT;
                assertThat(pc.casRoot(name, wrong, pid)).isFalse();
                assertThat(pc.casRoot(name, current, pid)).isTrue();
                model.roots().put(name, pid);
                changed();
            });
        } else if (op instanceof Op.RemoveRoot rr) {
            String name = "root" + rr.name();
            Long current = model.roots().get(name);
            if (current != null) {
                assertThat(pc.casRoot(name, current, PageCache.NO_ROOT)).isTrue();
                model.roots().remove(name);
                changed();
            }
            assertThat(pc.root(name)).isEqualTo(PageCache.NO_ROOT);
        } else if (op instanceof Op.Batch b) {
            inBatch = true;
            try (Batch batch = pc.openBatch()) {
                b.ops().forEach(this::apply);
            } finally {
                inBatch = false;
            }
            changed();
        } else if (op instanceof Op.Flush) {
            pc.flush();
            candidates.clear();
            candidates.add(model.copy());
            assertMatches(model);
        } else if (op instanceof Op.Clean c) {
            pc.cleaning().pass(c.everySegment() ? EVERY_SEGMENT : SegmentCleaning.Policy.DEFAULT, c.writing());
            assertMatches(model);
        } else if (op instanceof Op.Snapshot) {
            pc.snapshots().takeSnapshot();
            candidates.clear();
            candidates.add(model.copy());
        } else if (op instanceof Op.Restart) {
            restart();
        } else if (op instanceof Op.CutShort c) {
            cutShort(c);
        } else if (op instanceof Op.Crash c) {
            crash(c.seed());
        } else {
            throw new IllegalArgumentException("unknown operation " + op);
        }
    }

    private void allocate(int size) {
        long expected = PageCache.FIRST_USER_PID;
        while (expected < model.nextPid() && model.pages().containsKey(expected)) {
            expected++;
        }
        List<Integer> value = value(size, expected);
        Page<List<Integer>> page = pc.allocate(value);
        assertThat(page.pid()).as("the lowest free id").isEqualTo(expected);
        model.pages().put(page.pid(), value);
        if (page.pid() >= model.nextPid()) {
            model = new State(model.pages(), model.roots(), page.pid() + 1);
        }
        changed();
    }

    private static List<Integer> value(int size, long salt) {
        List<Integer> value = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            value.add((int) (salt * 1_000 + i * 7));
        }
        return List.copyOf(value);
    }

    private void withPage(int pick, java.util.function.LongConsumer action) {
        if (!model.pages().isEmpty()) {
            List<Long> live = new ArrayList<>(model.pages().keySet());
            action.accept(live.get(pick % live.size()));
        }
    }

    /** A change that reached the log: a crash may now stop right after it (unless a batch is open). */
    private void changed() {
        if (!inBatch) {
            candidates.add(model.copy());
        }
    }

    private void restart() {
        pc.close();
        pc = Stores.open(disk, config);
        assertThat(pc.wasRecovered()).isTrue();
        assertMatches(model);
        candidates.clear();
        candidates.add(model.copy());
    }

    private void cutShort(Op.CutShort c) {
        disk.runDyingAt(c.failAfter(), () -> {
            switch (c.work()) {
                case 0 -> pc.cleaning().pass(EVERY_SEGMENT, false);
                case 1 -> pc.snapshots().takeSnapshot();
                default -> pc.close();
            }
        });
        crash(c.seed());
    }

    private void crash(long seed) {
        pc.abandon();
        if (seed == 0) {
            disk.powerLoss();
        } else {
            disk.powerLoss(new SplittableRandom(seed));
        }
        pc = Stores.open(disk, config);
        State recovered = observe();
        State match = candidates.stream().filter(recovered::equals).findFirst().orElse(null);
        assertThat(match).as("the recovered store is the state after some operation since the last flush;%n"
                + "recovered: %s%ncandidates: %s", recovered, candidates).isNotNull();
        model = match.copy();
        candidates.clear();
        candidates.add(model.copy());
        long id = pc.generateId();
        assertThat(id).as("ids never go back across a crash").isGreaterThan(lastId);
        lastId = id;
    }

    private void assertMatches(State expected) {
        assertThat(observe()).isEqualTo(expected);
    }

    private State observe() {
        Map<Long, List<Integer>> pages = new TreeMap<>();
        for (long pid = PageCache.FIRST_USER_PID; pid < pc.nextPid(); pid++) {
            Page<List<Integer>> page = pc.get(pid);
            if (page != null) {
                pages.put(pid, page.value());
            }
        }
        return new State(pages, new TreeMap<>(pc.roots()), pc.nextPid());
    }

    // ---------------------------------------------------------------- shrinking and printing

    /** Runs the ops; returns the failure, or {@code null} if they pass. */
    static Throwable failureOf(PageCacheConfig config, List<Op> ops) {
        try {
            new ModelRun(config).execute(ops);
            return null;
        } catch (AssertionError | RuntimeException e) {
            return e;
        }
    }

    /** The smallest sequence found by dropping chunks, then single ops, then batch members, that still fails. */
    static List<Op> shrink(PageCacheConfig config, List<Op> failing) {
        List<Op> current = failing;
        boolean progress = true;
        while (progress) {
            progress = false;
            for (int chunk = Math.max(1, current.size() / 2); chunk >= 1 && !progress; chunk /= 2) {
                for (int from = 0; from + chunk <= current.size(); from += chunk) {
                    List<Op> candidate = new ArrayList<>(current.subList(0, from));
                    candidate.addAll(current.subList(from + chunk, current.size()));
                    if (failureOf(config, candidate) != null) {
                        current = candidate;
                        progress = true;
                        break;
                    }
                }
            }
            for (int i = 0; i < current.size() && !progress; i++) {
                if (current.get(i) instanceof Op.Batch b && b.ops().size() > 1) {
                    for (int j = 0; j < b.ops().size() && !progress; j++) {
                        List<Op> inner = new ArrayList<>(b.ops());
                        inner.remove(j);
                        List<Op> candidate = new ArrayList<>(current);
                        candidate.set(i, new Op.Batch(List.copyOf(inner)));
                        if (failureOf(config, candidate) != null) {
                            current = candidate;
                            progress = true;
                        }
                    }
                }
            }
        }
        return current;
    }

    /** The ops as Java source, for a regression test. */
    static String toJava(List<Op> ops) {
        return ops.stream().map(ModelRun::toJava).collect(Collectors.joining(",\n        ", "List.of(\n        ", ")"));
    }

    private static String toJava(Op op) {
        if (op instanceof Op.Batch b) {
            return "new Op.Batch(" + toJava(b.ops()).replace("\n", "\n    ") + ")";
        }
        List<String> args = new ArrayList<>();
        for (RecordComponent c : op.getClass().getRecordComponents()) {
            try {
                Object v = c.getAccessor().invoke(op);
                args.add(v instanceof Long ? v + "L" : String.valueOf(v));
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        return "new Op." + op.getClass().getSimpleName() + "(" + String.join(", ", args) + ")";
    }

    /** The config as Java source, for a regression test. */
    static String toJava(PageCacheConfig config) {
        return "Stores.small().withConsolidationThreshold(" + config.consolidationThreshold()
                + ").withIdgenPersistInterval(" + config.idgenPersistInterval() + ").withPageInParallelism("
                + config.pageInParallelism() + ")";
    }

    static Map<String, Integer> census(List<Op> ops) {
        Map<String, Integer> counts = new HashMap<>();
        for (Op op : ops) {
            counts.merge(op.getClass().getSimpleName(), 1, Integer::sum);
            if (op instanceof Op.Batch b) {
                census(b.ops()).forEach((k, v) -> counts.merge(k, v, Integer::sum));
            }
        }
        return counts;
    }
}
