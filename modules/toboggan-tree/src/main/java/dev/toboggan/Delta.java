package dev.toboggan;

/**
 * A change linked onto a node page (a log fragment of it): sled's {@code Link}. Immutable.
 */
sealed interface Delta permits Delta.Put, Delta.Remove, Delta.AddChild {

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
}
