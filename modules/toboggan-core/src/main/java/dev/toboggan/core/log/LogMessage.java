package dev.toboggan.core.log;

/**
 * A message read back from the log.
 *
 * @param kind the inline kind of the message (a blob is reported as the kind it stands for)
 * @param pid the page id
 * @param lsn the LSN of the message
 * @param body the payload, read from the blob file if it is a blob and decompressed if the store
 *     compresses
 */
public record LogMessage(MessageKind kind, long pid, long lsn, byte[] body) {}
