package dev.toboggan.core.pagecache;

import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import net.openhft.chronicle.bytes.Bytes;

/**
 * The meta page (pid {@value PageCache#META_PID}): an immutable map from root names to the page ids of
 * the structures they name (sled's {@code Meta}). Changed only by replacing the whole page.
 *
 * <pre>
 * body of an INLINE_META message
 * +-------------+---------------------------+-----------+---- (count times)
 * | count       | name: length, UTF-8 bytes | root pid  | ...
 * +-------------+---------------------------+-----------+----
 *   stop bit      stop-bit length + UTF-8     stop bit
 * </pre>
 */
final class Meta {
    static final Meta EMPTY = new Meta(Collections.emptySortedMap());
    /** Per-entry overhead in {@link #heapSize()}: the map node, the name's String and array headers, the boxed pid. */
    private static final long ENTRY_OVERHEAD = 96;

    private final SortedMap<String, Long> roots;

    private Meta(SortedMap<String, Long> roots) {
        this.roots = roots;
    }

    /** The root pid named {@code name}, or {@link PageCache#NO_ROOT}. */
    long root(String name) {
        Long pid = roots.get(name);
        return pid == null ? PageCache.NO_ROOT : pid;
    }

    /** This meta with {@code name} set to {@code pid}, or removed if {@code pid} is {@link PageCache#NO_ROOT}. */
    Meta with(String name, long pid) {
        TreeMap<String, Long> changed = new TreeMap<>(roots);
        if (pid == PageCache.NO_ROOT) {
            changed.remove(name);
        } else {
            changed.put(name, pid);
        }
        return new Meta(Collections.unmodifiableSortedMap(changed));
    }

    SortedMap<String, Long> roots() {
        return roots;
    }

    long heapSize() {
        long size = 16;
        for (String name : roots.keySet()) {
            size += ENTRY_OVERHEAD + name.length();
        }
        return size;
    }

    void encode(Bytes<?> out) {
        out.writeStopBit(roots.size());
        for (Map.Entry<String, Long> root : roots.entrySet()) {
            out.writeUtf8(root.getKey());
            out.writeStopBit(root.getValue());
        }
    }

    static Meta decode(Bytes<?> in) {
        long count = in.readStopBit();
        if (count < 0 || count > in.readRemaining()) {
            throw new IllegalArgumentException("meta page claims " + count + " roots in " + in.readRemaining() + " bytes");
        }
        TreeMap<String, Long> roots = new TreeMap<>();
        for (long i = 0; i < count; i++) {
            String name = in.readUtf8();
            if (name == null) {
                throw new IllegalArgumentException("meta page root " + i + " has no name");
            }
            roots.put(name, in.readStopBit());
        }
        return new Meta(Collections.unmodifiableSortedMap(roots));
    }

    @Override
    public String toString() {
        return "Meta" + roots;
    }
}
