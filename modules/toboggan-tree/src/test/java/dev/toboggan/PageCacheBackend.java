package dev.toboggan;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.PageCacheConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Trees on a bare page cache over a simulated disk, with no flusher: data becomes durable only when a
 * writer fills the IO buffers or someone flushes, so a test run replays exactly from its seed.
 */
final class PageCacheBackend implements Backend {
    static final Path DIR = Path.of("/store");

    private final PageCache<Node, Delta> pc;
    private final Path directory;

    PageCacheBackend(SimulatedStorage disk, PageCacheConfig config) {
        this.pc = PageCache.open(config, disk, Background.NONE, NodeMaterializer.INSTANCE);
        this.directory = config.log().directory();
    }

    /** Small segments (so blobs and segment changes happen often), no periodic flush. */
    static PageCacheConfig smallConfig(int segmentSize) {
        return smallConfig(segmentSize, DIR);
    }

    /** As {@link #smallConfig(int)}, for the store in {@code directory}. */
    static PageCacheConfig smallConfig(int segmentSize, Path directory) {
        LogConfig log = LogConfig.defaults(directory).withSegmentSize(segmentSize).withIoBuffers(4).withFlushEvery(Duration.ZERO);
        return PageCacheConfig.of(log).withIdgenPersistInterval(4);
    }

    /** A store on {@code disk}. */
    static Store open(SimulatedStorage disk, PageCacheConfig config, TreeSettings settings) {
        return Store.open(new PageCacheBackend(disk, config), settings);
    }

    /** A store with small segments and tiny nodes, so that a few keys make a deep tree. */
    static Store openSmall(SimulatedStorage disk) {
        return open(disk, smallConfig(4096), new TreeSettings(128, 32));
    }

    @Override
    public PageCache<Node, Delta> pageCache() {
        return pc;
    }

    @Override
    public Path directory() {
        return directory;
    }

    @Override
    public long flush() {
        return pc.flush();
    }

    @Override
    public CompletionStage<Long> flushAsync() {
        pc.flush();
        return CompletableFuture.completedFuture(pc.log().stableTip());
    }

    /**
     * On another thread: the caller may hold a batch open that the position is in (a watch asks from inside
     * the write that made its event), whose seal the stable tip waits for.
     */
    @Override
    public CompletionStage<Long> stableAsync(long lsn) {
        return CompletableFuture.supplyAsync(() -> pc.log().makeStable(lsn));
    }

    @Override
    public void close() {
        pc.close();
    }

    @Override
    public void abandon() {
        pc.abandon();
    }
}
