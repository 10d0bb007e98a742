package dev.toboggan.core.log;

/**
 * What log recovery found and did.
 *
 * @param tip the LSN writing continues at: everything below it was replayed or skipped as canceled
 * @param segments segments with a valid header
 * @param messages messages handed to the replay consumer
 * @param bytesScanned bytes of segments read
 * @param end why the log ended where it did
 * @param torn whether it ended in a message cut short (a write the crash interrupted, past every byte the store
 *     had promised durable: below the promise that is corruption, and recovery throws instead)
 * @param droppedBatches atomic batches dropped: those without a durable seal, and those sealed after the manifest
 *     of one (they stand or fall with it), with everything after the first of them
 * @param zeroedSegments torn or unused segments zeroed so their bytes can never be mistaken for data
 * @param deletedBlobs blob files of messages that did not survive
 * @param nanos time taken
 */
public record RecoveryReport(long tip, int segments, long messages, long bytesScanned, String end,
        boolean torn, int droppedBatches, int zeroedSegments, int deletedBlobs, long nanos) {

    @Override
    public String toString() {
        return String.format("recovered %d messages from %d segments (%.1f MiB scanned) in %.1f ms; tip %d; end: %s"
                + "; %d atomic batches dropped; %d segments zeroed; %d torn blobs deleted",
                messages, segments, bytesScanned / (1024.0 * 1024.0), nanos / 1e6, tip, end, droppedBatches,
                zeroedSegments, deletedBlobs);
    }
}
