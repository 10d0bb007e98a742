package dev.toboggan;

/**
 * A leaf's reference to a value stored in a {@link ValuePage} of its own.
 *
 * @param pid the value page
 * @param length the value's length in bytes
 */
record ValueRef(long pid, int length) {}
