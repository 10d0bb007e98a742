package dev.toboggan.pekko;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.Persistence;
import org.apache.pekko.persistence.SaveSnapshotSuccess;
import org.apache.pekko.persistence.SelectedSnapshot;
import org.apache.pekko.persistence.SnapshotMetadata;
import org.apache.pekko.persistence.SnapshotProtocol;
import org.apache.pekko.persistence.SnapshotSelectionCriteria;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.Option;

/** The snapshot store plugin's contract, case by case, through the snapshot store actor's own protocol. */
class SnapshotStoreContractTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    Path directory;

    private ActorTestKit testKit;
    private ActorRef store;
    private TestProbe<Object> probe;

    @BeforeEach
    void start() {
        testKit = ActorTestKit.create("snapshots", PekkoTestConfig.persistence(directory));
        store = Persistence.get(Adapter.toClassic(testKit.system()))
                .snapshotStoreFor("toboggan.snapshot-store", ConfigFactory.empty());
        probe = testKit.createTestProbe();
    }

    @AfterEach
    void stop() {
        testKit.shutdownTestKit();
    }

    @Test
    void loadsTheNewestSnapshotMatchingTheCriteria() {
        save("p", 10, "s10");
        save("p", 20, "s20");
        save("p", 30, "s30");
        save("q", 40, "q40");

        assertThat(load("p", SnapshotSelectionCriteria.latest(), Long.MAX_VALUE).snapshot()).isEqualTo("s30");
        assertThat(load("p", SnapshotSelectionCriteria.create(25, Long.MAX_VALUE), Long.MAX_VALUE).snapshot()).isEqualTo("s20");
        // The snapshot store stamps a save with the time it handles it: select by those timestamps.
        long savedAt20 = load("p", SnapshotSelectionCriteria.create(25, Long.MAX_VALUE), Long.MAX_VALUE).metadata().timestamp();
        assertThat(load("p", SnapshotSelectionCriteria.create(Long.MAX_VALUE, savedAt20), Long.MAX_VALUE).snapshot()).isEqualTo("s20");
        assertThat(load("p", SnapshotSelectionCriteria.create(Long.MAX_VALUE, savedAt20 - 1), Long.MAX_VALUE).snapshot())
                .isEqualTo("s10");
        assertThat(load("p", SnapshotSelectionCriteria.create(Long.MAX_VALUE, Long.MAX_VALUE, 15, 0), Long.MAX_VALUE)
                .snapshot()).isEqualTo("s30");
        assertThat(load("p", SnapshotSelectionCriteria.create(20, Long.MAX_VALUE, 20, 0), Long.MAX_VALUE).snapshot())
                .isEqualTo("s20");
        assertThat(load("p", SnapshotSelectionCriteria.latest(), 15).snapshot()).as("limited by toSequenceNr").isEqualTo("s10");
        assertThat(load("p", SnapshotSelectionCriteria.create(5, Long.MAX_VALUE), Long.MAX_VALUE)).isNull();
        assertThat(load("p", SnapshotSelectionCriteria.none(), Long.MAX_VALUE)).isNull();
        assertThat(load("nobody", SnapshotSelectionCriteria.latest(), Long.MAX_VALUE)).isNull();

        SelectedSnapshot selected = load("p", SnapshotSelectionCriteria.latest(), Long.MAX_VALUE);
        assertThat(selected.metadata().persistenceId()).isEqualTo("p");
        assertThat(selected.metadata().sequenceNr()).isEqualTo(30);
        assertThat(selected.metadata().timestamp()).isGreaterThan(savedAt20);
    }

    @Test
    void keepsTheSnapshotsMetadata() {
        SnapshotMetadata metadata = new SnapshotMetadata("p", 7, 700, Option.apply("replicated-meta"));
        store.tell(new SnapshotProtocol.SaveSnapshot(metadata, "with-meta"), replyTo());
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(SaveSnapshotSuccess.class);

        SelectedSnapshot selected = load("p", SnapshotSelectionCriteria.latest(), Long.MAX_VALUE);
        assertThat(selected.snapshot()).isEqualTo("with-meta");
        assertThat(selected.metadata().metadata().get()).isEqualTo("replicated-meta");
    }

    @Test
    void deletesOneSnapshotBySequenceNr() {
        save("p", 10, "s10");
        save("p", 20, "s20");

        store.tell(new SnapshotProtocol.DeleteSnapshot(new SnapshotMetadata("p", 20, 0)), replyTo());
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(org.apache.pekko.persistence.DeleteSnapshotSuccess.class);

        assertThat(load("p", SnapshotSelectionCriteria.latest(), Long.MAX_VALUE).snapshot()).isEqualTo("s10");
    }

    @Test
    void deletesSnapshotsByCriteria() {
        save("p", 10, "s10");
        save("p", 20, "s20");
        save("p", 30, "s30");
        save("q", 10, "q10");

        SnapshotSelectionCriteria upTo20 = SnapshotSelectionCriteria.create(20, Long.MAX_VALUE);
        store.tell(new SnapshotProtocol.DeleteSnapshots("p", upTo20), replyTo());
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(org.apache.pekko.persistence.DeleteSnapshotsSuccess.class);

        assertThat(load("p", SnapshotSelectionCriteria.latest(), Long.MAX_VALUE).snapshot()).isEqualTo("s30");
        assertThat(load("p", upTo20, Long.MAX_VALUE)).isNull();
        assertThat(load("q", SnapshotSelectionCriteria.latest(), Long.MAX_VALUE).snapshot()).isEqualTo("q10");

        // Timestamps bound a delete too: only s30 was saved at its time.
        save("p", 40, "s40");
        long savedAt30 = load("p", SnapshotSelectionCriteria.create(35, Long.MAX_VALUE), Long.MAX_VALUE).metadata().timestamp();
        store.tell(new SnapshotProtocol.DeleteSnapshots("p",
                SnapshotSelectionCriteria.create(Long.MAX_VALUE, savedAt30, 0, savedAt30)), replyTo());
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(org.apache.pekko.persistence.DeleteSnapshotsSuccess.class);
        assertThat(load("p", SnapshotSelectionCriteria.create(35, Long.MAX_VALUE), Long.MAX_VALUE)).isNull();
        assertThat(load("p", SnapshotSelectionCriteria.latest(), Long.MAX_VALUE).snapshot()).isEqualTo("s40");
    }

    @Test
    void aSnapshotThatExistsButCannotBeReadFailsTheLoad() {
        save("p", 10, "readable");
        save("p", 20, new TestSerializers.Unreadable("broken"));

        store.tell(new SnapshotProtocol.LoadSnapshot("p", SnapshotSelectionCriteria.latest(), Long.MAX_VALUE), replyTo());
        Object reply = probe.receiveMessage(TIMEOUT);
        assertThat(reply).as("not the older snapshot, not none").isInstanceOf(SnapshotProtocol.LoadSnapshotFailed.class);
        assertThat(((SnapshotProtocol.LoadSnapshotFailed) reply).cause())
                .isInstanceOf(TobogganSnapshotStore.SnapshotUnreadableException.class)
                .hasMessageContaining("snapshot 20").hasMessageContaining("'p'");

        assertThat(load("p", SnapshotSelectionCriteria.create(15, Long.MAX_VALUE), Long.MAX_VALUE).snapshot())
                .isEqualTo("readable");
    }

    @Test
    void aSnapshotThatCannotBeSerializedFailsTheSaveAndStoresNothing() {
        store.tell(new SnapshotProtocol.SaveSnapshot(new SnapshotMetadata("p", 5, 500),
                new TestSerializers.Unserializable("x")), replyTo());
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(org.apache.pekko.persistence.SaveSnapshotFailure.class);
        assertThat(load("p", SnapshotSelectionCriteria.latest(), Long.MAX_VALUE)).isNull();
    }

    @Test
    void snapshotsSurviveARestartOfTheActorSystem() {
        save("p", 10, "s10");
        testKit.shutdownTestKit();
        start();

        assertThat(load("p", SnapshotSelectionCriteria.latest(), Long.MAX_VALUE).snapshot()).isEqualTo("s10");
    }

    private ActorRef replyTo() {
        return Adapter.toClassic(probe.ref());
    }

    private void save(String persistenceId, long seqNr, Object snapshot) {
        store.tell(new SnapshotProtocol.SaveSnapshot(new SnapshotMetadata(persistenceId, seqNr, 0), snapshot), replyTo());
        assertThat(probe.receiveMessage(TIMEOUT)).isInstanceOf(SaveSnapshotSuccess.class);
        try {
            Thread.sleep(3); // distinct save timestamps (milliseconds) for the timestamp criteria
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The snapshot a recovery would start from, or {@code null}. */
    private SelectedSnapshot load(String persistenceId, SnapshotSelectionCriteria criteria, long toSequenceNr) {
        store.tell(new SnapshotProtocol.LoadSnapshot(persistenceId, criteria, toSequenceNr), replyTo());
        Object reply = probe.receiveMessage(TIMEOUT);
        assertThat(reply).isInstanceOf(SnapshotProtocol.LoadSnapshotResult.class);
        Option<SelectedSnapshot> snapshot = ((SnapshotProtocol.LoadSnapshotResult) reply).snapshot();
        return snapshot.isDefined() ? snapshot.get() : null;
    }
}
