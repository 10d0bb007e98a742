package dev.toboggan.cli.compare;

import java.util.Iterator;
import java.util.Map;

/**
 * One store {@code toboggan compare} measures, behind the smallest common interface: put, get, make
 * durable, close. Each adapter uses its store the way its documentation recommends for single-key writes
 * that need not be durable one by one (no fsync per write), makes everything durable in
 * {@link #flush()}, and offers its own way to make one write durable before returning in
 * {@link #putDurably}. Every method may be called from several threads at once.
 */
public interface KvStore extends AutoCloseable {
    void put(byte[] key, byte[] value) throws Exception;

    /** The value of {@code key}, or {@code null}. */
    byte[] get(byte[] key) throws Exception;

    /** Makes every write so far durable (an fsync, or what the store offers for it). */
    void flush() throws Exception;

    /**
     * Writes {@code key} and returns once it is durable: by default a put and a {@link #flush()}; stores with
     * a synced write of their own (which several writers may share: group commit) use it.
     */
    default void putDurably(byte[] key, byte[] value) throws Exception {
        put(key, value);
        flush();
    }

    /**
     * Writes {@code ascending}'s entries, in strictly ascending unsigned key order, into this store while it is
     * empty, the store's own way for sorted data if it has one (by default a put each); durable after the next
     * {@link #flush()}.
     */
    default void bulkLoad(Iterator<Map.Entry<byte[], byte[]>> ascending) throws Exception {
        while (ascending.hasNext()) {
            Map.Entry<byte[], byte[]> entry = ascending.next();
            put(entry.getKey(), entry.getValue());
        }
    }

    @Override
    void close() throws Exception;
}
