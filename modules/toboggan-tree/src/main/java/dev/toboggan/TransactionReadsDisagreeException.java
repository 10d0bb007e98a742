package dev.toboggan;

/**
 * Thrown by a read in a {@link Db#transaction transaction}'s body that would show a key otherwise than an
 * earlier read of the same run did: another caller changed the store between the two reads, so the run could
 * not commit anyway. The run ends, and the body runs again on the store as it is then: the caller of
 * {@code transaction} never gets this exception. A body that catches exceptions around its reads should let
 * this one through
 * ({@code catch (TransactionReadsDisagreeException e) { throw e; }}); one that swallows it gets it again from
 * its next read, and its run does not commit, whatever it returns.
 */
public final class TransactionReadsDisagreeException extends RuntimeException {
    TransactionReadsDisagreeException(String tree) {
        super("this run of the transaction read tree '" + tree + "' two ways (another caller changed it between two "
                + "of its reads): the body runs again");
    }

    /** No stack trace: it is thrown to end a run, and caught by the transaction itself. */
    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
