package dev.toboggan.core.log;

/**
 * Space reserved in an IO buffer, with the message already copied in. Exactly one of
 * {@link #complete()} or {@link #abort()} must follow, promptly and in a {@code finally} if need be:
 * until then the buffer that holds it cannot be written, and every later message waits for it to
 * become durable.
 *
 * <p>Confined to the thread that reserved it.
 */
public final class Reservation {
    private final Log log;
    private final IoBuffer buffer;
    private final int at;
    private final int length;
    private final long lsn;
    private final long pointer;
    private final MessageKind kind;
    private final long blobId;
    private boolean decided;

    Reservation(Log log, IoBuffer buffer, int at, int length, long lsn, long pointer, MessageKind kind, long blobId) {
        this.log = log;
        this.buffer = buffer;
        this.at = at;
        this.length = length;
        this.lsn = lsn;
        this.pointer = pointer;
        this.kind = kind;
        this.blobId = blobId;
    }

    /** The message's LSN. */
    public long lsn() {
        return lsn;
    }

    /** The message's offset in the log file. */
    public long pointer() {
        return pointer;
    }

    /** Bytes the message takes in the log. */
    public int length() {
        return length;
    }

    /** The kind written: a blob kind if the payload went to a blob file. */
    public MessageKind kind() {
        return kind;
    }

    /** Publishes the message: it will be written and becomes durable with its buffer. */
    public long complete() {
        decide();
        LogFormat.sealMessage(buffer.bytes(), at, length);
        // NOTE: the CRC is written BEFORE the writer count drops, so the flusher never writes a
        // message without its checksum.
        if (buffer.exitWriter()) {
            log.handOff(buffer);
        }
        return lsn;
    }

    /**
     * Turns the message into a canceled record that recovery skips, and deletes a blob it created. The blob
     * goes before the window may be written, so it is gone before the stable tip passes the canceled record: a
     * backup, which lists and copies the blobs below the stable tip ({@link Log#listForCopy}), never lists one
     * that vanishes under it (the cleaner deletes replaced blobs only under the log's reclaim guard).
     */
    public void abort() {
        decide();
        buffer.bytes().put(at + LogFormat.KIND_OFFSET, MessageKind.CANCELED.code());
        LogFormat.sealMessage(buffer.bytes(), at, length);
        if (blobId >= 0) {
            log.deleteBlob(blobId);
        }
        if (buffer.exitWriter()) {
            log.handOff(buffer);
        }
        log.aborts.increment();
    }

    private void decide() {
        if (decided) {
            throw new IllegalStateException("reservation at LSN " + lsn + " was already completed or aborted");
        }
        decided = true;
    }

    @Override
    public String toString() {
        return "Reservation[" + kind + " lsn=" + lsn + " pointer=" + pointer + " length=" + length + "]";
    }
}
