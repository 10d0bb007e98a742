package dev.toboggan.pekko;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.persistence.query.NoOffset;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.Sequence;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The queries' sources ({@link TobogganReadJournal}, {@link TobogganDurableStateStore}): a source that reads a tree
 * a chunk at a time on demand, delivers each chunk once what it read is durable, and, live, waits for more to be
 * written once it has caught up.
 */
final class PolledSource {
    private PolledSource() {}

    /**
     * What one read found: where the next read starts, what to deliver, whether the read got to the end of
     * what is there now, and whether the query is complete.
     */
    record Chunk<S, T>(S next, List<T> items, boolean caughtUp, boolean finished) {}

    @FunctionalInterface
    interface Reader<S, T> {
        Chunk<S, T> read(S from);
    }

    /** When what a read saw is durable, and when a caught-up live source reads again. */
    interface Progress {
        /** A mark taken before a read ({@link #more} waits for writes past it). */
        long beforeRead();

        /** A mark taken after a read: everything the read saw is at or below it. */
        long afterRead();

        /** Completes once everything up to {@code afterRead}'s mark is durable. */
        CompletionStage<?> durable(long afterRead);

        /** Completes when a caught-up live source should read again: more was written after {@code beforeRead}. */
        CompletionStage<?> more(long beforeRead);
    }

    /**
     * The position after which a query from {@code offset} starts: a {@link Sequence}'s value (at least
     * {@code start}), or {@code start} for {@link NoOffset}.
     *
     * @throws IllegalArgumentException for any other offset, with {@code refusal} and the offset as its message
     */
    static long after(Offset offset, long start, String refusal) {
        if (offset instanceof Sequence sequence) {
            return Math.max(sequence.value(), start);
        }
        if (offset == NoOffset.getInstance()) {
            return start;
        }
        throw new IllegalArgumentException(refusal + "; got " + offset);
    }

    /** Where a polled source is, and whether it is complete. */
    private record Cursor<S>(S position, boolean finished) {}

    /** A source that reads with {@code reader} from {@code start}, as the class notes say. */
    static <S, T> Source<T, NotUsed> of(S start, Reader<S, T> reader, boolean live, Progress progress) {
        return Source.<Cursor<S>, List<T>>unfoldAsync(new Cursor<>(start, false), cursor -> {
            if (cursor.finished()) {
                return CompletableFuture.completedFuture(Optional.empty());
            }
            long before = progress.beforeRead();
            Chunk<S, T> chunk;
            try {
                chunk = reader.read(cursor.position());
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
            long readUpTo = progress.afterRead();
            Optional<Pair<Cursor<S>, List<T>>> next =
                    Optional.of(Pair.create(new Cursor<>(chunk.next(), chunk.finished()), chunk.items()));
            if (!chunk.items().isEmpty()) {
                return progress.durable(readUpTo).thenApply(ignored -> next);
            }
            if (chunk.finished()) {
                return CompletableFuture.completedFuture(Optional.empty());
            }
            if (!chunk.caughtUp() || !live) {
                return CompletableFuture.completedFuture(next);
            }
            return progress.more(before).thenApply(ignored -> next);
        }).mapConcat(items -> items);
    }
}
