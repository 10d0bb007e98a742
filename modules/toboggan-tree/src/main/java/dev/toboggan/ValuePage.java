package dev.toboggan;

/**
 * A value longer than {@code toboggan.tree.max-inline-value}, in a page of its own: the leaf holds a
 * {@link ValueRef}. Rewriting or consolidating the leaf then never rewrites the value, and a value larger
 * than a quarter of a segment goes to a blob file when the page is written. A value page is written once,
 * when allocated, and freed by the change that replaces or removes its value; it is never linked.
 */
final class ValuePage implements Node {
    private static final int OVERHEAD = 32;

    final byte[] value;

    ValuePage(byte[] value) {
        this.value = value;
    }

    @Override
    public int encodedSize() {
        return 1 + NodeFormat.varintLength(value.length) + value.length;
    }

    @Override
    public long heapSize() {
        return OVERHEAD + value.length;
    }

    @Override
    public String toString() {
        return "ValuePage[" + value.length + " bytes]";
    }
}
