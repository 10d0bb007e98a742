package dev.toboggan.cli.compare;

/**
 * One store {@code toboggan compare} measures, behind the smallest common interface: put, get, make
 * durable, close. Each adapter uses its store the way its documentation recommends for single-key writes
 * that need not be durable one by one (no fsync per write), and makes everything durable in
 * {@link #flush()}.
 */
public interface KvStore extends AutoCloseable {
    void put(byte[] key, byte[] value) throws Exception;

    /** The value of {@code key}, or {@code null}. */
    byte[] get(byte[] key) throws Exception;

    /** Makes every write so far durable (an fsync, or what the store offers for it). */
    void flush() throws Exception;

    @Override
    void close() throws Exception;
}
