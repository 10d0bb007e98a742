package dev.toboggan.pekko;

import com.typesafe.config.Config;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Locale;
import org.apache.pekko.actor.ActorRef;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.persistence.JournalProtocol;
import org.apache.pekko.persistence.PersistentRepr;

/**
 * The replay filter of Pekko's journal plugins ({@code replay-filter} in the plugin block, defaults from
 * {@code pekko.persistence.journal-plugin-fallback}): it detects events written by two incarnations of one
 * persistent actor at once (two writers of one persistence id, e.g. after a network partition) by their
 * writer uuids and sequence numbers, and, in the default mode, drops the old writer's events.
 *
 * <p>Pekko runs its filter ({@code org.apache.pekko.persistence.journal.ReplayFilter}, internal to Pekko) as an
 * actor between the journal and the persistent actor; this is the same decision procedure as a plain object
 * the replaying thread feeds one event at a time, so a replay costs no extra actor and no extra message per
 * event. The procedure: events pass through a look-ahead window of {@code window-size} events (the oldest
 * is sent on when the window is full). Each event is compared with the current writer (the writer uuid of
 * the last accepted event from a writer not yet superseded) and the highest sequence number seen from it:
 * <ul>
 *   <li>same writer, lower sequence number than already seen from it: an issue;
 *   <li>a writer already superseded (one of the last {@code max-old-writers}): an issue;
 *   <li>a new writer: it becomes the current writer (the previous one is remembered as old), and every
 *       event in the window with a sequence number at or above the new writer's first is an issue.
 * </ul>
 * An issue is logged and then, by {@code mode}: {@code repair-by-discard-old} drops the offending (old)
 * event, {@code warn} keeps it, {@code fail} ends the replay with {@code ReplayMessagesFailure} (nothing
 * further is delivered); {@code off} passes every event straight through. At the end the window is sent on.
 *
 * <p>Confinement: one instance per replay, used by the thread running that replay only.
 */
final class ReplayFilter {
    enum Mode {
        OFF, REPAIR_BY_DISCARD_OLD, FAIL, WARN;

        static Mode of(String name, String configPath) {
            return switch (name.toLowerCase(Locale.ROOT)) {
                case "off" -> OFF;
                case "repair-by-discard-old" -> REPAIR_BY_DISCARD_OLD;
                case "fail" -> FAIL;
                case "warn" -> WARN;
                default -> throw new IllegalArgumentException(configPath + ".replay-filter.mode = " + name
                        + ": use one of off, repair-by-discard-old, fail, warn");
            };
        }
    }

    /** The plugin block's {@code replay-filter} settings. */
    record Settings(Mode mode, int windowSize, int maxOldWriters, boolean debug) {
        static Settings from(Config config, String configPath) {
            return new Settings(Mode.of(config.getString("replay-filter.mode"), configPath),
                    PluginSettings.positiveInt(config, configPath, "replay-filter.window-size"),
                    PluginSettings.positiveInt(config, configPath, "replay-filter.max-old-writers"),
                    config.getBoolean("replay-filter.debug"));
        }
    }

    private final Settings settings;
    private final ActorRef persistentActor;
    private final LoggingAdapter log;
    private final ArrayDeque<PersistentRepr> window = new ArrayDeque<>();
    /** Superseded writers, oldest first, at most {@code max-old-writers}. */
    private final LinkedHashSet<String> oldWriters = new LinkedHashSet<>();
    private String writerUuid = "";
    private long sequenceNr = -1;

    ReplayFilter(Settings settings, ActorRef persistentActor, LoggingAdapter log) {
        this.settings = settings;
        this.persistentActor = persistentActor;
        this.log = log;
    }

    /**
     * Takes the next replayed event (after event adapters), sending on what leaves the window.
     *
     * @throws IllegalStateException in mode {@code fail}, on an issue: the replay must end as failed
     */
    void accept(PersistentRepr event) {
        if (settings.debug()) {
            log.debug("Replay: {}", event);
        }
        if (settings.mode() == Mode.OFF) {
            send(event);
            return;
        }
        if (window.size() == settings.windowSize()) {
            send(window.removeFirst());
        }
        if (event.writerUuid().equals(writerUuid)) {
            if (event.sequenceNr() < sequenceNr) {
                if (keep(event, "sequence number " + event.sequenceNr() + " is below " + sequenceNr + ", already"
                        + " replayed from the same writer: events journaled out of order, or two entities with one"
                        + " persistence id?")) {
                    window.addLast(event);
                }
            } else {
                window.addLast(event); // equal is fine: one stored event may be adapted into several
                sequenceNr = event.sequenceNr();
            }
        } else if (oldWriters.contains(event.writerUuid())) {
            if (keep(event, "its writer was superseded by writer " + writerUuid + " (last replayed sequence number "
                    + sequenceNr + "): the old writer kept writing after the new one started, or two entities"
                    + " with one persistence id?")) {
                window.addLast(event);
            }
        } else {
            if (!writerUuid.isEmpty()) {
                oldWriters.add(writerUuid);
                if (oldWriters.size() > settings.maxOldWriters()) {
                    oldWriters.remove(oldWriters.iterator().next());
                }
            }
            writerUuid = event.writerUuid();
            sequenceNr = event.sequenceNr();
            for (Iterator<PersistentRepr> it = window.iterator(); it.hasNext(); ) {
                PersistentRepr earlier = it.next();
                if (earlier.sequenceNr() >= sequenceNr && !keep(earlier, "a new writer " + writerUuid
                        + " starts at sequence number " + sequenceNr + ", at or below this older writer's event:"
                        + " the new writer journaled out of order, or two entities with one persistence id?")) {
                    it.remove();
                }
            }
            window.addLast(event);
        }
    }

    /** Sends on what the window still holds: the replay ended. */
    void finish() {
        while (!window.isEmpty()) {
            send(window.removeFirst());
        }
    }

    /** Logs an issue with {@code event}; whether to keep it, or throws in mode {@code fail}. */
    private boolean keep(PersistentRepr event, String why) {
        String message = "Invalid replayed event [sequenceNr=" + event.sequenceNr() + ", writerUUID="
                + event.writerUuid() + "] of persistence id [" + event.persistenceId() + "]: " + why;
        switch (settings.mode()) {
            case FAIL -> {
                log.error(message);
                window.clear();
                throw new IllegalStateException(message);
            }
            case WARN -> {
                log.warning(message);
                return true;
            }
            default -> {
                log.warning(message + " Discarded (replay-filter.mode = repair-by-discard-old).");
                return false;
            }
        }
    }

    private void send(PersistentRepr event) {
        persistentActor.tell(new JournalProtocol.ReplayedMessage(event), ActorRef.noSender());
    }
}
