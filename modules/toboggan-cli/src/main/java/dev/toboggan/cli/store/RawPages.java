package dev.toboggan.cli.store;

import dev.toboggan.core.pagecache.BodyReader;
import dev.toboggan.core.pagecache.BodyWriter;
import dev.toboggan.core.pagecache.Materializer;
import java.util.Arrays;

/**
 * A {@link Materializer} that keeps pages as the bytes of their fragments, base first, deltas after: the
 * CLI reads every page of a store (each fragment's checksum is checked as it is read) without knowing what
 * the pages mean, so it works on any store whatever sits on top of the page cache. A page's size is the
 * bytes of its fragments' bodies: its live bytes in the log.
 */
final class RawPages implements Materializer<byte[], byte[]> {
    static final RawPages INSTANCE = new RawPages();

    private RawPages() {}

    @Override
    public byte[] apply(byte[] page, byte[] delta) {
        byte[] merged = Arrays.copyOf(page, page.length + delta.length);
        System.arraycopy(delta, 0, merged, page.length, delta.length);
        return merged;
    }

    @Override
    public long heapSize(byte[] page) {
        return page.length;
    }

    @Override
    public void encodePage(byte[] page, BodyWriter out) {
        out.write(page);
    }

    @Override
    public byte[] decodePage(BodyReader in) {
        return read(in);
    }

    @Override
    public void encodeDelta(byte[] delta, BodyWriter out) {
        out.write(delta);
    }

    @Override
    public byte[] decodeDelta(BodyReader in) {
        return read(in);
    }

    private static byte[] read(BodyReader in) {
        byte[] bytes = new byte[in.remaining()];
        in.read(bytes);
        return bytes;
    }
}
