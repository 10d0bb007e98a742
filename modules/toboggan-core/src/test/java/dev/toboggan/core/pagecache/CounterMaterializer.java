package dev.toboggan.core.pagecache;


/** A test and benchmark page: a counter; a delta adds to it. Small, so the page cache's own costs show. */
public final class CounterMaterializer implements Materializer<Long, Long> {
    public static final CounterMaterializer INSTANCE = new CounterMaterializer();

    @Override
    public Long apply(Long page, Long delta) {
        return page + delta;
    }

    @Override
    public long heapSize(Long page) {
        return 16;
    }

    @Override
    public void encodePage(Long page, BodyWriter out) {
        out.writeLong(page);
    }

    @Override
    public Long decodePage(BodyReader in) {
        return in.readLong();
    }

    @Override
    public void encodeDelta(Long delta, BodyWriter out) {
        out.writeLong(delta);
    }

    @Override
    public Long decodeDelta(BodyReader in) {
        return in.readLong();
    }
}
