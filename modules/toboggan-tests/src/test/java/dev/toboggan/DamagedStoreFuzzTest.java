package dev.toboggan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.toboggan.core.TobogganException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import dev.toboggan.core.pagecache.PageCacheConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Jazzer fuzz test of opening a damaged store: a real store directory (format file, log with several
 * segments, blobs, snapshots, stable tip) has bytes flipped, files cut short or deleted, as the fuzzer
 * chooses, and is opened on a simulated disk. Opening must finish (no hang: 30 s each), not run out of
 * memory, and either recover a consistent prefix of what was written (the keys were inserted in order,
 * so: keys 0..n-1 with their exact values, and valid trees), or fail with a clear Toboggan error naming
 * a file of the store (a {@code CorruptionException} with file and offset for damaged bytes); reading
 * the recovered store may fail the same clear way when a damaged page is first read.
 *
 * <p>Under {@code mvn test} it replays its corpus ({@code src/test/resources/dev/toboggan/
 * DamagedStoreFuzzTestInputs/openDamagedStore/}); {@code JAZZER_FUZZ=1} fuzzes (docs/testing.md).
 */
class DamagedStoreFuzzTest {
    private static final int KEYS = 400;
    private static final PageCacheConfig CONFIG = PageCacheBackend.smallConfig(4096);
    private static final TreeSettings TREES = new TreeSettings(256, 32);
    /** The undamaged store's files and their durable bytes, built once. */
    private static final Map<Path, byte[]> IMAGE = image();

    @FuzzTest(maxDuration = "5m")
    void openDamagedStore(FuzzedDataProvider data) {
        SimulatedStorage disk = damaged(data);
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> openAndCheck(disk));
    }

    /**
     * Regression (found fuzzing): with the newest snapshot gone, replay runs over every blob message since
     * the older one; a lost blob file was skipped as if the store had deleted it, and the store opened with
     * a tree referencing a page that was not there. Each blob lost in turn must now be a clear error.
     */
    @Test
    void theNewestSnapshotAndAnyOneBlobLost() {
        Path newestSnapshot = IMAGE.keySet().stream().filter(p -> p.getFileName().toString().startsWith("snapshot."))
                .max(Comparator.naturalOrder()).orElseThrow();
        for (Path blob : IMAGE.keySet().stream().filter(p -> p.getParent().endsWith("blobs")).toList()) {
            Map<Path, byte[]> files = new LinkedHashMap<>(IMAGE);
            files.remove(newestSnapshot);
            files.remove(blob);
            assertTimeoutPreemptively(Duration.ofSeconds(30), () -> openAndCheck(onDisk(files)), blob::toString);
        }
    }

    private static void openAndCheck(SimulatedStorage disk) {
        Store db;
        try {
            db = PageCacheBackend.open(disk, CONFIG, TREES);
        } catch (TobogganException e) {
            assertClear(e);
            return;
        }
        try {
            int n = 0;
            for (Iterator<Map.Entry<byte[], byte[]>> it = db.iterator(); it.hasNext(); n++) {
                Map.Entry<byte[], byte[]> e = it.next();
                assertThat(TestKeys.hex(e.getKey())).as("key %d of the recovered prefix", n)
                        .isEqualTo(TestKeys.hex(TestKeys.be(n)));
                assertThat(e.getValue()).as("the value of key %d", n).isEqualTo(value(n));
            }
            TreeVerifier.verify(db);
        } catch (TobogganException e) {
            assertClear(e);
        } finally {
            db.abandon();
        }
    }

    /** A clear error names a file of the store (for damaged bytes, with the offset). */
    private static void assertClear(TobogganException e) {
        StringBuilder messages = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            messages.append(t.getMessage()).append(" / ");
        }
        assertThat(messages.toString()).as("the error of opening a damaged store").contains(PageCacheBackend.DIR.toString());
    }

    /** The image, with the fuzzer's damage, on a fresh simulated disk. */
    private static SimulatedStorage damaged(FuzzedDataProvider data) {
        Map<Path, byte[]> files = new LinkedHashMap<>();
        IMAGE.forEach((path, bytes) -> files.put(path, bytes.clone()));
        List<Path> names = new ArrayList<>(files.keySet());
        for (int i = data.consumeInt(1, 8); i > 0 && data.remainingBytes() > 0; i--) {
            Path path = names.get(data.consumeInt(0, names.size() - 1));
            byte[] bytes = files.get(path);
            if (bytes == null || bytes.length == 0) {
                continue;
            }
            switch (data.consumeInt(0, 9)) {
                case 0 -> files.put(path, java.util.Arrays.copyOf(bytes, data.consumeInt(0, bytes.length - 1)));
                case 1 -> files.remove(path);
                default -> {
                    int at = data.consumeInt(0, bytes.length - 1);
                    byte mask = data.consumeByte();
                    bytes[at] ^= mask == 0 ? 1 : mask;
                }
            }
        }
        return onDisk(files);
    }

    private static SimulatedStorage onDisk(Map<Path, byte[]> files) {
        SimulatedStorage disk = new SimulatedStorage();
        try {
            disk.createDirectories(PageCacheBackend.DIR.resolve("blobs"));
            for (Map.Entry<Path, byte[]> file : files.entrySet()) {
                try (StorageFile f = disk.open(file.getKey(), StorageIo.OpenMode.CREATE_NEW)) {
                    f.write(ByteBuffer.wrap(file.getValue()), 0);
                    f.force();
                }
            }
            disk.syncDirectory(PageCacheBackend.DIR);
            disk.syncDirectory(PageCacheBackend.DIR.resolve("blobs"));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return disk;
    }

    /** Mostly inline values, every tenth a value page, every fiftieth a blob (over a quarter segment). */
    private static byte[] value(int key) {
        return TestKeys.value(key, key % 50 == 0 ? 1500 : key % 10 == 0 ? 200 : 1 + key % 24);
    }

    /**
     * The store after: inserts, a clean close (stable tip, snapshot), more inserts with flushes and a
     * snapshot, then a power loss with the last inserts unflushed.
     */
    private static Map<Path, byte[]> image() {
        SimulatedStorage disk = new SimulatedStorage();
        Store db = PageCacheBackend.open(disk, CONFIG, TREES);
        for (int k = 0; k < KEYS / 2; k++) {
            db.insert(TestKeys.be(k), value(k));
        }
        db.close();
        db = PageCacheBackend.open(disk, CONFIG, TREES);
        for (int k = KEYS / 2; k < KEYS; k++) {
            db.insert(TestKeys.be(k), value(k));
            if (k % 50 == 0) {
                db.flush();
            }
            if (k == KEYS * 3 / 4) {
                db.pageCache().snapshots().takeSnapshot();
            }
        }
        disk.powerLoss();
        db.abandon();
        Map<Path, byte[]> files = new LinkedHashMap<>();
        try {
            // list() names files only: the blobs directory is listed on its own.
            for (Path dir : List.of(PageCacheBackend.DIR, PageCacheBackend.DIR.resolve("blobs"))) {
                for (Path path : disk.list(dir)) {
                    if (!path.getFileName().toString().equals("lock")) {
                        files.put(path, disk.durableContent(path));
                    }
                }
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        assertThat(files.keySet().stream().filter(p -> p.getParent().endsWith("blobs"))).as("blob files").isNotEmpty();
        return files;
    }
}
