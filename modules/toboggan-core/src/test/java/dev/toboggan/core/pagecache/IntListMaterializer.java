package dev.toboggan.core.pagecache;

import java.util.ArrayList;
import java.util.List;

/**
 * The test page type: an immutable list of ints; a delta appends one int. Simple enough that a test's
 * reference model is a plain list, and order-sensitive, so a lost, repeated or reordered delta shows.
 * Tests that need a page type that behaves differently in one respect subclass it.
 */
class IntListMaterializer implements Materializer<List<Integer>, Integer> {
    static final IntListMaterializer INSTANCE = new IntListMaterializer();

    @Override
    public List<Integer> apply(List<Integer> page, Integer delta) {
        List<Integer> next = new ArrayList<>(page.size() + 1);
        next.addAll(page);
        next.add(delta);
        return List.copyOf(next);
    }

    @Override
    public List<Integer> merge(List<Integer> base, List<Integer> deltas) {
        List<Integer> next = new ArrayList<>(base.size() + deltas.size());
        next.addAll(base);
        next.addAll(deltas);
        return List.copyOf(next);
    }

    @Override
    public long heapSize(List<Integer> page) {
        return 16 + 20L * page.size();
    }

    @Override
    public void encodePage(List<Integer> page, BodyWriter out) {
        out.writeStopBit(page.size());
        for (int v : page) {
            out.writeStopBit(v);
        }
    }

    @Override
    public List<Integer> decodePage(BodyReader in) {
        int n = (int) in.readStopBit();
        List<Integer> page = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            page.add((int) in.readStopBit());
        }
        return List.copyOf(page);
    }

    @Override
    public void encodeDelta(Integer delta, BodyWriter out) {
        out.writeStopBit(delta);
    }

    @Override
    public Integer decodeDelta(BodyReader in) {
        return (int) in.readStopBit();
    }
}
