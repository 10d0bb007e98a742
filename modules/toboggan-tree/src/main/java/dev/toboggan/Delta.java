package dev.toboggan;

/**
 * A change linked onto a node page (a log fragment of it): sled's {@code Link}. Immutable.
 */
sealed interface Delta permits Delta.Put, Delta.Remove, Delta.AddChild, Delta.RemoveChild {

    /**
     * Sets a key of a leaf.
     *
     * @param value the bytes, or a {@link ValueRef}
     */
    record Put(byte[] key, Object value) implements Delta {}

    /** Removes a key from a leaf. */
    record Remove(byte[] key) implements Delta {}

    /** Tells an index node about a child split off to the right: the second step of a split. */
    record AddChild(byte[] separator, long child) implements Delta {}

    /**
     * Tells an index node that the child at {@code separator} was merged into the child before it: a
     * merge's change of the parent, a few bytes where the whole node would be kilobytes.
     */
    record RemoveChild(byte[] separator) implements Delta {}
}
