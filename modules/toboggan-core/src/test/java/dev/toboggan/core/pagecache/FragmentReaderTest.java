package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.ForwardingStorage;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Page-ins whose reads go to a slow device: the spans of a page's fragments are read in parallel. */
class FragmentReaderTest {
    private final SlowReads disk = new SlowReads(new SimulatedStorage());
    private PageCache<List<Integer>, Integer> pc =
            PageCache.open(Stores.small(), disk, Background.NONE, IntListMaterializer.INSTANCE);

    @AfterEach
    void close() {
        pc.close();
    }

    @Test
    void spansAfterASlowFirstReadAreReadByThePageInThreads() {
        Page<List<Integer>> v = pc.allocate(List.of(0));
        long pid = v.pid();
        List<Integer> filler = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            filler.add(i * 100_000);
        }
        for (int d = 1; d <= 3; d++) {
            for (int i = 0; i < 40; i++) {
                pc.allocate(List.copyOf(filler)); // several segments of other pages between two fragments
            }
            v = pc.link(pid, v, d).page();
        }
        pc.flush();
        assertThat(pc.pageOut(pid)).isTrue();
        long pulls = pc.metrics().get(PageCacheMetrics.Op.PULL).count();
        disk.readers.clear();
        disk.slow = true;

        Page<List<Integer>> in = pc.get(pid);

        assertThat(in.value()).containsExactly(0, 1, 2, 3);
        assertThat(in.ts()).isEqualTo(v.ts());
        assertThat(pc.metrics().get(PageCacheMetrics.Op.PULL).count() - pulls).as("four fragments apart").isEqualTo(4);
        assertThat(disk.readers).as("the first read is the caller's, the others went to the page-in threads")
                .contains(Thread.currentThread().getName())
                .anyMatch(name -> name.startsWith("toboggan-page-in-"));
    }

    /** Reads of the log that take a millisecond, as a device's would; remembers which threads read. */
    private static final class SlowReads extends ForwardingStorage {
        final Set<String> readers = ConcurrentHashMap.newKeySet();
        volatile boolean slow;

        SlowReads(StorageIo io) {
            super(io);
        }

        @Override
        protected StorageFile file(StorageFile file) {
            return new ForwardingFile(file) {
                @Override
                public int read(ByteBuffer dst, long position) throws IOException {
                    if (slow) {
                        readers.add(Thread.currentThread().getName());
                        try {
                            TimeUnit.MILLISECONDS.sleep(1);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    return file.read(dst, position);
                }
            };
        }
    }
}
