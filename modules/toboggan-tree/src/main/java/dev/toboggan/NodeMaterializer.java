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
        }
        throw new IllegalStateException("a " + delta.getClass().getSimpleName() + " delta cannot apply to " + page);
    }

    /** Index nodes: every lookup below one reads it (the root: every lookup). */
    @Override
    public boolean isPassedThrough(Node page) {
        return page instanceof Index;
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
