package dev.toboggan.bench.cache;

import dev.toboggan.core.pagecache.Materializer;
import net.openhft.chronicle.bytes.Bytes;

/** Pages of bytes for the cache benchmark; a delta replaces the page's first bytes. */
final class BytesPages implements Materializer<byte[], byte[]> {
    static final BytesPages INSTANCE = new BytesPages();

    @Override
    public byte[] apply(byte[] page, byte[] delta) {
        byte[] changed = page.clone();
        System.arraycopy(delta, 0, changed, 0, Math.min(delta.length, changed.length));
        return changed;
    }

    @Override
    public long heapSize(byte[] page) {
        return 16L + page.length;
    }

    @Override
    public void encodePage(byte[] page, Bytes<?> out) {
        out.writeInt(page.length);
        out.write(page);
    }

    @Override
    public byte[] decodePage(Bytes<?> in) {
        byte[] page = new byte[in.readInt()];
        in.read(page);
        return page;
    }

    @Override
    public void encodeDelta(byte[] delta, Bytes<?> out) {
        encodePage(delta, out);
    }

    @Override
    public byte[] decodeDelta(Bytes<?> in) {
        return decodePage(in);
    }
}
