package dev.toboggan.core.log;

/**
 * A message found while scanning the log: where it is, not what it says ({@link Log#read} reads the
 * body).
 *
 * @param kind the message's kind (a blob kind for messages whose payload is in a blob file)
 * @param pid the page id, or {@link LogFormat#NO_PAGE}
 * @param lsn the message's LSN
 * @param pointer the message's file offset in the log file
 * @param length the bytes the message takes in the log (header and inline body)
 * @param relocatedFrom for a {@link MessageKind#RELOCATED_LINK}, the LSN the delta it carries had before
 *     (the fragment of the page it takes the place of); -1 for every other kind
 */
public record LogEntry(MessageKind kind, long pid, long lsn, long pointer, int length, long relocatedFrom) {
    /** An entry of any kind but {@link MessageKind#RELOCATED_LINK}. */
    public LogEntry(MessageKind kind, long pid, long lsn, long pointer, int length) {
        this(kind, pid, lsn, pointer, length, -1);
    }
}
