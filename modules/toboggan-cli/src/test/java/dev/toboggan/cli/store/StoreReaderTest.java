package dev.toboggan.cli.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.FileChannelStorage;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.PageCacheConfig;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoreReaderTest {
    @TempDir Path dir;

    /**
     * The scan pages every page in and out again with no Evictor behind it: each page-in queues an arrival
     * for the cache policy that only an eviction run drains, so the scan must run one now and then.
     */
    @Test
    void aPageScanRunsTheEvictorSoWhatItsPageInsQueuedIsDrained() throws IOException {
        int pages = 2 * StoreReader.PAGES_PER_EVICTION_RUN + 10;
        try (PageCache<byte[], byte[]> pc = PageCache.open(PageCacheConfig.of(LogConfig.defaults(dir)),
                new FileChannelStorage(), Background.NONE, RawPages.INSTANCE)) {
            for (int i = 0; i < pages; i++) {
                pc.allocate(new byte[] {(byte) i});
            }
        }
        try (StoreReader store = StoreReader.open(dir)) {
            long runsBefore = store.pageCache().evictor().runs();
            assertThat(store.readPages().pages()).isEqualTo(pages);
            assertThat(store.pageCache().evictor().runs() - runsBefore).isEqualTo(2);
        }
    }
}
