package dev.toboggan.core.pagecache;

import dev.toboggan.core.Background;
import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.log.LogConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Opens test stores on simulated disks. */
final class Stores {
    static final Path DIR = Path.of("/store");

    private Stores() {}

    /** Small segments (so rotation, caps and blobs happen often), no periodic flush. */
    static PageCacheConfig small() {
        LogConfig log = LogConfig.defaults(DIR).withSegmentSize(1024).withIoBuffers(4).withFlushEvery(Duration.ZERO);
        return PageCacheConfig.of(log).withIdgenPersistInterval(4);
    }

    static PageCache<List<Integer>, Integer> open(SimulatedStorage disk, PageCacheConfig config) {
        return PageCache.open(config, disk, Background.NONE, IntListMaterializer.INSTANCE);
    }

    static PageCache<List<Integer>, Integer> open(SimulatedStorage disk) {
        return open(disk, small());
    }
}
