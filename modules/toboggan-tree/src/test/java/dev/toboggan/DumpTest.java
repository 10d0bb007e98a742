package dev.toboggan;

import static dev.toboggan.TestKeys.be;
import static dev.toboggan.TestKeys.drain;
import static dev.toboggan.TestKeys.utf8;
import static dev.toboggan.TestKeys.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.toboggan.core.Failpoints;
import dev.toboggan.core.StoreFailedException;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.SegmentCleaning;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Export and import ({@link Db#export}, {@link Toboggan#importDump}): a store's contents through a dump file. */
class DumpTest {
    @TempDir
    Path tmp;

    @Test
    void aStoreImportedFromItsDumpHoldsEveryTreeAndEntryAndHandsOutOnlyHigherIds() {
        Path source = tmp.resolve("source");
        Path dumpFile = tmp.resolve("store.dump");
        long highestId = -1;
        Map<String, List<String>> contents;
        Dump exported;
        try (Db db = Toboggan.open(config(source))) {
            for (int i = 0; i < 3000; i++) {
                db.insert(be(i), value(i, i % 200));
            }
            db.remove(be(7));
            Tree users = db.tree("users");
            users.insert(utf8("ada"), value(1, 3 << 20)); // a value in the log's blobs
            users.insert(new byte[0], utf8("the empty key"));
            db.tree("ünïcödé, empty");
            db.tree("dropped").insert(utf8("k"), utf8("v"));
            db.dropTree("dropped");
            for (int i = 0; i < 25; i++) {
                highestId = db.generateId();
            }
            contents = contents(db);
            exported = db.export(dumpFile);
            assertThat(db.get(be(8))).as("the store goes on after an export").isNotNull();
        }
        assertThat(exported.trees()).isEqualTo(3);
        assertThat(exported.entries()).isEqualTo(2999 + 2);
        assertThat(exported.lastId()).isGreaterThan(highestId);
        assertThat(exported.bytes()).isEqualTo(sizeOf(dumpFile));

        assertThat(Toboggan.checkDump(dumpFile)).as("a check of the whole file, writing nothing").isEqualTo(exported);
        Path imported = tmp.resolve("imported");
        Dump read = Toboggan.importDump(dumpFile, config(imported), imported);
        assertThat(read).isEqualTo(exported);
        try (Db db = Toboggan.open(config(imported))) {
            assertThat(contents(db)).isEqualTo(contents);
            assertThat(db.generateId()).isGreaterThan(exported.lastId());
            TreeVerifier.verify((Store) db);
        }
        assertThat(siblings()).containsExactlyInAnyOrder("source", "store.dump", "imported");
    }

    /**
     * A backup, opened with the store's settings, exports what the store held when the backup was taken (a dump
     * of an older moment, or made where the store does not run). Opened with the defaults instead, a store
     * created with another segment size is refused, naming the key.
     */
    @Test
    void aBackupOpenedWithTheStoresSettingsExportsWhatTheStoreHeld() {
        Path source = tmp.resolve("source");
        Path backup = tmp.resolve("backup");
        Path dumpFile = tmp.resolve("backup.dump");
        Map<String, List<String>> contents;
        try (Db db = Toboggan.open(config(source))) {
            for (int i = 0; i < 2000; i++) {
                db.insert(be(i), value(i, i % 300));
            }
            db.tree("users").insert(utf8("ada"), utf8("lovelace"));
            contents = contents(db);
            db.backup(backup);
            db.insert(be(5000), utf8("after the backup"));
        }
        assertThatThrownBy(() -> Toboggan.open(backup)).isInstanceOf(dev.toboggan.core.IncompatibleStoreException.class)
                .hasMessageContaining("toboggan.segment-size");
        Dump dump;
        try (Db copy = Toboggan.open(config(source), backup)) {
            dump = copy.export(dumpFile);
        }
        assertThat(dump.entries()).isEqualTo(2001);
        Path imported = tmp.resolve("imported");
        Toboggan.importDump(dumpFile, config(imported), imported);
        try (Db db = Toboggan.open(config(imported))) {
            assertThat(contents(db)).isEqualTo(contents);
        }
    }

    @Test
    void aDumpTakenWhileBatchesRunHoldsEachBatchWholeOrNotAtAll() throws Exception {
        Path dumps = Files.createDirectories(tmp.resolve("dumps"));
        AtomicBoolean stop = new AtomicBoolean();
        List<Dump> taken = new ArrayList<>();
        try (Db db = Toboggan.open(config(tmp.resolve("store")))) {
            Tree other = db.tree("other");
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                for (int round = 0; !stop.get(); round++) {
                    // One atomic change across two trees: a key here and its twin there, the same value.
                    byte[] v = value(round, 40);
                    db.applyBatches(Map.of(Db.DEFAULT_TREE, new Batch().insert(be(round % 500), v),
                            "other", new Batch().insert(be(round % 500), v)));
                }
            });
            for (int i = 0; i < 8; i++) {
                taken.add(db.export(dumps.resolve("d" + i)));
            }
            stop.set(true);
            writer.get();
            assertThat(other.get(be(0))).isNotNull();
        }
        for (Dump dump : taken) {
            Path store = tmp.resolve("from-" + dump.file().getFileName());
            Toboggan.importDump(dump.file(), config(store), store);
            try (Db db = Toboggan.open(config(store))) {
                assertThat(drain(db.tree("other").iterator())).as(dump.toString()).isEqualTo(drain(db.iterator()));
            }
        }
    }

    /**
     * Writers are held only while the page table is copied: while the dump is being written (stepped into at its
     * first tree), another thread overwrites every key, removes, replaces a blob, applies a batch, clears a
     * tree, drops another and writes the store over again after cleaner passes that would have freed and reused
     * the segments of the pages the export has yet to read (half of them paged out, so read from the log). The
     * dump still holds the store as of the export's start, and what the cleaner kept for it is freed after.
     */
    @Test
    void anExportWritesTheStoreAsOfItsStartWhileWritersGoOn() throws Exception {
        Path dumpFile = tmp.resolve("d");
        Map<String, List<String>> before;
        try (Db db = Toboggan.open(config(tmp.resolve("store")))) {
            Store store = (Store) db;
            Tree users = fillSample(db);
            db.flush();
            before = contents(db);
            int pagedOut = pageOutEveryOther(store); // after the reads above, which page in what they read
            assertThat(pagedOut).as("pages the export reads back from the log").isGreaterThan(20);
            AtomicInteger trees = new AtomicInteger();
            AtomicLong keptForTheExport = new AtomicLong();
            AtomicLong freedWhileKept = new AtomicLong();
            Failpoints.callback("dump.tree", () -> {
                if (trees.getAndIncrement() > 0) {
                    return;
                }
                CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                    SegmentCleaning cleaning = store.pageCache().cleaning();
                    for (int round = 1; round <= 2; round++) {
                        writeOverSample(db, users, round);
                        db.flush();
                        for (int pass = 0; pass < 3; pass++) {
                            cleaning.pass(TreeModelRun.EVERY_SEGMENT, false);
                        }
                    }
                    keptForTheExport.set(store.pageCache().log().segmentsKeptForCopies());
                    freedWhileKept.set(cleaning.metrics().segmentsFreed());
                });
                try {
                    writer.get(60, TimeUnit.SECONDS); // times out if the export held the writers
                } catch (Exception e) {
                    throw new AssertionError("the writer did not finish while the dump was written", e);
                }
            });
            Dump dump = db.export(dumpFile);
            assertThat(trees.get()).isEqualTo(3);
            assertThat(keptForTheExport.get()).as("segments the cleaner found empty and kept for the export")
                    .isPositive();
            assertThat(dump.entries()).isEqualTo(3001 + 500 + 1);
            store.pageCache().cleaning().pass(TreeModelRun.EVERY_SEGMENT, false); // or the engine's pass the end brought
            assertThat(store.pageCache().log().segmentsKeptForCopies()).as("kept no longer").isZero();
            assertThat(store.pageCache().cleaning().metrics().segmentsFreed()).as("freed")
                    .isGreaterThanOrEqualTo(freedWhileKept.get() + keptForTheExport.get());
            assertThat(db.get(utf8("batch"))).isEqualTo(utf8("after"));
        } finally {
            Failpoints.reset();
        }
        Path imported = tmp.resolve("imported");
        Toboggan.importDump(dumpFile, config(imported), imported);
        try (Db db = Toboggan.open(config(imported))) {
            assertThat(contents(db)).isEqualTo(before);
        }
    }

    /** A close while the dump is being written ends the export with a clear error, and leaves no file behind. */
    @Test
    void aStoreClosedWhileItsDumpIsWrittenEndsTheExportAndLeavesNoFile() {
        Db db = Toboggan.open(config(tmp.resolve("store")));
        try {
            for (int i = 0; i < 2000; i++) {
                db.insert(be(i), value(i, 100));
            }
            Failpoints.callback("dump.tree", () -> CompletableFuture.runAsync(db::close).join());
            assertThatThrownBy(() -> db.export(tmp.resolve("d"))).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
            assertThat(siblings()).as("neither the dump nor its partial file").containsExactly("store");
        } finally {
            Failpoints.reset();
            db.close();
        }
    }

    /**
     * Fills {@code db} with 3 000 keys in the default tree (every seventh value in a page of its own), a value in
     * the log's blobs, 500 keys in tree "users" and one in tree "gone"; returns "users".
     */
    static Tree fillSample(Db db) {
        for (int i = 0; i < 3000; i++) {
            db.insert(be(i), value(i, i % 7 == 0 ? 2000 : 60));
        }
        db.insert(utf8("blob"), value(1, 20_000));
        Tree users = db.tree("users");
        for (int i = 0; i < 500; i++) {
            users.insert(be(i), value(i, 30));
        }
        db.tree("gone").insert(utf8("k"), utf8("v"));
        return users;
    }

    /**
     * Changes what {@link #fillSample} wrote, round {@code round} (1 or more): every default-tree key overwritten,
     * the blob replaced, a key removed, a batch applied; in round 1 also tree "users" cleared and "gone" dropped.
     */
    static void writeOverSample(Db db, Tree users, int round) {
        for (int i = 0; i < 3000; i++) {
            db.insert(be(i), value(i + round, 90));
        }
        db.insert(utf8("blob"), value(round + 1, 20_000));
        db.remove(be(5));
        db.applyBatch(new Batch().insert(utf8("batch"), utf8("after")).remove(be(6)));
        if (round == 1) {
            users.clear();
            db.dropTree("gone");
        }
    }

    /** Pages out every other page of the store; returns how many were paged out. */
    static int pageOutEveryOther(Store store) {
        PageCache<Node, Delta> pc = store.pageCache();
        int pagedOut = 0;
        for (long pid = PageCache.FIRST_USER_PID; ; pid += 2) {
            try {
                pc.get(pid);
            } catch (IllegalArgumentException pastTheLastPage) {
                return pagedOut;
            }
            if (pc.pageOut(pid)) {
                pagedOut++;
            }
        }
    }

    @Test
    void aDamagedTruncatedOrForeignDumpIsRefusedAndNothingIsImported() throws IOException {
        Path dumpFile = tmp.resolve("good.dump");
        try (Db db = Toboggan.open(config(tmp.resolve("source")))) {
            for (int i = 0; i < 500; i++) {
                db.insert(be(i), value(i, 50));
            }
            db.export(dumpFile);
        }
        byte[] good = Files.readAllBytes(dumpFile);

        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x10;
        assertRefused(flipped, "checksum does not match");
        assertRefused(Arrays.copyOf(good, good.length - 10), "truncated");
        assertRefused(Arrays.copyOf(good, good.length - 29), "ends before its END frame");
        assertRefused(Arrays.copyOf(good, good.length + 1), "bytes follow its END frame");
        assertRefused(utf8("key,value\n1,2\n"), "not a Toboggan dump");
        byte[] laterVersion = good.clone();
        laterVersion[8 + 8 + 1 + 1] = 2; // the header frame's version, and its CRC made right again
        CRC32C crc = new CRC32C();
        crc.update(laterVersion, 8 + 8, 3);
        ByteBuffer.wrap(laterVersion).putInt(8 + 4, (int) crc.getValue());
        assertRefused(laterVersion, "a dump of version 2; this Toboggan reads version 1");
    }

    @Test
    void framesThatBreakTheDumpsRulesAreRefusedEvenWithRightChecksums() throws IOException {
        assertRefused(dump(w -> w.entry(be(1), be(1))), "an entry comes before any tree");
        assertRefused(dump(w -> {
            w.tree("t");
            w.entry(be(2), be(0));
            w.entry(be(1), be(0));
        }), "not in ascending order");
        assertRefused(dump(w -> {
            w.tree("t");
            w.entry(be(1), be(0));
            w.entry(be(1), be(0));
        }), "not in ascending order");
        assertRefused(dump(w -> {
            w.tree("t");
            w.tree("t");
        }), "appears twice");
        assertRefused(dump(w -> {
            w.tree("t");
            w.entry(new byte[Tree.MAX_KEY_LENGTH + 1], be(0));
        }), "over Tree.MAX_KEY_LENGTH");
    }

    @Test
    void badArgumentsAreRefusedWithWhatToDoAndChangeNothing() throws IOException {
        Path store = tmp.resolve("store");
        Path dumpFile = tmp.resolve("d");
        try (Db db = Toboggan.open(config(store))) {
            db.insert(utf8("k"), utf8("v"));
            Files.writeString(dumpFile, "mine");
            assertThatThrownBy(() -> db.export(dumpFile)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("exists already");
            assertThat(Files.readString(dumpFile)).isEqualTo("mine");
            assertThatThrownBy(() -> db.export(tmp.resolve("no/such/dir/d"))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("does not exist: create it first");
            assertThatThrownBy(() -> db.export(store.resolve("d"))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("inside the store's directory");
            assertThatThrownBy(() -> db.export(null)).isInstanceOf(IllegalArgumentException.class);
            Files.delete(dumpFile);
            db.export(dumpFile);
        }
        assertThatThrownBy(() -> Toboggan.importDump(dumpFile, store)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("exists already: an import makes a new store");
        assertThatThrownBy(() -> Toboggan.importDump(tmp.resolve("none"), tmp.resolve("new")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not exist or is not a file");
        Files.createDirectories(tmp.resolve(".new.importing"));
        assertThatThrownBy(() -> Toboggan.importDump(dumpFile, tmp.resolve("new")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("did not finish; delete it");
        assertThat(tmp.resolve("new")).doesNotExist();
        Db closed = Toboggan.open(config(store));
        closed.close();
        assertThatThrownBy(() -> closed.export(tmp.resolve("after-close"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed");
        assertThat(tmp.resolve("after-close")).doesNotExist();
    }

    @Test
    void anExportTheStoreFailsUnderLeavesNoFileBehind() {
        Path dumpFile = tmp.resolve("d");
        Db db = Toboggan.open(everyIdWritesAMark(tmp.resolve("store")));
        try {
            for (int i = 0; i < 2000; i++) {
                db.insert(be(i), value(i, 100));
            }
            db.generateId(); // the next id is not ready now: taking it writes its mark
            // The export's last step takes an id, whose mark fails to be written here, after every entry went
            // into the partial dump: the store fails, and the export with it.
            Failpoints.arm("pagecache.idgen.persist", 1);
            assertThatThrownBy(() -> db.export(dumpFile)).isInstanceOf(StoreFailedException.class);
            assertThat(siblings()).as("neither the dump nor its partial file").containsExactly("store");
        } finally {
            Failpoints.reset();
            // The store failed: its close says so, and still releases it.
            assertThatThrownBy(db::close).isInstanceOf(StoreFailedException.class);
        }
    }

    @Test
    void anImportTheNewStoreFailsUnderLeavesNothingUnderEitherName() {
        Path dumpFile = tmp.resolve("d");
        try (Db db = Toboggan.open(config(tmp.resolve("store")))) {
            for (int i = 0; i < 500; i++) {
                db.insert(be(i), value(i, 100));
            }
            db.export(dumpFile);
        }
        // The import's last step moves the new store's ids past the dump's: with an id interval of 1 that writes a
        // mark, which fails here after every entry went in, and the new store fails.
        Failpoints.arm("pagecache.idgen.persist", 1);
        try {
            assertThatThrownBy(() -> Toboggan.importDump(dumpFile, everyIdWritesAMark(tmp.resolve("new")),
                    tmp.resolve("new")))
                    .isInstanceOf(StoreFailedException.class);
        } finally {
            Failpoints.reset();
        }
        assertThat(siblings()).as("neither the store nor its hidden name").containsExactlyInAnyOrder("store", "d");
        Toboggan.importDump(dumpFile, config(tmp.resolve("new")), tmp.resolve("new"));
        try (Db db = Toboggan.open(config(tmp.resolve("new")))) {
            assertThat(db.size()).as("imported again, once the fault is gone").isEqualTo(500);
        }
    }

    @Test
    void aWriterThatDoesNotFinishLeavesNoFileBehind() throws IOException {
        Path dumpFile = tmp.resolve("d");
        try (DumpFormat.Writer writer = new DumpFormat.Writer(dumpFile)) {
            writer.tree("t");
            writer.entry(be(1), be(2));
        }
        assertThat(siblings()).isEmpty();
    }

    /** Writes {@code body}'s frames between a header and an END frame that counts them. */
    private Path dump(WriterBody body) throws IOException {
        Path file = tmp.resolve("crafted-" + System.nanoTime());
        try (DumpFormat.Writer writer = new DumpFormat.Writer(file)) {
            body.write(writer);
            writer.finish(0);
        }
        return file;
    }

    private interface WriterBody {
        void write(DumpFormat.Writer writer) throws IOException;
    }

    private void assertRefused(byte[] bytes, String why) throws IOException {
        Path file = tmp.resolve("bad-" + System.nanoTime());
        Files.write(file, bytes);
        assertRefused(file, why);
    }

    private void assertRefused(Path file, String why) {
        assertThatThrownBy(() -> Toboggan.checkDump(file)).as("a check finds what an import would")
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(why);
        Path target = tmp.resolve("target");
        assertThatThrownBy(() -> Toboggan.importDump(file, target)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(why).hasMessageContaining("nothing was imported");
        assertThat(target).doesNotExist();
        assertThat(tmp.resolve(".target.importing")).doesNotExist();
    }

    /** Every tree's entries, as {@link TestKeys#drain} shows them. */
    private static Map<String, List<String>> contents(Db db) {
        Map<String, List<String>> contents = new java.util.TreeMap<>();
        for (String name : db.treeNames()) {
            contents.put(name, drain(db.tree(name).iterator()));
        }
        return contents;
    }

    private List<String> siblings() {
        try (var files = Files.list(tmp)) {
            return files.map(p -> p.getFileName().toString()).toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static long sizeOf(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** {@link #config} with an id interval of 1: every id the store hands out writes a mark. */
    private static Config everyIdWritesAMark(Path directory) {
        return config(directory).withFallback(ConfigFactory.parseMap(Map.of("toboggan.idgen-persist-interval", 1)));
    }

    private static Config config(Path directory) {
        return ConfigFactory.parseMap(Map.of("toboggan.directory", directory.toString(),
                "toboggan.segment-size", "64KiB", "toboggan.tree.node-split-size", "1KiB"));
    }
}
