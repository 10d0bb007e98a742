package dev.toboggan.pekko;

import java.util.Arrays;
import java.util.Set;
import org.apache.pekko.persistence.journal.EventAdapter;
import org.apache.pekko.persistence.journal.EventSeq;
import org.apache.pekko.persistence.journal.Tagged;
import scala.jdk.javaapi.CollectionConverters;

/** Event adapters bound to the journal in {@link JournalProtocolTest}. */
final class TestEventAdapters {
    private TestEventAdapters() {}

    /** What the application persists. */
    record Deposit(String text) {}

    /**
     * On write: a deposit is stored as its text under manifest {@code "deposit-v2"}, tagged {@code "money"}
     * (a deposit of {@code "boom"} makes the adapter throw); other events as they are. On replay: a stored
     * deposit {@code "a+b+c"} becomes three deposits, {@code "a"} one; other events stay as they are.
     */
    public static final class Splitting implements EventAdapter {
        @Override
        public String manifest(Object event) {
            return event instanceof Deposit ? "deposit-v2" : "";
        }

        @Override
        public Object toJournal(Object event) {
            if (!(event instanceof Deposit deposit)) {
                return event;
            }
            if (deposit.text().equals("boom")) {
                throw new IllegalArgumentException("the adapter refuses deposit 'boom'");
            }
            return new Tagged(deposit.text(), CollectionConverters.asScala(Set.of("money")).toSet());
        }

        @Override
        public EventSeq fromJournal(Object event, String manifest) {
            if (!manifest.equals("deposit-v2")) {
                return EventSeq.single(event);
            }
            return EventSeq.create(Arrays.stream(((String) event).split("\\+")).map(Deposit::new).toArray());
        }
    }
}
