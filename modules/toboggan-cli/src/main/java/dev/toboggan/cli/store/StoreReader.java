package dev.toboggan.cli.store;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import dev.toboggan.core.Background;
import dev.toboggan.core.CorruptionException;
import dev.toboggan.core.io.StorageFile;
import dev.toboggan.core.io.StorageIo.OpenMode;
import dev.toboggan.core.log.LogConfig;
import dev.toboggan.core.pagecache.Page;
import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.core.pagecache.PageCacheConfig;
import dev.toboggan.core.pagecache.SnapshotFormat;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import org.slf4j.LoggerFactory;

/**
 * A store opened for reading by {@code inspect} and {@code verify}: the engine's own recovery runs on a
 * {@link ReadOnlyStorage}, so nothing on disk changes (but the store's lock is taken, as by any open), and
 * pages are read as raw bytes ({@link RawPages}). The warnings the open logs (a damaged snapshot it
 * skipped, say) are collected: on a store that was closed cleanly there are none. What the log's recovery
 * cut off (a torn tail, dropped batches) is in {@link PageCache#recoveryReport()} instead, not among them:
 * it is what a crash leaves, not damage.
 */
public final class StoreReader implements AutoCloseable {
    /** The store's fixed settings, from its {@code format} file. */
    public record StoreFormat(int segmentSize, boolean compression) {}

    /** A file in the store directory. */
    public record StoreFile(String name, long bytes) {}

    /** A snapshot file and the LSN it covers. */
    public record SnapshotFile(String name, long lsn, long bytes) {}

    /**
     * What reading every page found.
     *
     * @param pages pages with a value
     * @param freePages page ids that are free
     * @param fragments fragments of all pages (a base and its deltas each)
     * @param maxFragments the most fragments one page has
     * @param liveBytes bytes of every page's fragments: the log's live data
     * @param defect the first page that could not be read (reading stops there: the store fails), or {@code null}
     */
    public record PageScan(long pages, long freePages, long fragments, int maxFragments, long liveBytes,
            Defect defect) {}

    /** Something that does not check out, where it is. Offset -1: not tied to one byte. */
    public record Defect(Path file, long offset, String what) {
        @Override
        public String toString() {
            return file + (offset >= 0 ? " at byte " + offset : "") + ": " + what;
        }
    }

    /** Pages {@link #readPages} reads between eviction runs. */
    static final int PAGES_PER_EVICTION_RUN = 4096;

    private final Path directory;
    private final StoreFormat format;
    private final ReadOnlyStorage io;
    private final PageCache<byte[], byte[]> pages;
    private final List<String> openWarnings;

    private StoreReader(Path directory, StoreFormat format, ReadOnlyStorage io, PageCache<byte[], byte[]> pages,
            List<String> openWarnings) {
        this.directory = directory;
        this.format = format;
        this.io = io;
        this.pages = pages;
        this.openWarnings = openWarnings;
    }

    /**
     * Opens the store in {@code directory} read-only.
     *
     * @throws NoStoreException if there is no store there
     * @throws dev.toboggan.core.StorageException if it is locked (cause {@link dev.toboggan.core.io.StoreLockedException})
     *     or cannot be read
     * @throws CorruptionException if recovery finds durable data damaged
     */
    public static StoreReader open(Path directory) throws IOException {
        return open(directory, List.of());
    }

    /**
     * Opens the store in {@code directory} read-only as if the files {@code hidden} did not exist (they stay
     * on disk): {@code verify} hides newer snapshots so that recovery has to load, and so check, an older one.
     */
    public static StoreReader open(Path directory, List<Path> hidden) throws IOException {
        StoreFormat format = readFormat(directory);
        LogConfig log = LogConfig.defaults(directory).withSegmentSize(format.segmentSize())
                .withCompression(format.compression()).withFlushEvery(Duration.ZERO);
        ReadOnlyStorage io = new ReadOnlyStorage();
        List<String> warnings = Collections.synchronizedList(new ArrayList<>());
        WarningCollector collector = new WarningCollector(warnings);
        try {
            for (Path p : hidden) {
                io.deleteIfExists(p);
            }
            PageCache<byte[], byte[]> pc = PageCache.open(PageCacheConfig.of(log), io, Background.NONE, RawPages.INSTANCE);
            return new StoreReader(directory, format, io, pc, List.copyOf(warnings));
        } catch (RuntimeException | Error e) {
            io.close();
            throw e;
        } finally {
            collector.detach();
        }
    }

    /** The settings in the store's {@code format} file, which every store has from its creation on. */
    public static StoreFormat readFormat(Path directory) throws IOException {
        if (!Files.isDirectory(directory)) {
            throw new NoStoreException(directory + " does not exist or is not a directory");
        }
        Path file = directory.resolve("format");
        if (!Files.isRegularFile(file)) {
            throw new NoStoreException(directory + " holds no Toboggan store (it has no 'format' file)");
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        try {
            return new StoreFormat(Integer.parseInt(p.getProperty("segment-size", "").trim()),
                    "zstd".equals(p.getProperty("compression", "none").trim()));
        } catch (NumberFormatException e) {
            throw new CorruptionException(file, 0, "the format file names no valid segment-size");
        }
    }

    public Path directory() {
        return directory;
    }

    public StoreFormat format() {
        return format;
    }

    public PageCache<byte[], byte[]> pageCache() {
        return pages;
    }

    /** Warnings logged while opening the store, but for log recovery's report ({@link PageCache#recoveryReport()}). */
    public List<String> openWarnings() {
        return openWarnings;
    }

    /** The log file's slots and messages, as recovery left them (in memory), with every defect. */
    public SegmentWalk.Result walkLog() throws IOException {
        Path logFile = pages.config().log().logFile();
        StorageFile file = io.open(logFile, OpenMode.READ_ONLY);
        return SegmentWalk.walk(file, logFile, format.segmentSize());
    }

    /** The store's snapshot files on disk, newest first. */
    public List<SnapshotFile> snapshots() throws IOException {
        List<SnapshotFile> result = new ArrayList<>();
        for (StoreFile f : files()) {
            if (f.name().startsWith(SnapshotFormat.PREFIX) && !f.name().endsWith(SnapshotFormat.TEMP_SUFFIX)) {
                result.add(new SnapshotFile(f.name(), SnapshotFormat.lsnOf(f.name()), f.bytes()));
            }
        }
        result.sort((a, b) -> Long.compare(b.lsn(), a.lsn()));
        return result;
    }

    /** The regular files of the store directory and its blob directory, as they are on disk. */
    public List<StoreFile> files() throws IOException {
        List<StoreFile> result = new ArrayList<>();
        for (Path dir : List.of(directory, pages.config().log().blobDirectory())) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (var stream = Files.list(dir)) {
                for (Path p : stream.sorted().toList()) {
                    if (Files.isRegularFile(p)) {
                        result.add(new StoreFile(directory.relativize(p).toString(), Files.size(p)));
                    }
                }
            }
        }
        return result;
    }

    /**
     * Bytes of the log and blob files on disk, as {@code Db.sizeOnDisk()} counts them (the page cache's own
     * figure would include what this read-only open wrote to memory).
     */
    public long logAndBlobBytes() throws IOException {
        Path log = pages.config().log().logFile();
        Path blobs = pages.config().log().blobDirectory();
        long bytes = Files.size(log);
        if (Files.isDirectory(blobs)) {
            try (var stream = Files.list(blobs)) {
                for (Path p : stream.toList()) {
                    bytes += Files.size(p);
                }
            }
        }
        return bytes;
    }

    /**
     * Reads every page, checking the checksum of every fragment; pages it read are paged out again, and
     * an eviction run every {@value #PAGES_PER_EVICTION_RUN} pages drains what their page-ins queued for the
     * cache policy, so memory stays bounded. A damaged page fails the store (as it would in use), so the scan
     * stops there.
     */
    public PageScan readPages() {
        long count = 0;
        long free = 0;
        long fragments = 0;
        int maxFragments = 0;
        long bytes = 0;
        Defect defect = null;
        for (long pid = PageCache.FIRST_USER_PID; ; pid++) {
            Page<byte[]> page;
            try {
                page = pages.get(pid);
            } catch (IllegalArgumentException end) {
                break; // past the highest page id ever handed out
            } catch (RuntimeException e) {
                defect = defectOf(e, "page " + pid);
                break;
            }
            if (page == null) {
                free++;
                continue;
            }
            count++;
            fragments += page.fragmentCount();
            maxFragments = Math.max(maxFragments, page.fragmentCount());
            bytes += page.value().length;
            pages.pageOut(pid);
            if (count % PAGES_PER_EVICTION_RUN == 0) {
                pages.evictor().run();
            }
        }
        return new PageScan(count, free, fragments, maxFragments, bytes, defect);
    }

    /** The file and offset an exception names, if a {@link CorruptionException} is among its causes. */
    public Defect defectOf(Throwable e, String while_) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof CorruptionException c) {
                return new Defect(c.file(), c.offset(), while_ + ": " + c.getMessage());
            }
        }
        return new Defect(directory, -1, while_ + ": " + e);
    }

    /** Closes the store: what it writes at close goes to memory only, then the lock is released. */
    @Override
    public void close() throws IOException {
        try {
            pages.close();
        } finally {
            io.close();
        }
    }

    /** There is no store where one was named. */
    public static final class NoStoreException extends IOException {
        private static final long serialVersionUID = 1L;

        NoStoreException(String message) {
            super(message);
        }
    }

    /**
     * Collects WARN and ERROR events of Toboggan's loggers while it is attached, but for those of log
     * recovery: its one warning is its report, which {@link PageCache#recoveryReport()} returns whole.
     */
    private static final class WarningCollector extends AppenderBase<ILoggingEvent> {
        private static final String LOG_RECOVERY = "dev.toboggan.core.log.LogRecovery";

        private final Logger logger = (Logger) LoggerFactory.getLogger("dev.toboggan");
        private final List<String> into;

        WarningCollector(List<String> into) {
            this.into = into;
            setContext(logger.getLoggerContext());
            setName("toboggan-cli-open-warnings");
            start();
            logger.addAppender(this);
        }

        @Override
        protected void append(ILoggingEvent event) {
            if (event.getLevel().isGreaterOrEqual(Level.WARN) && !event.getLoggerName().equals(LOG_RECOVERY)) {
                into.add(event.getFormattedMessage()
                        + (event.getThrowableProxy() != null ? ": " + event.getThrowableProxy().getMessage() : ""));
            }
        }

        void detach() {
            logger.detachAppender(this);
            stop();
        }
    }
}
