package dev.toboggan.pekko;

import com.typesafe.config.Config;
import java.time.Instant;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.ReadJournalProvider;
import org.apache.pekko.persistence.query.scaladsl.CurrentEventsByPersistenceIdQuery;
import org.apache.pekko.persistence.query.scaladsl.CurrentEventsByTagQuery;
import org.apache.pekko.persistence.query.scaladsl.CurrentPersistenceIdsQuery;
import org.apache.pekko.persistence.query.scaladsl.EventsByPersistenceIdQuery;
import org.apache.pekko.persistence.query.scaladsl.EventsByTagQuery;
import org.apache.pekko.persistence.query.scaladsl.PersistenceIdsQuery;
import org.apache.pekko.persistence.query.scaladsl.ReadJournal;
import org.apache.pekko.persistence.query.typed.scaladsl.CurrentEventsBySliceQuery;
import org.apache.pekko.persistence.query.typed.scaladsl.EventTimestampQuery;
import org.apache.pekko.persistence.query.typed.scaladsl.EventsBySliceQuery;
import org.apache.pekko.persistence.query.typed.scaladsl.LoadEventQuery;
import org.apache.pekko.stream.scaladsl.Source;
import scala.Option;
import scala.collection.immutable.Range;
import scala.collection.immutable.Seq;
import scala.concurrent.Future;
import scala.jdk.javaapi.FutureConverters;
import scala.jdk.javaapi.OptionConverters;

/**
 * The read journal plugin ({@code toboggan.query}, see reference.conf): Pekko's {@code PersistenceQuery}
 * instantiates it from its configuration block. Both APIs share one {@link TobogganReadJournal}.
 */
public final class TobogganReadJournalProvider implements ReadJournalProvider {
    private final TobogganReadJournal javadsl;
    private final Scaladsl scaladsl;

    public TobogganReadJournalProvider(ExtendedActorSystem system, Config config, String configPath) {
        this.javadsl = new TobogganReadJournal(system, config, configPath);
        this.scaladsl = new Scaladsl(javadsl);
    }

    @Override
    public TobogganReadJournal javadslReadJournal() {
        return javadsl;
    }

    @Override
    public Scaladsl scaladslReadJournal() {
        return scaladsl;
    }

    /**
     * The Scala API: {@code PersistenceQuery(system).readJournalFor[TobogganReadJournalProvider.Scaladsl]("toboggan.query")}.
     * The same queries as {@link TobogganReadJournal}, as Scala sources.
     */
    public static final class Scaladsl implements ReadJournal, EventsByPersistenceIdQuery,
            CurrentEventsByPersistenceIdQuery, EventsByTagQuery, CurrentEventsByTagQuery, EventsBySliceQuery,
            CurrentEventsBySliceQuery, EventTimestampQuery, LoadEventQuery, PersistenceIdsQuery,
            CurrentPersistenceIdsQuery {
        private final TobogganReadJournal queries;

        Scaladsl(TobogganReadJournal queries) {
            this.queries = queries;
        }

        @Override
        public Source<EventEnvelope, NotUsed> eventsByPersistenceId(String persistenceId, long fromSequenceNr,
                long toSequenceNr) {
            return queries.eventsByPersistenceId(persistenceId, fromSequenceNr, toSequenceNr).asScala();
        }

        @Override
        public Source<EventEnvelope, NotUsed> currentEventsByPersistenceId(String persistenceId,
                long fromSequenceNr, long toSequenceNr) {
            return queries.currentEventsByPersistenceId(persistenceId, fromSequenceNr, toSequenceNr).asScala();
        }

        @Override
        public Source<EventEnvelope, NotUsed> eventsByTag(String tag, Offset offset) {
            return queries.eventsByTag(tag, offset).asScala();
        }

        @Override
        public Source<EventEnvelope, NotUsed> currentEventsByTag(String tag, Offset offset) {
            return queries.currentEventsByTag(tag, offset).asScala();
        }

        @Override
        public <Event> Source<org.apache.pekko.persistence.query.typed.EventEnvelope<Event>, NotUsed> eventsBySlices(
                String entityType, int minSlice, int maxSlice, Offset offset) {
            return queries.<Event>eventsBySlices(entityType, minSlice, maxSlice, offset).asScala();
        }

        @Override
        public <Event> Source<org.apache.pekko.persistence.query.typed.EventEnvelope<Event>, NotUsed>
                currentEventsBySlices(String entityType, int minSlice, int maxSlice, Offset offset) {
            return queries.<Event>currentEventsBySlices(entityType, minSlice, maxSlice, offset).asScala();
        }

        @Override
        public int sliceForPersistenceId(String persistenceId) {
            return queries.sliceForPersistenceId(persistenceId);
        }

        @Override
        public Seq<Range> sliceRanges(int numberOfRanges) {
            return queries.persistence().sliceRanges(numberOfRanges);
        }

        @Override
        public Future<Option<Instant>> timestampOf(String persistenceId, long sequenceNr) {
            return FutureConverters.asScala(queries.timestampOf(persistenceId, sequenceNr)
                    .thenApply(OptionConverters::toScala));
        }

        @Override
        public <Event> Future<org.apache.pekko.persistence.query.typed.EventEnvelope<Event>> loadEnvelope(
                String persistenceId, long sequenceNr) {
            return FutureConverters.asScala(queries.<Event>loadEnvelope(persistenceId, sequenceNr));
        }

        @Override
        public Source<String, NotUsed> persistenceIds() {
            return queries.persistenceIds().asScala();
        }

        @Override
        public Source<String, NotUsed> currentPersistenceIds() {
            return queries.currentPersistenceIds().asScala();
        }
    }
}
