package dev.toboggan.pekko;

import com.typesafe.config.Config;
import dev.toboggan.Tree;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;

/**
 * Reads the events a journal stored with a tag (persistent actors tag events with Pekko's {@code Tagged},
 * or {@code EventSourcedBehavior.withTagger}): in the order they were written, from an offset, so a
 * projection can resume where it stopped.
 *
 * <pre>{@code
 * TaggedEvents tagged = TaggedEvents.of(system, "toboggan.journal");
 * for (TaggedEvents.TaggedEvent e : tagged.currentEventsByTag("order-placed", lastOffset, 100)) {
 *     handle(e.event().payload());
 *     lastOffset = e.offset();
 * }
 * }</pre>
 *
 * <p>Offsets are ids from the store's id generator: they grow with every write, also across restarts and
 * crashes, with gaps. Thread-safe; reads are weakly consistent (they see events written while they run, or
 * not) and never block writers. Events deleted with {@code deleteMessagesTo} are gone from here too.
 */
public final class TaggedEvents {
    private final Tree tree;
    private final Serialization serialization;

    private TaggedEvents(Tree tree, Serialization serialization) {
        this.tree = tree;
        this.serialization = serialization;
    }

    /** The tagged events of the journal configured at {@code journalPath} (e.g. {@code "toboggan.journal"}). */
    public static TaggedEvents of(ActorSystem system, String journalPath) {
        Config config = system.settings().config().getConfig(journalPath);
        Tree tree = PekkoStores.get(system).store(config.getString("store"))
                .tree(PluginSettings.treeName(config, journalPath));
        return new TaggedEvents(tree, SerializationExtension.get(system));
    }

    /** An event and its offset in its tag's order. */
    public record TaggedEvent(long offset, PersistentRepr event) {}

    /**
     * Up to {@code max} events tagged {@code tag} with offsets greater than {@code afterOffset} (0: from the
     * first), in offset order.
     */
    public List<TaggedEvent> currentEventsByTag(String tag, long afterOffset, int max) {
        List<TaggedEvent> events = new ArrayList<>();
        byte[] tagId = tree.get(PluginFormat.tagKey(tag));
        if (tagId == null || max <= 0) {
            return events;
        }
        long id = PluginFormat.decodeTagId(tagId);
        Iterator<Map.Entry<byte[], byte[]>> entries = tree.range(
                PluginFormat.taggedKey(id, afterOffset == Long.MAX_VALUE ? afterOffset : afterOffset + 1),
                PluginFormat.taggedKeyEnd(id));
        while (events.size() < max && entries.hasNext()) {
            Map.Entry<byte[], byte[]> entry = entries.next();
            PluginFormat.StoredEvent event = EventRuns.find(tree, PluginFormat.taggedNumericId(entry.getValue()),
                    PluginFormat.taggedSequenceNr(entry.getValue()));
            if (event != null) { // deleted between the two reads
                events.add(new TaggedEvent(PluginFormat.taggedOrdering(entry.getKey()),
                        PluginFormat.decodeEvent(serialization, event)));
            }
        }
        return events;
    }
}
