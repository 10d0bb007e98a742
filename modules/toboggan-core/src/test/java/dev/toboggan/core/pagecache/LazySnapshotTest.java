package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.IncompatibleStoreException;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.log.LogFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An open decodes no page of its snapshot: each block (4096 ids) is decoded when one of its pages is first
 * needed, installed without losing a concurrent write, and the free ids are known from the live maps.
 */
class LazySnapshotTest {
    /** A bit more than three blocks, so pages span four. */
    private static final int PAGES = 3 * SnapshotFormat.BLOCK_PIDS + 300;

    private final SimulatedStorage disk = new SimulatedStorage();
    private final PageCacheConfig config =
            PageCacheConfig.of(LogConfig.defaults(Stores.DIR).withFlushEvery(Duration.ZERO));
    private PageCache<List<Integer>, Integer> pc = Stores.open(disk, config);
    /** pid → value; freed pages absent. */
    private final TreeMap<Long, List<Integer>> model = new TreeMap<>();

    @AfterEach
    void tearDown() {
        pc.close();
    }

    private void fill() {
        for (int i = 0; i < PAGES; i++) {
            Page<List<Integer>> page = pc.allocate(List.of(i));
            model.put(page.pid(), page.value());
        }
        // free a few ids in every block: reusable after the reopen, from the live maps alone
        for (long pid = 100; pid < PAGES; pid += 997) {
            assertThat(pc.free(pid, pc.get(pid)).succeeded()).isTrue();
            model.remove(pid);
        }
    }

    private void reopen() {
        pc.close(); // takes a snapshot at the tip: the next open replays nothing
        pc = Stores.open(disk, config);
    }

    private void assertModel() {
        for (long pid = PageCache.FIRST_USER_PID; pid < pc.nextPid(); pid++) {
            Page<List<Integer>> page = pc.get(pid);
            assertThat(page == null ? null : page.value()).as("page %d", pid).isEqualTo(model.get(pid));
        }
    }

    @Test
    void anOpenDecodesNoPageAndAFirstAccessDecodesItsBlock() {
        fill();
        reopen();
        assertThat(pc.hasUndecodedSnapshotPages()).isTrue();
        Page<List<Integer>> last = pc.get(model.lastKey());
        assertThat(last.value()).isEqualTo(model.lastEntry().getValue());
        assertThat(pc.hasUndecodedSnapshotPages()).as("three blocks are still undecoded").isTrue();
        assertModel();
        assertThat(pc.hasUndecodedSnapshotPages()).as("every block was decoded: the snapshot is let go").isFalse();
    }

    /**
     * A freeze right after an open, before any page was read: the copy takes the table's slots in bulk, and the
     * empty slots of blocks not decoded yet are read again (decoded), so the view holds every page as it is,
     * not as free.
     */
    @Test
    void aFreezeBeforeAnyReadHoldsThePagesOfBlocksNotDecodedYet() {
        fill();
        reopen();
        assertThat(pc.hasUndecodedSnapshotPages()).isTrue();
        long next = pc.nextPid();
        try (FrozenPages<List<Integer>> frozen = pc.freezeShared()) {
            for (long pid = PageCache.FIRST_USER_PID; pid < next; pid++) {
                assertThat(frozen.read(pid)).as("page %d", pid).isEqualTo(model.get(pid));
            }
        }
        assertModel();
    }

    @Test
    void freedIdsAreReusableAfterAnOpenWithoutDecodingTheirBlocks() {
        fill();
        reopen();
        long lowestFreed = 100;
        Page<List<Integer>> page = pc.allocate(List.of(-1));
        assertThat(page.pid()).as("the lowest free id, known from the live map").isEqualTo(lowestFreed);
        model.put(page.pid(), page.value());
        assertModel();
        reopen();
        assertModel();
    }

    @Test
    void idsTheReplayAddsNextToAnUndecodedBlockAreNotTakenForFree() {
        fill();
        assertThat(pc.snapshots().takeSnapshot()).isPositive();
        for (int i = 0; i < 5; i++) { // past the snapshot's ids, in its last block's group
            Page<List<Integer>> page = pc.allocate(List.of(-i));
            model.put(page.pid(), page.value());
        }
        pc.flush();
        pc.abandon();
        disk.powerLoss();
        pc = Stores.open(disk, config);
        assertThat(pc.hasUndecodedSnapshotPages()).isTrue();
        for (int i = 0; i < 40; i++) { // more than the freed ids: reaches past them
            Page<List<Integer>> page = pc.allocate(List.of(1000 + i));
            assertThat(model.put(page.pid(), page.value())).as("page %d was free", page.pid()).isNull();
        }
        assertModel();
    }

    @Test
    void cleaningAndSnapshotsSeeUndecodedPages() {
        fill();
        reopen();
        assertThat(pc.cleaning().liveBytesBySegment().values().stream().mapToLong(Long::longValue).sum())
                .as("the cleaner's scan counts every page's fragments").isPositive();
        long pid = model.lastKey();
        model.put(pid, pc.link(pid, pc.get(pid), 7).page().value());
        assertThat(pc.snapshots().takeSnapshot()).isPositive();
        reopen();
        assertModel();
    }

    @Test
    void writersAndReadersRacingTheFirstDecodeLoseNothing() throws Exception {
        fill();
        reopen();
        int writers = 4;
        ExecutorService pool = Executors.newFixedThreadPool(writers + 2);
        CountDownLatch start = new CountDownLatch(1);
        List<Long> live = new ArrayList<>(model.keySet());
        List<Future<?>> done = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            int writer = w;
            done.add(pool.submit(() -> {
                start.await();
                // each writer links to its own pages (every writers-th), in an order that crosses blocks
                for (int i = writer; i < live.size(); i += writers) {
                    long pid = live.get((i * 7919) % live.size());
                    if (pid % writers != writer) {
                        continue;
                    }
                    assertThat(pc.link(pid, pc.get(pid), writer).succeeded()).isTrue();
                }
                return null;
            }));
        }
        for (int r = 0; r < 2; r++) {
            long seed = r;
            done.add(pool.submit(() -> {
                start.await();
                SplittableRandom rnd = new SplittableRandom(seed);
                for (int i = 0; i < 20_000; i++) {
                    long pid = live.get(rnd.nextInt(live.size()));
                    assertThat(pc.get(pid)).isNotNull();
                }
                return null;
            }));
        }
        start.countDown();
        for (Future<?> f : done) {
            f.get(60, TimeUnit.SECONDS);
        }
        pool.shutdown();
        for (int i = 0; i < live.size(); i++) {
            long pid = live.get((i * 7919) % live.size());
            if (pid % writers == i % writers) { // linked once, by the writer that owns it
                List<Integer> linked = new ArrayList<>(model.get(pid));
                linked.add(i % writers);
                model.put(pid, linked);
            }
        }
        assertModel();
        reopen();
        assertModel();
    }

    @Test
    void aSnapshotMappedInManySmallRegionsDecodesAsOneRegion() throws IOException {
        fill();
        reopen();
        Path file = Stores.DIR.resolve(SnapshotFormat.fileName(pc.snapshots().lastSnapshotLsn()));
        try (StorageFile f = disk.open(file, StorageIo.OpenMode.READ_ONLY)) {
            assertThat(pages(SnapshotFormat.Image.open(f, 1))).isEqualTo(pages(SnapshotFormat.Image.open(f)));
        }
    }

    private static List<String> pages(SnapshotFormat.Image image) {
        List<String> rows = new ArrayList<>();
        SnapshotFormat.Image.Cursor cursor = image.pages();
        for (Object entry = cursor.next(); entry != null; entry = cursor.next()) {
            rows.add(cursor.pid() + (Page.isFree(entry) ? " free " : " ") + Arrays.toString(Page.locationsOf(entry)));
        }
        assertThat(rows).hasSizeGreaterThan(PAGES - 20);
        return rows;
    }

    @Test
    void aSnapshotOfTheFormerLayoutIsRefusedAndNothingChanges() throws IOException {
        fill();
        pc.close();
        Path file = disk.list(Stores.DIR).stream()
                .filter(p -> SnapshotFormat.lsnOf(p.getFileName().toString()) >= 0).findFirst().orElseThrow();
        byte[] before = disk.content(file);
        ByteBuffer header = LogFormat.le(ByteBuffer.wrap(disk.content(file), 0, SnapshotFormat.HEADER_LENGTH));
        header.putInt(8, 1);
        header.putInt(0, LogFormat.crc(header, 4, SnapshotFormat.HEADER_LENGTH));
        try (StorageFile f = disk.open(file, StorageIo.OpenMode.EXISTING)) {
            f.write(ByteBuffer.wrap(header.array(), 0, SnapshotFormat.HEADER_LENGTH), 0);
            f.force();
        }
        byte[] v1 = disk.content(file);
        assertThat(v1).isNotEqualTo(before);
        assertThatThrownBy(() -> pc = Stores.open(disk, config)).isInstanceOf(IncompatibleStoreException.class)
                .hasMessageContaining("layout version 1").hasMessageContaining("reads version 2");
        assertThat(disk.content(file)).isEqualTo(v1);
    }
}
