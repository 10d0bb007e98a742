package dev.toboggan;

import static dev.toboggan.TestKeys.be;
import static dev.toboggan.TestKeys.drain;
import static dev.toboggan.TestKeys.show;
import static dev.toboggan.TestKeys.utf8;
import static dev.toboggan.TestKeys.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.pagecache.SegmentCleaning;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** {@link Db#snapshot}: every tree as of one moment, read while writers, the cleaner and the Evictor go on. */
class SnapshotTest {
    @TempDir
    Path tmp;

    /**
     * A snapshot taken with half the pages paged out reads what the store held then, from several threads,
     * while writers overwrite and remove every key, replace a blob, clear, drop, rename and create trees, and the
     * cleaner runs passes that would free the segments its paged-out pages lie in; once it is closed, the
     * cleaner frees them.
     */
    @Test
    void aSnapshotReadsEveryTreeAsOfItsMomentWhileWritersAndTheCleanerGoOn() throws Exception {
        try (Db db = Toboggan.open(config(tmp.resolve("store")))) {
            Store store = (Store) db;
            Tree users = DumpTest.fillSample(db);
            db.tree("renamed").insert(utf8("old"), utf8("name"));
            db.tree("empty");
            db.flush();
            Map<String, NavigableMap<byte[], byte[]>> then = models(db);
            assertThat(DumpTest.pageOutEveryOther(store)).as("pages the snapshot reads back from the log").isGreaterThan(20);

            Snapshot snapshot = db.snapshot();
            Iterator<Map.Entry<byte[], byte[]>> begun = snapshot.range(null, null);
            assertThat(begun.next().getKey()).isEqualTo(be(0));

            SegmentCleaning cleaning = store.pageCache().cleaning();
            AtomicBoolean writing = new AtomicBoolean(true);
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                for (int round = 1; round <= 2; round++) {
                    DumpTest.writeOverSample(db, users, round);
                    if (round == 1) {
                        db.renameTree("renamed", "moved");
                        db.tree("late").insert(utf8("k"), utf8("new"));
                    }
                    db.flush();
                    for (int pass = 0; pass < 3; pass++) {
                        cleaning.pass(TreeModelRun.EVERY_SEGMENT, false);
                    }
                    DumpTest.pageOutEveryOther(store);
                }
                writing.set(false);
            });
            // Two readers check the whole snapshot again and again while the writer goes on, and once after it.
            List<CompletableFuture<Integer>> readers = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                long seed = 31 * r + 7;
                readers.add(CompletableFuture.supplyAsync(() -> {
                    int checks = 0;
                    do {
                        checkEqual(snapshot, then, new Random(seed + checks));
                        checks++;
                    } while (writing.get());
                    checkEqual(snapshot, then, new Random(seed - 1));
                    return checks;
                }));
            }
            writer.get(60, TimeUnit.SECONDS);
            for (CompletableFuture<Integer> reader : readers) {
                assertThat(reader.get(60, TimeUnit.SECONDS)).isPositive();
            }
            assertThat(drain(begun)).as("an iterator begun before the writes").hasSize(3000);
            long kept = store.pageCache().log().segmentsKeptForCopies();
            long freedWhileKept = cleaning.metrics().segmentsFreed();
            assertThat(kept).as("segments the cleaner found empty and kept for the snapshot").isPositive();
            assertThat(db.get(utf8("batch"))).as("the store itself moved on").isEqualTo(utf8("after"));
            assertThat(db.treeNames()).contains("late", "moved").doesNotContain("gone", "renamed");

            Iterator<Map.Entry<byte[], byte[]>> unfinished = snapshot.tree("users").range(null, null);
            unfinished.next();
            snapshot.close();
            snapshot.close();
            assertThatThrownBy(() -> snapshot.get(be(1))).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("snapshot").hasMessageContaining("closed");
            assertThatThrownBy(() -> snapshot.tree("users")).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> drain(unfinished)).as("an iterator's next leaf")
                    .isInstanceOf(IllegalStateException.class);
            cleaning.pass(TreeModelRun.EVERY_SEGMENT, false); // or the engine's pass the close brought
            assertThat(store.pageCache().log().segmentsKeptForCopies()).as("kept no longer").isZero();
            assertThat(cleaning.metrics().segmentsFreed()).as("freed").isGreaterThanOrEqualTo(freedWhileKept + kept);
            TreeVerifier.verify(store);
        }
    }

    /**
     * What the cleaner found empty and kept for a snapshot is freed once the snapshot is closed, though nothing
     * is written after: the close tells the cleaner ({@code Background.retentionEnded}). With
     * {@code max-space-amplification} at 10 the store is never over its limit, so no retry of the cleaner's
     * would free it either.
     */
    @Test
    void theSpaceASnapshotKeptComesBackAtItsCloseWithoutFurtherWrites() throws Exception {
        try (Db db = Toboggan.open(neverOverItsLimit())) {
            Store store = (Store) db;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            Snapshot snapshot = snapshotKeepingSegments(store, deadline);
            snapshot.close();
            assertNoSegmentKeptBy(store, deadline, "kept after the close");
        }
    }

    /** A store with {@code max-space-amplification} at 10: the writes of {@link #snapshotKeepingSegments} never wait. */
    private com.typesafe.config.Config neverOverItsLimit() {
        return ConfigFactory.parseMap(Map.of("toboggan.max-space-amplification", "10"))
                .withFallback(config(tmp.resolve("store")));
    }

    /**
     * Fills 3 000 keys, pages every other page out, takes a snapshot and reads it once (which narrows what it
     * keeps to the segments of the paged-out pages), overwrites every key three times, and waits until the cleaner
     * keeps segments for the snapshot. The store's {@code max-space-amplification} must let the writes go on.
     */
    private static Snapshot snapshotKeepingSegments(Store store, long deadline) throws InterruptedException {
        for (int i = 0; i < 3000; i++) {
            store.insert(be(i), value(i, 100));
        }
        store.flush();
        DumpTest.pageOutEveryOther(store);
        Snapshot snapshot = store.snapshot();
        assertThat(snapshot.get(be(1))).as("the first read narrows what is kept").isEqualTo(value(1, 100));
        for (int round = 1; round <= 3; round++) {
            for (int i = 0; i < 3000; i++) {
                store.insert(be(i), value(i + round, 100));
            }
            store.flush();
        }
        while (store.pageCache().log().segmentsKeptForCopies() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(store.pageCache().log().segmentsKeptForCopies()).as("segments kept for the snapshot").isPositive();
        return snapshot;
    }

    /** Waits until the cleaner keeps no segment for a copy, then checks it. */
    private static void assertNoSegmentKeptBy(Store store, long deadline, String when) throws InterruptedException {
        while (store.pageCache().log().segmentsKeptForCopies() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(store.pageCache().log().segmentsKeptForCopies()).as(when).isZero();
    }

    /** The metrics count the snapshots taken and open, and the oldest open one's age. */
    @Test
    void theMetricsCountOpenSnapshotsAndTheOldestOnesAge() throws Exception {
        try (Db db = Toboggan.open(config(tmp.resolve("store")))) {
            db.insert(utf8("a"), utf8("1"));
            assertThat(db.metrics().snapshots()).isEqualTo(new StoreMetrics.Snapshots(0, 0, 0, 0));
            long firstTaken = System.nanoTime();
            Snapshot first = db.snapshot();
            Thread.sleep(60);
            long secondTaken = System.nanoTime();
            Snapshot second = db.snapshot();
            StoreMetrics.Snapshots both = db.metrics().snapshots();
            long sinceFirst = (System.nanoTime() - firstTaken) / 1_000_000;
            assertThat(both.open()).isEqualTo(2);
            assertThat(both.taken()).isEqualTo(2);
            assertThat(both.oldestOpenMillis()).as("the first one's age").isBetween(60L, sinceFirst);
            first.close();
            first.close();
            StoreMetrics.Snapshots one = db.metrics().snapshots();
            assertThat(one.open()).isEqualTo(1);
            assertThat(one.oldestOpenMillis()).as("the second one's age")
                    .isLessThanOrEqualTo((System.nanoTime() - secondTaken) / 1_000_000);
            second.close();
            assertThat(db.metrics().snapshots()).isEqualTo(new StoreMetrics.Snapshots(0, 2, 0, 0));
        }
    }

    /**
     * A snapshot its caller dropped without closing it is closed by the store once the garbage collector finds it
     * unreachable: counted as dropped, with a warning that names the store, and the segments it kept are freed
     * with no further write.
     */
    @Test
    void aSnapshotDroppedUnclosedIsClosedForItsCallerAndItsSpaceComesBack() throws Exception {
        try (Db db = Toboggan.open(neverOverItsLimit())) {
            Store store = (Store) db;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            AtomicReference<Snapshot> held = new AtomicReference<>(snapshotKeepingSegments(store, deadline));
            assertThat(db.metrics().snapshots().open()).isEqualTo(1);

            ListAppender<ILoggingEvent> logged = new ListAppender<>();
            logged.start();
            Logger log = (Logger) LoggerFactory.getLogger(StoreSnapshot.class);
            Level level = log.getLevel(); // the test configuration silences the store's loggers
            log.setLevel(Level.WARN);
            log.addAppender(logged);
            try {
                held.set(null);
                while (db.metrics().snapshots().dropped() == 0 && System.nanoTime() < deadline) {
                    System.gc();
                    Thread.sleep(20);
                }
            } finally {
                log.detachAppender(logged);
                log.setLevel(level);
            }
            assertThat(db.metrics().snapshots()).as("closed as dropped")
                    .isEqualTo(new StoreMetrics.Snapshots(0, 1, 1, 0));
            assertThat(logged.list).singleElement().satisfies(event -> {
                assertThat(event.getLevel()).isEqualTo(Level.WARN);
                assertThat(event.getFormattedMessage()).contains(db.directory().toString(), "without being closed",
                        "try-with-resources");
            });
            assertNoSegmentKeptBy(store, deadline, "kept after it was dropped");
        }
    }

    /**
     * A caller that kept only a tree of a snapshot, or an iterator of it, keeps the snapshot: garbage collections
     * meanwhile do not close it, and the iterator reads its moment to the end.
     */
    @Test
    void aSnapshotReachedOnlyThroughItsTreeOrIteratorStaysOpen() throws Exception {
        try (Db db = Toboggan.open(config(tmp.resolve("store")))) {
            for (int i = 0; i < 3000; i++) {
                db.insert(be(i), value(i, 100));
            }
            NavigableMap<byte[], byte[]> then = models(db).get(Db.DEFAULT_TREE);
            AtomicReference<Snapshot> held = new AtomicReference<>(db.snapshot());
            ReadableTree tree = held.get().tree(Db.DEFAULT_TREE);
            Iterator<Map.Entry<byte[], byte[]>> scan = held.get().range(null, null);
            held.set(null);
            for (int i = 0; i < 3000; i++) {
                db.insert(be(i), value(i + 1, 100));
            }
            for (int gc = 0; gc < 5; gc++) {
                System.gc();
                Thread.sleep(20);
            }
            assertThat(db.metrics().snapshots().open()).as("open while its iterator and tree are held").isEqualTo(1);
            assertThat(drain(scan)).isEqualTo(show(then));
            assertThat(tree.get(be(7))).isEqualTo(value(7, 100));
            assertThat(db.metrics().snapshots().dropped()).isZero();
        }
    }

    /** Snapshots taken one after another each hold their own moment, and a new tree appears only in later ones. */
    @Test
    void eachSnapshotHoldsItsOwnMoment() {
        try (Db db = Toboggan.open(config(tmp.resolve("store")))) {
            List<Snapshot> snapshots = new ArrayList<>();
            List<Map<String, NavigableMap<byte[], byte[]>>> moments = new ArrayList<>();
            Random random = new Random(5);
            for (int step = 0; step < 6; step++) {
                for (int i = 0; i < 400; i++) {
                    int key = random.nextInt(1500);
                    if (random.nextInt(5) == 0) {
                        db.remove(be(key));
                    } else {
                        db.insert(be(key), value(step * 10_000L + key, 40 + random.nextInt(300)));
                    }
                }
                if (step == 3) {
                    db.tree("from step 3").insert(utf8("k"), utf8("v"));
                }
                moments.add(models(db));
                snapshots.add(db.snapshot());
            }
            for (int step = 0; step < snapshots.size(); step++) {
                try (Snapshot snapshot = snapshots.get(step)) {
                    checkEqual(snapshot, moments.get(step), new Random(step));
                    assertThat(snapshot.tree("from step 3").isEmpty()).isEqualTo(step < 3);
                }
            }
        }
    }

    @Test
    void badInputIsRefusedWithAClearMessage() {
        try (Db db = Toboggan.open(config(tmp.resolve("store")))) {
            db.insert(utf8("a"), utf8("1"));
            try (Snapshot snapshot = db.snapshot()) {
                assertThatThrownBy(() -> snapshot.get(null)).isInstanceOf(IllegalArgumentException.class);
                assertThatThrownBy(() -> snapshot.get(new byte[Tree.MAX_KEY_LENGTH + 1]))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("key");
                assertThatThrownBy(() -> snapshot.range(utf8("b"), utf8("a")))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("starts after it ends");
                assertThatThrownBy(() -> snapshot.scanPrefix(null)).isInstanceOf(IllegalArgumentException.class);
                assertThatThrownBy(() -> snapshot.tree(null)).isInstanceOf(IllegalArgumentException.class);
                assertThat(snapshot.name()).isEqualTo(Db.DEFAULT_TREE);
                assertThat(snapshot.get(utf8("a"))).isEqualTo(utf8("1"));
            }
            assertThatThrownBy(() -> db.transaction(tx -> db.snapshot())).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("transaction's body");
        }
    }

    /** The store's close ends its snapshots: every read refuses, naming the closed store. */
    @Test
    void aSnapshotOfAClosedStoreRefusesEveryRead() {
        Db db = Toboggan.open(config(tmp.resolve("store")));
        db.insert(utf8("a"), utf8("1"));
        Snapshot snapshot = db.snapshot();
        db.close();
        assertThatThrownBy(() -> snapshot.get(utf8("a"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(snapshot::treeNames).isInstanceOf(IllegalStateException.class);
        snapshot.close();
    }

    /** Checks every read of {@code snapshot} against the model of each tree, bounds drawn from {@code random}. */
    private static void checkEqual(Snapshot snapshot, Map<String, NavigableMap<byte[], byte[]>> model, Random random) {
        assertThat(snapshot.treeNames()).containsExactlyElementsOf(model.keySet());
        assertThat(snapshot.tree("never made").isEmpty()).isTrue();
        assertThat(snapshot.tree("never made").size()).isZero();
        assertThat(snapshot.tree("never made").get(utf8("k"))).isNull();
        assertThat(drain(snapshot.tree("never made").rangeReverse(null, null))).isEmpty();
        for (Map.Entry<String, NavigableMap<byte[], byte[]>> tree : model.entrySet()) {
            ReadableTree read = tree.getKey().equals(Db.DEFAULT_TREE) ? snapshot : snapshot.tree(tree.getKey());
            NavigableMap<byte[], byte[]> expected = tree.getValue();
            assertThat(read.name()).isEqualTo(tree.getKey());
            assertThat(drain(read.iterator())).isEqualTo(show(expected));
            List<String> reversed = new ArrayList<>(show(expected));
            Collections.reverse(reversed);
            assertThat(drain(read.rangeReverse(null, null))).isEqualTo(reversed);
            assertThat(read.size()).isEqualTo(expected.size());
            assertThat(read.isEmpty()).isEqualTo(expected.isEmpty());
            assertThat(show(entry(read.first()))).isEqualTo(show(entry(expected.firstEntry())));
            assertThat(show(entry(read.last()))).isEqualTo(show(entry(expected.lastEntry())));
            for (Map.Entry<byte[], byte[]> e : expected.entrySet()) {
                assertThat(read.get(e.getKey())).isEqualTo(e.getValue());
            }
            for (int probe = 0; probe < 40; probe++) {
                byte[] key = be(random.nextInt(3200));
                assertThat(read.get(key)).isEqualTo(expected.get(key));
                assertThat(read.containsKey(key)).isEqualTo(expected.containsKey(key));
                assertThat(show(entry(read.lowerEntry(key)))).isEqualTo(show(entry(expected.lowerEntry(key))));
                assertThat(show(entry(read.floorEntry(key)))).isEqualTo(show(entry(expected.floorEntry(key))));
                assertThat(show(entry(read.ceilingEntry(key)))).isEqualTo(show(entry(expected.ceilingEntry(key))));
                assertThat(show(entry(read.higherEntry(key)))).isEqualTo(show(entry(expected.higherEntry(key))));
                byte[] to = be(random.nextInt(3200));
                byte[] from = Arrays.compareUnsigned(key, to) <= 0 ? key : to;
                byte[] end = from == key ? to : key;
                assertThat(drain(read.range(from, end))).isEqualTo(show(expected.subMap(from, true, end, false)));
                List<String> down = new ArrayList<>(show(expected.subMap(from, true, end, false)));
                Collections.reverse(down);
                assertThat(drain(read.rangeReverse(from, end))).isEqualTo(down);
                byte[] prefix = Arrays.copyOf(key, 3);
                assertThat(drain(read.scanPrefix(prefix))).isEqualTo(show(expected.subMap(prefix, true,
                        BLinkTree.prefixEnd(prefix), false)));
            }
        }
    }

    private static Map<byte[], byte[]> entry(Map.Entry<byte[], byte[]> entry) {
        NavigableMap<byte[], byte[]> one = TestKeys.model();
        if (entry != null) {
            one.put(entry.getKey(), entry.getValue());
        }
        return one;
    }

    /** Every tree of {@code db} as a model map, by name. */
    private static Map<String, NavigableMap<byte[], byte[]>> models(Db db) {
        Map<String, NavigableMap<byte[], byte[]>> models = new TreeMap<>();
        for (String name : db.treeNames()) {
            NavigableMap<byte[], byte[]> model = TestKeys.model();
            db.tree(name).forEach(e -> model.put(e.getKey(), e.getValue()));
            models.put(name, model);
        }
        return models;
    }

    private static com.typesafe.config.Config config(Path directory) {
        return ConfigFactory.parseMap(Map.of("toboggan.directory", directory.toString(),
                "toboggan.segment-size", "64KiB", "toboggan.tree.node-split-size", "1KiB"));
    }
}
