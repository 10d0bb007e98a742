package dev.toboggan.core.pagecache;

import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

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
 *
 * <p>A name's bytes are UTF-8 char by char (each UTF-16 char of the name on 1 to 3 bytes: a character
 * outside the BMP is its two surrogates, 3 bytes each, as in CESU-8), the length counts those bytes: the
 * layout of Chronicle Bytes' {@code writeUtf8}, which wrote this page until the codecs moved to plain JDK
 * code.
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

    void encode(BodyWriter out) {
        out.writeStopBit(roots.size());
        for (Map.Entry<String, Long> root : roots.entrySet()) {
            writeName(root.getKey(), out);
            out.writeStopBit(root.getValue());
        }
    }

    static Meta decode(BodyReader in) {
        long count = in.readStopBit();
        if (count < 0 || count > in.remaining()) {
            throw new IllegalArgumentException("meta page claims " + count + " roots in " + in.remaining() + " bytes");
        }
        TreeMap<String, Long> roots = new TreeMap<>();
        for (long i = 0; i < count; i++) {
            roots.put(readName(in, i), in.readStopBit());
        }
        return new Meta(Collections.unmodifiableSortedMap(roots));
    }

    private static void writeName(String name, BodyWriter out) {
        long length = 0;
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            length += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
        }
        out.writeStopBit(length);
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c < 0x80) {
                out.writeByte(c);
            } else if (c < 0x800) {
                out.writeByte(0xC0 | c >> 6);
                out.writeByte(0x80 | c & 0x3F);
            } else {
                out.writeByte(0xE0 | c >> 12);
                out.writeByte(0x80 | c >> 6 & 0x3F);
                out.writeByte(0x80 | c & 0x3F);
            }
        }
    }

    private static String readName(BodyReader in, long index) {
        long length = in.readStopBit();
        if (length < 0 || length > in.remaining()) {
            throw new IllegalArgumentException("meta page root " + index + (length < 0 ? " has no name"
                    : " claims a name of " + length + " bytes in " + in.remaining()));
        }
        byte[] bytes = new byte[(int) length];
        in.read(bytes);
        StringBuilder name = new StringBuilder(bytes.length);
        for (int i = 0; i < bytes.length; ) {
            int b = bytes[i] & 0xFF;
            int extra = b < 0x80 ? 0 : (b & 0xE0) == 0xC0 ? 1 : (b & 0xF0) == 0xE0 ? 2 : -1;
            if (extra < 0) {
                throw new IllegalArgumentException("meta page root " + index + ": byte " + i + " of its name ("
                        + Integer.toHexString(b) + ") does not start a 1- to 3-byte UTF-8 character");
            }
            if (i + extra >= bytes.length) {
                throw new IllegalArgumentException("meta page root " + index + ": its name ends inside a character");
            }
            int c = extra == 0 ? b : extra == 1 ? b & 0x1F : b & 0x0F;
            for (int k = 1; k <= extra; k++) {
                int next = bytes[i + k] & 0xFF;
                if ((next & 0xC0) != 0x80) {
                    throw new IllegalArgumentException("meta page root " + index + ": byte " + (i + k)
                            + " of its name (" + Integer.toHexString(next) + ") is not a UTF-8 continuation byte");
                }
                c = c << 6 | next & 0x3F;
            }
            name.append((char) c);
            i += extra + 1;
        }
        return name.toString();
    }

    @Override
    public String toString() {
        return "Meta" + roots;
    }
}
