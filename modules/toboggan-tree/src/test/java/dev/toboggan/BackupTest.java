package dev.toboggan;

import static dev.toboggan.TestKeys.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.Backup;
import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.Failpoints;
import dev.toboggan.core.StorageException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.pagecache.SegmentCleaning;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Online backups ({@link Db#backup}): a copy of one moment, taken while writers, the cleaner and snapshots go on. */
class BackupTest {
    @TempDir
    Path tmp;

    @AfterEach
    void resetFailpoints() {
        Failpoints.reset();
    }

    /**
     * The engine with its actors and small segments, so the SegmentCleaner frees segments and takes snapshots
     * while the backups copy: one writer inserts numbered keys one after the other, another applies batches
     * that write a pair of keys together and overwrite a hot set. Each copy must hold every numbered key that
     * returned before its backup began and then a gap-free run after it (the log's order is the writer's),
     * and each pair whole or not at all.
     */
    @Test
    void backupsTakenWhileWritersRunHoldEveryAcknowledgedChangeAndOnlyWholeBatches() throws Exception {
        Config config = config(tmp.resolve("store"));
        AtomicLong inserted = new AtomicLong();
        AtomicLong batches = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        List<Backup> backups = new ArrayList<>();
        List<Long> acknowledgedBefore = new ArrayList<>();
        try (Db db = Toboggan.open(config)) {
            CompletableFuture<Void> sequence = CompletableFuture.runAsync(() -> {
                for (long i = 0; !stop.get(); i++) {
                    db.insert(numbered(i), new byte[100]);
                    inserted.set(i + 1);
                }
            });
            CompletableFuture<Void> pairs = CompletableFuture.runAsync(() -> {
                for (long i = 0; !stop.get(); i++) {
                    byte[] value = utf8("pair " + i + " " + "x".repeat(200));
                    db.tree("pairs").applyBatch(new Batch().insert(utf8("a" + i), value).insert(utf8("b" + i), value)
                            .insert(utf8("hot" + i % 500), value));
                    batches.set(i + 1);
                }
            });
            for (int k = 0; k < 3; k++) {
                Thread.sleep(300);
                acknowledgedBefore.add(inserted.get());
                backups.add(db.backup(tmp.resolve("backup-" + k)));
            }
            // The writers go on until the cleaner has freed segments beside them (at once on a quick machine; a
            // starved one may need longer than the backups took).
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (((Store) db).pageCache().cleaning().metrics().segmentsFreed() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            stop.set(true);
            sequence.get(30, TimeUnit.SECONDS);
            pairs.get(30, TimeUnit.SECONDS);
            assertThat(batches.get()).isPositive();
            assertThat(((Store) db).pageCache().cleaning().metrics().segmentsFreed())
                    .as("the cleaner freed segments during the run").isPositive();
        }
        for (int k = 0; k < backups.size(); k++) {
            Backup backup = backups.get(k);
            try (Db copy = Toboggan.open(config(backup.directory()))) {
                long held = 0;
                while (copy.get(numbered(held)) != null) {
                    held++;
                }
                assertThat(held).as("backup %d holds every insert that returned before it", k)
                        .isGreaterThanOrEqualTo(acknowledgedBefore.get(k));
                assertThat(copy.range(numbered(held), utf8("n~")).hasNext()).as("backup %d: no gap", k).isFalse();
                Tree pairs = copy.tree("pairs");
                long pairCount = 0;
                for (Map.Entry<byte[], byte[]> e : pairs) {
                    String key = new String(e.getKey(), java.nio.charset.StandardCharsets.UTF_8);
                    if (key.startsWith("a")) {
                        assertThat(pairs.get(utf8("b" + key.substring(1)))).as("backup %d: %s's pair", k, key)
                                .isEqualTo(e.getValue());
                        pairCount++;
                    } else if (key.startsWith("b")) {
                        assertThat(pairs.get(utf8("a" + key.substring(1)))).as("backup %d: %s's pair", k, key).isNotNull();
                    }
                }
                assertThat(pairCount).isPositive();
                TreeVerifier.verify((Store) copy);
            }
        }
    }

    /**
     * Snapshots and cleaning passes run while a backup copies, but no pass frees a segment (or deletes a blob)
     * the copy has listed and not read yet: they are freed by the first pass after it. Changes made and
     * flushed meanwhile, which reuse every slot that is free, are past the copy's cut.
     */
    @Test
    void cleaningGoesOnDuringTheCopyButFreesNothingItHasYetToRead() throws Exception {
        SimulatedStorage disk = new SimulatedStorage();
        Store db = PageCacheBackend.openSmall(disk);
        SegmentCleaning cleaning = db.pageCache().cleaning();
        SegmentCleaning.Policy everySegment = new SegmentCleaning.Policy(1.0, 1.01);
        NavigableMap<byte[], byte[]> expected = TestKeys.model();
        for (int i = 0; i < 400; i++) {
            byte[] value = TestKeys.value(i, i % 40 == 0 ? 3000 : 20); // now and then a blob
            db.insert(TestKeys.be(i % 150), value);
            expected.put(TestKeys.be(i % 150), value);
        }
        for (int pass = 0; pass < 5 && cleaning.metrics().segmentsFreed() == 0; pass++) {
            db.flush();
            cleaning.pass(everySegment, false);
        }
        assertThat(cleaning.metrics().segmentsFreed()).as("the copy needs the snapshot").isPositive();
        for (int i = 0; i < 30; i++) {
            db.insert(TestKeys.be(i), TestKeys.value(-i, 3000)); // blobs past the snapshot
            expected.put(TestKeys.be(i), TestKeys.value(-i, 3000));
        }
        long[] freed = new long[3]; // segments freed before the copy and after the pass during it; kept for it
        long[] blobsDeleted = new long[2];
        Failpoints.callback("backup.copy", () -> {
            if (freed[0] != 0) {
                return;
            }
            freed[0] = cleaning.metrics().segmentsFreed();
            blobsDeleted[0] = cleaning.metrics().blobsDeleted();
            for (int round = 0; round < 2; round++) { // every page replaced: every listed segment is dead
                for (int i = 0; i < 150; i++) {
                    db.insert(TestKeys.be(i), utf8("after the cut " + round));
                }
            }
            db.remove(TestKeys.be(7));
            db.flush();
            try {
                CompletableFuture.runAsync(() -> {
                    db.pageCache().snapshots().takeSnapshot();
                    cleaning.pass(everySegment, false);
                }).get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError("a snapshot and a pass during the copy did not finish", e);
            }
            freed[1] = cleaning.metrics().segmentsFreed();
            blobsDeleted[1] = cleaning.metrics().blobsDeleted();
            freed[2] = cleaning.metrics().segmentsKeptForBackups();
            for (int i = 0; i < 150; i++) { // into the slots the pass freed, if it freed any
                db.insert(TestKeys.be(i), utf8("after the pass"));
            }
            db.flush();
        });
        disk.createDirectories(Path.of("/backups"));
        Backup backup = db.backup(Path.of("/backups/first"));
        assertThat(freed[1]).as("segments freed by the pass during the copy").isEqualTo(freed[0]);
        assertThat(freed[2]).as("empty segments the pass kept for the copy (not counted against writers)").isPositive();
        assertThat(blobsDeleted[1]).as("blobs deleted by the pass during the copy").isEqualTo(blobsDeleted[0]);
        db.flush();
        cleaning.pass(everySegment, false);
        assertThat(cleaning.metrics().segmentsFreed()).as("freed once the copy has read them").isGreaterThan(freed[1]);
        assertThat(cleaning.metrics().blobsDeleted()).isGreaterThan(blobsDeleted[1]);
        assertThat(cleaning.metrics().segmentsKeptForBackups()).isZero();
        assertThat(db.get(TestKeys.be(3))).isEqualTo(utf8("after the pass"));
        db.close();
        Store copy = PageCacheBackend.open(disk, PageCacheBackend.smallConfig(4096, backup.directory()),
                new TreeSettings(128, 32));
        try {
            assertThat(TestKeys.drain(copy.iterator())).isEqualTo(TestKeys.show(expected));
            TreeVerifier.verify(copy);
        } finally {
            copy.close();
        }
    }

    @Test
    void badTargetsAreRefusedWithoutWritingAnything() throws Exception {
        Path store = tmp.resolve("store");
        try (Db db = Toboggan.open(config(store))) {
            db.insert(utf8("k"), utf8("v"));
            Path existing = Files.createDirectory(tmp.resolve("existing"));
            assertThatThrownBy(() -> db.backup(existing)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(existing.toString()).hasMessageContaining("exists");
            assertThatThrownBy(() -> db.backup(tmp.resolve("no/such/parent"))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("parent directory").hasMessageContaining("does not exist");
            assertThatThrownBy(() -> db.backup(store.resolve("inside"))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("inside the store's directory");
            assertThatThrownBy(() -> db.backup(null)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("null");
            try (var entries = Files.list(existing)) {
                assertThat(entries).isEmpty();
            }
            assertThat(store.resolve("inside")).doesNotExist();
            assertThat(tmp.resolve("no")).doesNotExist();
        }
        Db closed = Toboggan.open(config(store));
        closed.close();
        assertThatThrownBy(() -> closed.backup(tmp.resolve("after-close"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThat(tmp.resolve("after-close")).doesNotExist();
    }

    /**
     * A disk error while writing the copy fails the backup, removes what it wrote and leaves the store open and
     * unchanged; a power loss in the middle leaves a directory that no open takes for a store.
     */
    @Test
    void aFailedOrCutShortBackupLeavesNoStoreBehindAndTheStoreGoesOn() throws Exception {
        SimulatedStorage disk = new SimulatedStorage();
        Store db = PageCacheBackend.openSmall(disk);
        for (int i = 0; i < 300; i++) {
            db.insert(TestKeys.be(i), TestKeys.value(i, i % 50 == 0 ? 3000 : 30));
        }
        db.flush();
        disk.createDirectories(Path.of("/backups"));
        disk.failAfter(3, Set.of(SimulatedStorage.Op.WRITE));
        Path target = Path.of("/backups/failed");
        assertThatThrownBy(() -> db.backup(target)).isInstanceOf(StorageException.class)
                .hasMessageContaining("/backups/failed");
        assertThat(disk.exists(target)).as("the partial copy was removed").isFalse();
        Failpoints.arm("backup.format", 1);
        assertThatThrownBy(() -> db.backup(target)).isInstanceOf(StorageException.class)
                .hasMessageContaining("format file");
        assertThat(disk.exists(target)).as("the copy without its format file was removed").isFalse();
        db.insert(utf8("after"), utf8("a failed backup"));
        db.flush();
        Backup retried = db.backup(target);
        assertThat(retried.bytes()).isPositive();

        var open = db.pageCache().openBatch();
        assertThatThrownBy(() -> db.backup(Path.of("/backups/in-a-batch"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("inside an open atomic batch");
        open.close();
        assertThat(disk.exists(Path.of("/backups/in-a-batch"))).isFalse();

        Path cut = Path.of("/backups/cut");
        disk.runDyingAt(12, () -> db.backup(cut));
        disk.powerLoss();
        db.abandon();
        assertThat(disk.exists(cut.resolve("format"))).isFalse();
        if (disk.exists(cut.resolve("log"))) {
            assertThatThrownBy(() -> PageCacheBackend.open(disk, PageCacheBackend.smallConfig(4096, cut),
                    new TreeSettings(128, 32))).isInstanceOf(CorruptionException.class)
                    .hasMessageContaining("no format file");
        }
        Store reopened = PageCacheBackend.openSmall(disk);
        Store copy = PageCacheBackend.open(disk, PageCacheBackend.smallConfig(4096, retried.directory()),
                new TreeSettings(128, 32));
        try {
            assertThat(TestKeys.drain(copy.iterator())).isEqualTo(TestKeys.drain(reopened.iterator()));
            assertThat(copy.get(utf8("after"))).isEqualTo(utf8("a failed backup"));
        } finally {
            copy.close();
            reopened.close();
        }
    }

    private static byte[] numbered(long i) {
        return utf8(String.format("n%012d", i));
    }

    private static Config config(Path directory) {
        return ConfigFactory.parseMap(Map.of("toboggan.directory", directory.toString(),
                "toboggan.segment-size", "64KiB", "toboggan.tree.node-split-size", "1KiB"));
    }
}
