package dev.toboggan.core.pagecache;

import java.util.Arrays;

/** Pages of bytes for the cache tests and benchmarks: a delta replaces the first bytes. Pages are never mutated. */
public final class BytesMaterializer implements Materializer<byte[], byte[]> {
    public static final BytesMaterializer INSTANCE = new BytesMaterializer();

    /** A page of {@code size} bytes that says which page it is: every int is {@code seed}. */
    public static byte[] page(long seed, int size) {
        byte[] page = new byte[size];
        for (int i = 0; i + 4 <= size; i += 4) {
            page[i] = (byte) seed;
            page[i + 1] = (byte) (seed >>> 8);
            page[i + 2] = (byte) (seed >>> 16);
            page[i + 3] = (byte) (seed >>> 24);
        }
        return page;
    }

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
    public void encodePage(byte[] page, BodyWriter out) {
        out.writeInt(page.length);
        out.write(page);
    }

    @Override
    public byte[] decodePage(BodyReader in) {
        byte[] page = new byte[in.readInt()];
        in.read(page);
        return page;
    }

    @Override
    public void encodeDelta(byte[] delta, BodyWriter out) {
        encodePage(delta, out);
    }

    @Override
    public byte[] decodeDelta(BodyReader in) {
        return decodePage(in);
    }

    public static boolean isPage(byte[] actual, long seed, int size) {
        return Arrays.equals(actual, page(seed, size));
    }
}
