package dev.toboggan.core.log;

/**
 * The kind byte of a log message (see {@link LogFormat}). Codes are part of the on-disk format: never
 * renumber, only append.
 */
public enum MessageKind {
    /** Code 0: never written; zero-filled space reads as this, and so does torn space. */
    CORRUPTED(0, false),
    /** A reservation that was aborted (its CAS lost): bytes kept, CRC valid, recovery skips it. */
    CANCELED(1, false),
    /** Padding to the end of a segment: recovery continues with the next segment. */
    CAP(2, false),
    /** Opens an atomic batch; the batch counts only if its {@link #BATCH_SEAL} is in the recovered log. */
    BATCH_MANIFEST(3, false),
    /** Closes the atomic batch whose manifest LSN is the 8-byte body. */
    BATCH_SEAL(4, false),
    /** The page was freed. */
    FREE(5, false),
    /** A high-water mark of the id generator. */
    COUNTER(6, false),
    /** The meta page (named roots), stored inline. */
    INLINE_META(7, false),
    /** The meta page, stored in a blob file. */
    BLOB_META(8, true),
    /** A full page image, stored inline. */
    INLINE_NODE(9, false),
    /** A full page image, stored in a blob file. */
    BLOB_NODE(10, true),
    /** A delta fragment, stored inline. */
    INLINE_LINK(11, false),
    /** A delta fragment, stored in a blob file. */
    BLOB_LINK(12, true);

    private static final MessageKind[] BY_CODE = values();

    private final byte code;
    private final boolean blob;

    MessageKind(int code, boolean blob) {
        this.code = (byte) code;
        this.blob = blob;
    }

    public byte code() {
        return code;
    }

    /** Whether the body is an 8-byte blob id and the payload lives in a blob file. */
    public boolean isBlob() {
        return blob;
    }

    /** Whether this kind carries a page's content (a base image, a delta, the meta page or a counter). */
    public boolean isPageData() {
        return code >= FREE.code;
    }

    /** Whether callers may ask the log for this kind (the others are written by the log itself). */
    public boolean isUserKind() {
        return isPageData() && !blob;
    }

    /** The blob variant of an inline kind; the kind itself if it has none. */
    public MessageKind blobVariant() {
        return switch (this) {
            case INLINE_META -> BLOB_META;
            case INLINE_NODE -> BLOB_NODE;
            case INLINE_LINK -> BLOB_LINK;
            default -> this;
        };
    }

    /** The inline variant of a blob kind; the kind itself otherwise. */
    public MessageKind inlineVariant() {
        return switch (this) {
            case BLOB_META -> INLINE_META;
            case BLOB_NODE -> INLINE_NODE;
            case BLOB_LINK -> INLINE_LINK;
            default -> this;
        };
    }

    /** Whether this kind may be moved to a blob file when it is too large for a segment. */
    public boolean mayBeBlob() {
        return blobVariant() != this;
    }

    /** The kind for a code byte, or {@code null} if the byte is not a known kind. */
    public static MessageKind ofCode(byte code) {
        int c = code & 0xFF;
        return c < BY_CODE.length ? BY_CODE[c] : null;
    }
}
