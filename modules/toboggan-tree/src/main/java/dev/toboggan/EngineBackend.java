package dev.toboggan;

import dev.toboggan.core.pagecache.PageCache;
import dev.toboggan.engine.Engine;
import java.nio.file.Path;
import java.util.concurrent.CompletionStage;

/** A store's trees on an {@link Engine}: the page cache plus the actors that flush it. */
final class EngineBackend implements Backend {
    private final Engine<Node, Delta> engine;
    private final PageCache<Node, Delta> pageCache;

    EngineBackend(Engine<Node, Delta> engine) {
        this.engine = engine;
        this.pageCache = engine.pageCache();
    }

    Engine<Node, Delta> engine() {
        return engine;
    }

    @Override
    public PageCache<Node, Delta> pageCache() {
        return pageCache;
    }

    @Override
    public Path directory() {
        return engine.settings().directory();
    }

    @Override
    public long flush() {
        return engine.flush();
    }

    @Override
    public CompletionStage<Long> flushAsync() {
        return engine.flushAsync();
    }

    @Override
    public CompletionStage<Long> stableAsync(long lsn) {
        return engine.stableAsync(lsn);
    }

    @Override
    public void close() {
        engine.close();
    }

    @Override
    public void abandon() {
        engine.abandon();
    }
}
