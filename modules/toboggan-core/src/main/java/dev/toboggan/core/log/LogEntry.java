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
 */
public record LogEntry(MessageKind kind, long pid, long lsn, long pointer, int length) {}
