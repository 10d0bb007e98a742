package dev.toboggan;

import dev.toboggan.core.pagecache.BodyReader;
import dev.toboggan.core.pagecache.BodyWriter;
import dev.toboggan.core.pagecache.Materializer;

/**
 * How the page cache applies tree deltas to nodes and turns both into bytes ({@link NodeFormat}).
 * Stateless. Applying is deterministic and total on every delta the tree links (a put or remove on a
 * leaf, an added child on an index node; an added child already present is no change), so replaying a
 * page's fragments after a restart rebuilds exactly the node that was in memory.
 */
enum NodeMaterializer implements Materializer<Node, Delta> {
    INSTANCE;

    /**
     * An index node may have this many times {@code consolidation-threshold} fragments before a link
     * consolidates it (see {@link #consolidationThreshold}).
     */
    static final int INDEX_CONSOLIDATION_FACTOR = 4;

    @Override
    public Node apply(Node page, Delta delta) {
        if (page instanceof Leaf leaf) {
            if (delta instanceof Delta.Put put) {
                return leaf.with(put.key(), put.value());
            }
            if (delta instanceof Delta.Remove remove) {
                return leaf.without(remove.key());
            }
        } else if (page instanceof Index index && delta instanceof Delta.AddChild add) {
            return index.withChild(add.separator(), add.child());
        } else if (page instanceof Index index && delta instanceof Delta.RemoveChild remove) {
            return index.withoutChild(remove.separator());
        }
        throw new IllegalStateException("a " + delta.getClass().getSimpleName() + " delta cannot apply to " + page);
    }

    /** Index nodes: every lookup below one reads it (the root: every lookup). */
    @Override
    public boolean isPassedThrough(Node page) {
        return page instanceof Index;
    }

    /**
     * Index nodes consolidate {@value #INDEX_CONSOLIDATION_FACTOR} times less often than leaves. An index
     * node's deltas are added children, about 25 log bytes each against a node of a few KiB, and encoding
     * the node reads each of its few hundred separators, scattered over the heap (a cache miss each): in a
     * random load, where every leaf split links one child, consolidating index nodes every
     * {@code consolidation-threshold} links was an eighth of the writer's CPU. Every lookup passes through
     * them, so they are seldom paged out and their fragments seldom read back; a leaf's deltas are entries
     * of about its average entry's size, and leaves keep the configured threshold (longer leaf chains
     * stayed live on disk and cost space amplification, docs/benchmarks.md).
     */
    @Override
    public int consolidationThreshold(Node page, int configured) {
        return page instanceof Index ? configured * INDEX_CONSOLIDATION_FACTOR : configured;
    }

    @Override
    public long heapSize(Node page) {
        return page.heapSize();
    }

    @Override
    public void encodePage(Node page, BodyWriter out) {
        NodeFormat.encodePage(page, out);
    }

    @Override
    public Node decodePage(BodyReader in) {
        return NodeFormat.decodePage(in);
    }

    @Override
    public void encodeDelta(Delta delta, BodyWriter out) {
        NodeFormat.encodeDelta(delta, out);
    }

    @Override
    public Delta decodeDelta(BodyReader in) {
        return NodeFormat.decodeDelta(in);
    }
}
