package dev.toboggan.pekko;

import dev.toboggan.Tree;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;

/**
 * The keys and values the Pekko plugins keep in their trees. Part of the on-disk format: docs/format.md
 * ("Pekko plugins") describes the same layout, and {@code PluginFormatDocumentationTest} checks it. All
 * numbers are big-endian, so keys sort numerically; prefixes are only ever added.
 *
 * <pre>
 * journal tree (toboggan.journal.tree)
 * +------+---------------------+        +-----------------+------------------+
 * | 0x10 | persistence id UTF-8| ─────► | numeric id  u64 | highest seqNr u64|   live (16 bytes)
 * +------+---------------------+        +-----------------+------------------+
 *                                       | highest seqNr u64|                     tombstone (8 bytes)
 *                                       +------------------+
 * +------+-----------------+        +---------------------+
 * | 0x11 | numeric id  u64 | ─────► | persistence id UTF-8|   a live persistence id, by numeric id
 * +------+-----------------+        +---------------------+
 * +------+-----------------+----------------+        +-------------+----------+-----+----------+
 * | 0x21 | numeric id  u64 | last seqNr u64 | ─────► | event count | event 1  | ... | event n  |   an event run
 * +------+-----------------+----------------+        |     u32     |          |     |          |
 *                                                    +-------------+----------+-----+----------+
 *   event: | seqNr u64 | ordering u64 | tag count u16 | tag ids u64… | serializer id i32 | repr length u32 | repr |
 *   repr, when serializer id = 0x54424731 (COMPACT_REPR, Toboggan's own layout of a PersistentRepr):
 *     | payload serializer id i32 | timestamp u64 | payload manifest length u16 | payload manifest UTF-8
 *     | event manifest length u16 | event manifest UTF-8 | persistence id length u16 | persistence id UTF-8
 *     | writer uuid length u16 | writer uuid UTF-8 | payload bytes (the rest) |
 *   repr, any other serializer id: the PersistentRepr as that Pekko serializer wrote it
 *   (0x20 held one event per entry in the first layout: never written now, and refused when found)
 * +------+-----------+        +------------+
 * | 0x30 | tag UTF-8 | ─────► | tag id u64 |
 * +------+-----------+        +------------+
 * +------+------------+--------------+        +-----------------+-----------+
 * | 0x40 | tag id u64 | ordering u64 | ─────► | numeric id  u64 | seqNr u64 |
 * +------+------------+--------------+        +-----------------+-----------+
 * +------+        +------------------+
 * | 0x50 | ─────► | highest id u64   |   the highest ordering or numeric id a stored batch gave out
 * +------+        +------------------+
 * +------+        +------------------+
 * | 0x51 | ─────► | ordering u64     |   the first ordering the slice index (0x60) covers: 0, or where it began
 * +------+        +------------------+
 * +------+---------------------+-------------------+-------------------+        +-----------+-----------------+------------------+
 * | 0x60 | entity type len u16 | entity type UTF-8 | last ordering u64 | ─────► | slice u16 | numeric id  u64 | last seqNr u64   |   an event run, by slice
 * +------+---------------------+-------------------+-------------------+        +-----------+-----------------+------------------+
 *
 * snapshot tree (toboggan.snapshot-store.tree)
 * +----------------+---------------------+-----------+---------------+
 * | id length u16  | persistence id UTF-8| seqNr u64 | timestamp u64 | ─────► snapshot value
 * +----------------+---------------------+-----------+---------------+
 * snapshot value: | flags u8 (bit 0: has metadata) | payload | metadata, if flagged |
 *   payload, metadata: | serializer id i32 | manifest length u16 | manifest UTF-8 | bytes (the rest, or length u32 + bytes for the payload when metadata follows) |
 *
 * durable store tree (toboggan.ddata.tree)
 * +-------------+        +----------------------------------------------------+
 * | key id UTF-8| ─────► | DurableDataEnvelope, by Pekko's replicator serializer |
 * +-------------+        +----------------------------------------------------+
 *
 * durable state tree (toboggan.state.tree)
 * +------+---------------------+        +--------------+------------+---------------+----------+----------------+-----------+---------+
 * | 0x01 | persistence id UTF-8| ─────► | revision u64 | offset u64 | timestamp u64 | flags u8 | tag length u16 | tag UTF-8 | payload |
 * +------+---------------------+        +--------------+------------+---------------+----------+----------------+-----------+---------+
 *   flags bit 0: deleted (no payload); payload: | serializer id i32 | manifest length u16 | manifest UTF-8 | bytes (the rest) |
 * +------+----------------+-----------+------------+        +---------------------+
 * | 0x02 | tag length u16 | tag UTF-8 | offset u64 | ─────► | persistence id UTF-8|   a tagged object's latest change
 * +------+----------------+-----------+------------+        +---------------------+
 * +------+-----------+        +-------------------+
 * | 0x03 | tag UTF-8 | ─────► | last offset u64   |   the last offset the tag gave out
 * +------+-----------+        +-------------------+
 * </pre>
 *
 * <p>Numeric ids, tag ids and orderings come from {@link dev.toboggan.Db#generateId()}: never reused, even
 * across crashes, so a key of a persistence id deleted and written again never meets an old one. Every
 * event write also rewrites its persistence id's entry (the highest sequence number), the tag entries of
 * its tags and the slice entries of its runs, in the same atomic batch.
 *
 * <p><b>Event runs.</b> The events of one persistence id that one journal write call stores go into runs:
 * one tree entry per run of up to {@link #RUN_TARGET_BYTES} (a larger event gets a run of its own), keyed
 * by the run's LAST sequence number, with every event's own sequence number inside. A tree insert costs a
 * leaf rewrite in the log whatever the value's size, so a run of many small events costs one insert where
 * an entry per event cost one each. Keying by the last sequence number makes a forward range scan from
 * {@code eventKey(id, n)} meet first the run holding {@code n} (or the first run after it). Runs of one
 * persistence id never overlap: Pekko writes its sequence numbers in increasing order.
 *
 * <p><b>Orderings and the slice index.</b> Every event gets an ordering when it is written (events written
 * before the slice index existed have one only if tagged, 0 otherwise). One write call numbers its events
 * persistence id by persistence id, in sequence number order, and the journal's one actor makes every call;
 * so the orderings of one run are consecutive among this tree's, and the runs' orderings never interleave:
 * ordered by their last ordering ({@link #BY_SLICE}'s key), the runs of an entity type list its events in
 * ordering order. A run's slice entry is written with it, removed with it (a delete that keeps the run's
 * later events keeps its last one, so the key stays right), and names the run by its key.
 * {@link #SLICE_INDEX_FROM} is written when a journal first starts with the index: 0 for a tree with no
 * events, else an ordering above every one given before, below which runs are not indexed. A journal that
 * starts with the index off ({@code slice-index}) writes no slice entries and removes the key, so that it
 * is written anew, above the runs written meanwhile, when the index is on again.
 *
 * <p><b>Compact reprs.</b> The journal writes an event's {@link org.apache.pekko.persistence.PersistentRepr} in
 * its own layout ({@link #COMPACT_REPR}): the payload serialized once by its own serializer, next to the
 * repr's fields, where Pekko's protobuf {@code MessageSerializer} would build and encode a message around
 * it for every event. Only the fields the journal is handed are kept: a repr with metadata, a sender or the
 * deleted flag set is stored by Pekko's serializer instead, with that serializer's id; events stored that
 * way (as all were before this layout) are read with Pekko's serialization, so both kinds can share a run.
 *
 * <p><b>For the read journal.</b> A batch that gives out numeric ids (new persistence ids, indexed under
 * {@link #PERSISTENCE_ID_BY_NUMERIC_ID}) or orderings (tagged events) also sets {@link #HIGHEST_ID} to the
 * highest of them. A tree iterator may see a batch's later keys without its earlier ones, but a single-key
 * read sees a batch whole or not at all; so a reader that first gets {@code HIGHEST_ID = h} and then scans
 * the ordering or numeric id keys up to {@code h} sees every one of them that is stored, and any key it
 * has not seen yet will be above {@code h} (ids only grow). The same holds for a persistence id's events up
 * to the highest sequence number its {@link #PERSISTENCE_ID} entry holds. The numeric id index entry is
 * removed with the numeric id when every event of the persistence id is deleted; {@code HIGHEST_ID} is
 * never removed. A scan of {@link #BY_SLICE} keys is bounded by an ordering kept in memory instead
 * ({@link JournalWrites#applied()}), so that a batch of untagged events writes no {@code HIGHEST_ID}.
 */
final class PluginFormat {
    static final byte PERSISTENCE_ID = 0x10;
    /** A live persistence id by its numeric id: new persistence ids in the order they were created. */
    static final byte PERSISTENCE_ID_BY_NUMERIC_ID = 0x11;
    /** The first layout's events, one per entry: no longer written; a journal that finds one refuses to start. */
    static final byte SINGLE_EVENT = 0x20;
    static final byte EVENT = 0x21;
    static final byte TAG = 0x30;
    static final byte TAGGED = 0x40;
    /** The one key of the highest numeric id or ordering a stored batch gave out. */
    static final byte HIGHEST_ID = 0x50;
    /** The one key of the first ordering {@link #BY_SLICE} covers. */
    static final byte SLICE_INDEX_FROM = 0x51;
    /** An event run by entity type and its last event's ordering, with its persistence id's slice. */
    static final byte BY_SLICE = 0x60;
    /** Bytes of a {@link #BY_SLICE} key besides the entity type. */
    static final int BY_SLICE_KEY_OVERHEAD = 1 + 2 + 8;
    /** Length of a {@link #BY_SLICE} value. */
    static final int BY_SLICE_VALUE_LENGTH = 2 + 8 + 8;
    /** Length of a numeric id index key. */
    static final int NUMERIC_ID_KEY_LENGTH = 9;

    /**
     * The serializer id field of an event whose repr is in Toboggan's compact layout rather than a Pekko
     * serializer's ("TBG1"; Pekko reserves ids 0 to 40 for its own serializers, and this one is never
     * registered with Pekko: only the journal reads it).
     */
    static final int COMPACT_REPR = 0x54424731;
    /** Bytes of a compact repr besides its manifests, persistence id, writer uuid and payload. */
    static final int COMPACT_REPR_OVERHEAD = 4 + 8 + 2 + 2 + 2 + 2;
    /** Length of a live persistence id entry: numeric id and highest sequence number. */
    static final int LIVE_ENTRY_LENGTH = 16;
    /** Length of a tombstone: the highest sequence number of a persistence id whose events are all deleted. */
    static final int TOMBSTONE_LENGTH = 8;
    /** Length of an event run key. */
    static final int EVENT_KEY_LENGTH = 17;
    /** Bytes of a run value before its first event: the event count. */
    static final int RUN_HEADER_LENGTH = 4;
    /** Bytes of an event inside a run besides its tag ids and its repr. */
    static final int EVENT_OVERHEAD = 8 + 8 + 2 + 4 + 4;
    /**
     * A writer closes a run once it holds this many bytes: large enough that one tree insert carries many
     * small events, small enough that replaying or deleting from the middle of a run decodes little.
     */
    static final int RUN_TARGET_BYTES = 64 * 1024;
    /** Bytes of a snapshot key besides the persistence id. */
    static final int SNAPSHOT_KEY_OVERHEAD = 18;
    /** Flag bit of a snapshot value: the snapshot's metadata follows the payload. */
    static final int HAS_METADATA = 1;
    /** The longest persistence id, in UTF-8 bytes, that fits every key that holds one. */
    static final int MAX_PERSISTENCE_ID_LENGTH = Tree.MAX_KEY_LENGTH - SNAPSHOT_KEY_OVERHEAD;

    private PluginFormat() {}

    // ---------------------------------------------------------------- journal

    static byte[] persistenceIdKey(String persistenceId) {
        return prefixed(PERSISTENCE_ID, utf8PersistenceId(persistenceId));
    }

    /** The persistence id of a {@link #PERSISTENCE_ID} key. */
    static String persistenceIdOf(byte[] persistenceIdKey) {
        return new String(persistenceIdKey, 1, persistenceIdKey.length - 1, StandardCharsets.UTF_8);
    }

    static byte[] numericIdKey(long numericId) {
        return ByteBuffer.allocate(NUMERIC_ID_KEY_LENGTH).put(PERSISTENCE_ID_BY_NUMERIC_ID).putLong(numericId).array();
    }

    static long numericIdOf(byte[] numericIdKey) {
        return ByteBuffer.wrap(numericIdKey).getLong(1);
    }

    /** The value of a numeric id index entry: the persistence id, as its {@link #PERSISTENCE_ID} key has it. */
    static byte[] numericIdValue(String persistenceId) {
        return utf8PersistenceId(persistenceId);
    }

    static String decodeNumericIdValue(byte[] value) {
        return new String(value, StandardCharsets.UTF_8);
    }

    static byte[] highestIdKey() {
        return new byte[] {HIGHEST_ID};
    }

    static byte[] tagKey(String tag) {
        byte[] bytes = tag.getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= Tree.MAX_KEY_LENGTH) {
            throw new IllegalArgumentException("tag '" + abbreviate(tag) + "' is " + bytes.length
                    + " bytes in UTF-8; tags may have at most " + (Tree.MAX_KEY_LENGTH - 1));
        }
        return prefixed(TAG, bytes);
    }

    /** The key of the run of {@code numericId}'s events whose last sequence number is {@code lastSequenceNr}. */
    static byte[] eventKey(long numericId, long lastSequenceNr) {
        return ByteBuffer.allocate(EVENT_KEY_LENGTH).put(EVENT).putLong(numericId).putLong(lastSequenceNr).array();
    }

    /** The first key after every run of {@code numericId}. */
    static byte[] eventKeyEnd(long numericId) {
        return successor(eventKey(numericId, -1L)); // -1 is the largest unsigned sequence number
    }

    static byte[] taggedKey(long tagId, long ordering) {
        return ByteBuffer.allocate(17).put(TAGGED).putLong(tagId).putLong(ordering).array();
    }

    /** The first key after every entry of tag {@code tagId}. */
    static byte[] taggedKeyEnd(long tagId) {
        return ByteBuffer.allocate(9).put(TAGGED).putLong(tagId + 1).array();
    }

    static long taggedOrdering(byte[] taggedKey) {
        return ByteBuffer.wrap(taggedKey).getLong(9);
    }

    static byte[] sliceIndexFromKey() {
        return new byte[] {SLICE_INDEX_FROM};
    }

    /**
     * The entity type of {@code persistenceId}, as Pekko's {@code PersistenceId.extractEntityType} gives it: what
     * comes before the first {@code |}, or the empty string.
     */
    static String entityTypeOf(String persistenceId) {
        int separator = persistenceId.indexOf('|');
        return separator < 0 ? "" : persistenceId.substring(0, separator);
    }

    /** The {@link #BY_SLICE} key of the run of {@code entityType} whose last event has {@code lastOrdering}. */
    static byte[] sliceKey(String entityType, long lastOrdering) {
        byte[] type = entityType(entityType);
        return ByteBuffer.allocate(BY_SLICE_KEY_OVERHEAD + type.length).put(BY_SLICE).putShort((short) type.length)
                .put(type).putLong(lastOrdering).array();
    }

    /** The first key after every {@link #BY_SLICE} entry of {@code entityType}. */
    static byte[] sliceKeyEnd(String entityType) {
        return successor(sliceKey(entityType, -1L)); // -1 is the largest unsigned ordering
    }

    static long sliceKeyOrdering(byte[] sliceKey) {
        return ByteBuffer.wrap(sliceKey).getLong(sliceKey.length - 8);
    }

    /** {@code entityType} in UTF-8, checked to fit a {@link #BY_SLICE} key. */
    private static byte[] entityType(String entityType) {
        return keyString(entityType, BY_SLICE_KEY_OVERHEAD, "entity type");
    }

    /**
     * {@code value} in UTF-8, checked to fit a key with {@code overhead} other bytes.
     *
     * @throws IllegalArgumentException naming {@code what} and the limit if it is too long
     */
    private static byte[] keyString(String value, int overhead, String what) {
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > Tree.MAX_KEY_LENGTH - overhead) {
            throw new IllegalArgumentException(what + " '" + abbreviate(value) + "' is " + bytes.length
                    + " bytes in UTF-8; a " + what + " may have at most " + (Tree.MAX_KEY_LENGTH - overhead));
        }
        return bytes;
    }

    static byte[] sliceValue(int slice, long numericId, long lastSequenceNr) {
        return ByteBuffer.allocate(BY_SLICE_VALUE_LENGTH).putShort((short) slice).putLong(numericId)
                .putLong(lastSequenceNr).array();
    }

    /** A {@link #BY_SLICE} entry's value: the slice of the run's persistence id and the run's event key. */
    record SliceEntry(int slice, long numericId, long lastSequenceNr) {}

    static SliceEntry decodeSliceValue(byte[] value) {
        if (value.length != BY_SLICE_VALUE_LENGTH) {
            throw new IllegalStateException("a slice entry of " + value.length + " bytes; expected "
                    + BY_SLICE_VALUE_LENGTH + ": the journal tree holds data of another format");
        }
        ByteBuffer b = ByteBuffer.wrap(value);
        return new SliceEntry(Short.toUnsignedInt(b.getShort(0)), b.getLong(2), b.getLong(10));
    }

    /** A live persistence id entry, or a tombstone (only the highest sequence number). */
    static byte[] persistenceIdValue(PersistenceIdEntry entry) {
        if (entry.isTombstone()) {
            return ByteBuffer.allocate(TOMBSTONE_LENGTH).putLong(entry.highestSequenceNr()).array();
        }
        return ByteBuffer.allocate(LIVE_ENTRY_LENGTH).putLong(entry.numericId()).putLong(entry.highestSequenceNr()).array();
    }

    static PersistenceIdEntry decodePersistenceIdValue(byte[] value) {
        ByteBuffer b = ByteBuffer.wrap(value);
        return switch (value.length) {
            case LIVE_ENTRY_LENGTH -> new PersistenceIdEntry(b.getLong(0), b.getLong(8));
            case TOMBSTONE_LENGTH -> new PersistenceIdEntry(PersistenceIdEntry.NONE, b.getLong(0));
            default -> throw new IllegalStateException("a persistence id entry of " + value.length
                    + " bytes; expected " + LIVE_ENTRY_LENGTH + " or " + TOMBSTONE_LENGTH
                    + ": the journal tree holds data of another format");
        };
    }

    /**
     * An event as a run holds it: its sequence number, its ordering (0 if untagged and written before the slice
     * index existed), the ids of its tags, and
     * its {@link org.apache.pekko.persistence.PersistentRepr} as serialized by {@code serializerId}.
     */
    record StoredEvent(long sequenceNr, long ordering, long[] tagIds, int serializerId, byte[] repr) {
        /** Bytes it takes inside a run. */
        int encodedLength() {
            return EVENT_OVERHEAD + tagIds.length * 8 + repr.length;
        }
    }

    /** The longest repr an event with {@code tagCount} tags may have: a run of it alone fits a tree value. */
    static int maxReprLength(int tagCount) {
        return Tree.MAX_VALUE_LENGTH - RUN_HEADER_LENGTH - EVENT_OVERHEAD - tagCount * 8;
    }

    /** The value of a run of {@code events}, in increasing sequence number order. */
    static byte[] eventRunValue(java.util.List<StoredEvent> events) {
        int length = RUN_HEADER_LENGTH;
        for (StoredEvent event : events) {
            length += event.encodedLength();
        }
        ByteBuffer b = ByteBuffer.allocate(length).putInt(events.size());
        for (StoredEvent event : events) {
            b.putLong(event.sequenceNr()).putLong(event.ordering()).putShort((short) event.tagIds().length);
            for (long tagId : event.tagIds()) {
                b.putLong(tagId);
            }
            b.putInt(event.serializerId()).putInt(event.repr().length).put(event.repr());
        }
        return b.array();
    }

    /** The events of a run value, in the order they were stored (increasing sequence numbers). */
    static java.util.List<StoredEvent> decodeEventRun(byte[] value) {
        ByteBuffer b = ByteBuffer.wrap(value);
        int count = b.getInt();
        if (count < 0 || count > value.length / EVENT_OVERHEAD) {
            throw new IllegalStateException("an event run claiming " + Integer.toUnsignedString(count)
                    + " events in " + value.length + " bytes: the journal tree holds data of another format");
        }
        java.util.List<StoredEvent> events = new java.util.ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long sequenceNr = b.getLong();
            long ordering = b.getLong();
            long[] tagIds = new long[Short.toUnsignedInt(b.getShort())];
            for (int t = 0; t < tagIds.length; t++) {
                tagIds[t] = b.getLong();
            }
            int serializerId = b.getInt();
            byte[] repr = new byte[b.getInt()];
            b.get(repr);
            events.add(new StoredEvent(sequenceNr, ordering, tagIds, serializerId, repr));
        }
        return events;
    }

    /**
     * A repr in the compact layout ({@link #COMPACT_REPR}): {@code payloadBytes} serialized by
     * {@code payloadSerializerId} with {@code payloadManifest}, and the repr's fields (the UTF-8 strings
     * given as bytes, so a caller can encode the ones events share once).
     */
    static byte[] compactRepr(int payloadSerializerId, byte[] payloadManifest, byte[] payloadBytes, long timestamp,
            byte[] eventManifest, byte[] persistenceId, byte[] writerUuid) {
        ByteBuffer b = ByteBuffer.allocate(COMPACT_REPR_OVERHEAD + payloadManifest.length + eventManifest.length
                + persistenceId.length + writerUuid.length + payloadBytes.length);
        b.putInt(payloadSerializerId).putLong(timestamp);
        putShortString(b, payloadManifest, "payload manifest");
        putShortString(b, eventManifest, "event manifest");
        putShortString(b, persistenceId, "persistence id");
        putShortString(b, writerUuid, "writer uuid");
        return b.put(payloadBytes).array();
    }

    /** The {@link org.apache.pekko.persistence.PersistentRepr} a stored event holds. */
    static org.apache.pekko.persistence.PersistentRepr decodeEvent(
            Serialization serialization, StoredEvent event) {
        if (event.serializerId() != COMPACT_REPR) {
            return (org.apache.pekko.persistence.PersistentRepr) serialization.deserialize(event.repr(),
                    event.serializerId(), "").get();
        }
        ByteBuffer b = ByteBuffer.wrap(event.repr());
        int payloadSerializerId = b.getInt();
        long timestamp = b.getLong();
        String payloadManifest = utf8(b, Short.toUnsignedInt(b.getShort()));
        String eventManifest = utf8(b, Short.toUnsignedInt(b.getShort()));
        String persistenceId = utf8(b, Short.toUnsignedInt(b.getShort()));
        String writerUuid = utf8(b, Short.toUnsignedInt(b.getShort()));
        byte[] payloadBytes = new byte[b.remaining()];
        b.get(payloadBytes);
        Object payload = serialization.deserialize(payloadBytes, payloadSerializerId, payloadManifest).get();
        return org.apache.pekko.persistence.PersistentRepr$.MODULE$.apply(payload, event.sequenceNr(), persistenceId,
                eventManifest, false, org.apache.pekko.actor.ActorRef.noSender(), writerUuid).withTimestamp(timestamp);
    }

    private static void putShortString(ByteBuffer b, byte[] utf8, String what) {
        if (utf8.length > 0xFFFF) {
            throw new IllegalArgumentException("an event's " + what + " is longer than 65535 UTF-8 bytes");
        }
        b.putShort((short) utf8.length).put(utf8);
    }

    static byte[] taggedValue(long numericId, long sequenceNr) {
        return ByteBuffer.allocate(16).putLong(numericId).putLong(sequenceNr).array();
    }

    static long taggedNumericId(byte[] taggedValue) {
        return ByteBuffer.wrap(taggedValue).getLong(0);
    }

    static long taggedSequenceNr(byte[] taggedValue) {
        return ByteBuffer.wrap(taggedValue).getLong(8);
    }

    /** A tag id ({@link #TAG}) or the highest id ({@link #HIGHEST_ID}). */
    static byte[] u64Value(long id) {
        return ByteBuffer.allocate(8).putLong(id).array();
    }

    static long decodeU64(byte[] value) {
        if (value.length != 8) {
            throw new IllegalStateException("an id entry of " + value.length
                    + " bytes; expected 8: the journal tree holds data of another format");
        }
        return ByteBuffer.wrap(value).getLong();
    }

    // ---------------------------------------------------------------- snapshots

    /** The first bytes of every snapshot key of {@code persistenceId}. */
    static byte[] snapshotPrefix(String persistenceId) {
        byte[] id = utf8PersistenceId(persistenceId);
        return ByteBuffer.allocate(2 + id.length).putShort((short) id.length).put(id).array();
    }

    static byte[] snapshotKey(byte[] prefix, long sequenceNr, long timestamp) {
        return ByteBuffer.allocate(prefix.length + 16).put(prefix).putLong(sequenceNr).putLong(timestamp).array();
    }

    static long snapshotSequenceNr(byte[] key) {
        return ByteBuffer.wrap(key).getLong(key.length - 16);
    }

    static long snapshotTimestamp(byte[] key) {
        return ByteBuffer.wrap(key).getLong(key.length - 8);
    }

    /** A serialized object as stored: serializer id, manifest, bytes. */
    record Serialized(int serializerId, String manifest, byte[] bytes) {
        /**
         * {@code object} as the serializer Pekko's bindings give it writes it.
         *
         * @throws Exception what the serializer throws; {@link IllegalArgumentException} for a manifest too long
         */
        static Serialized of(Serialization serialization, Object object) throws Exception {
            Serializer serializer = serialization.findSerializerFor(object);
            String manifest = Serializers.manifestFor(serializer, object);
            checkManifest(manifest);
            return new Serialized(serializer.identifier(), manifest, serializer.toBinary(object));
        }
    }

    // ---------------------------------------------------------------- durable state

    /** A durable state object by persistence id. */
    static final byte STATE = 0x01;
    /** A tagged object's latest change, by tag and offset: what {@code changes(tag, offset)} scans. */
    static final byte STATE_BY_TAG = 0x02;
    /** The last offset a tag gave out. */
    static final byte STATE_TAG_OFFSET = 0x03;
    /** The flag of a durable state value that marks the object deleted at its revision (no payload follows). */
    static final int DELETED = 1;
    /** Bytes of a durable state value besides its tag and payload: revision, offset, timestamp, flags, tag length. */
    static final int STATE_HEADER_LENGTH = 8 + 8 + 8 + 1 + 2;
    /** Bytes of a {@link #STATE_BY_TAG} key besides its tag: prefix, tag length, offset. */
    static final int STATE_BY_TAG_OVERHEAD = 1 + 2 + 8;

    /**
     * A durable state value: its revision, its offset in its tag's changes (0: untagged), when it was written
     * (epoch milliseconds), its tag ("" if none) and its payload ({@code null}: deleted).
     */
    record StoredState(long revision, long offset, long timestamp, String tag, Serialized payload) {}

    static byte[] stateKey(String persistenceId) {
        return prefixed(STATE, utf8PersistenceId(persistenceId));
    }

    static String statePersistenceIdOfKey(byte[] stateKey) {
        return new String(stateKey, 1, stateKey.length - 1, StandardCharsets.UTF_8);
    }

    static String statePersistenceId(byte[] stateByTagValue) {
        return new String(stateByTagValue, StandardCharsets.UTF_8);
    }

    static byte[] stateByTagKey(String tag, long offset) {
        byte[] bytes = stateTag(tag);
        return ByteBuffer.allocate(STATE_BY_TAG_OVERHEAD + bytes.length).put(STATE_BY_TAG)
                .putShort((short) bytes.length).put(bytes).putLong(offset).array();
    }

    static long stateByTagOffset(byte[] key) {
        return ByteBuffer.wrap(key).getLong(key.length - 8);
    }

    static byte[] stateTagOffsetKey(String tag) {
        return prefixed(STATE_TAG_OFFSET, stateTag(tag));
    }

    /** {@code tag} in UTF-8, checked to fit a {@link #STATE_BY_TAG} key. */
    private static byte[] stateTag(String tag) {
        return keyString(tag, STATE_BY_TAG_OVERHEAD, "durable state tag");
    }

    /** The length of the value of an object with {@code tag} and {@code payload} ({@code null}: deleted). */
    static long stateValueLength(String tag, Serialized payload) {
        return STATE_HEADER_LENGTH + (long) stateTag(tag).length + (payload == null ? 0
                : 6L + payload.manifest().getBytes(StandardCharsets.UTF_8).length + payload.bytes().length);
    }

    static byte[] stateValue(StoredState state) {
        byte[] tag = stateTag(state.tag());
        Serialized payload = state.payload();
        byte[] manifest = payload == null ? null : payload.manifest().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate((int) stateValueLength(state.tag(), payload)).putLong(state.revision())
                .putLong(state.offset()).putLong(state.timestamp()).put((byte) (payload == null ? DELETED : 0))
                .putShort((short) tag.length).put(tag);
        if (payload != null) {
            b.putInt(payload.serializerId()).putShort((short) manifest.length).put(manifest).put(payload.bytes());
        }
        return b.array();
    }

    static StoredState decodeStateValue(byte[] value) {
        ByteBuffer b = ByteBuffer.wrap(value);
        long revision = b.getLong();
        long offset = b.getLong();
        long timestamp = b.getLong();
        boolean deleted = (b.get() & DELETED) != 0;
        String tag = utf8(b, Short.toUnsignedInt(b.getShort()));
        if (deleted) {
            return new StoredState(revision, offset, timestamp, tag, null);
        }
        int serializerId = b.getInt();
        String manifest = utf8(b, Short.toUnsignedInt(b.getShort()));
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return new StoredState(revision, offset, timestamp, tag, new Serialized(serializerId, manifest, bytes));
    }

    static byte[] snapshotValue(Serialized payload, Serialized metadata) {
        byte[] payloadManifest = payload.manifest().getBytes(StandardCharsets.UTF_8);
        int length = 1 + 6 + payloadManifest.length + payload.bytes().length;
        byte[] metadataManifest = null;
        if (metadata != null) {
            metadataManifest = metadata.manifest().getBytes(StandardCharsets.UTF_8);
            length += 4 + 6 + metadataManifest.length + metadata.bytes().length;
        }
        ByteBuffer b = ByteBuffer.allocate(length).put((byte) (metadata == null ? 0 : HAS_METADATA));
        b.putInt(payload.serializerId()).putShort((short) payloadManifest.length).put(payloadManifest);
        if (metadata == null) {
            return b.put(payload.bytes()).array();
        }
        b.putInt(payload.bytes().length).put(payload.bytes());
        return b.putInt(metadata.serializerId()).putShort((short) metadataManifest.length).put(metadataManifest)
                .put(metadata.bytes()).array();
    }

    /** The payload ([0]) and the metadata ([1], or {@code null}) of a snapshot value. */
    static Serialized[] decodeSnapshotValue(byte[] value) {
        ByteBuffer b = ByteBuffer.wrap(value);
        boolean hasMetadata = (b.get() & HAS_METADATA) != 0;
        int serializerId = b.getInt();
        String manifest = utf8(b, Short.toUnsignedInt(b.getShort()));
        byte[] bytes = new byte[hasMetadata ? b.getInt() : b.remaining()];
        b.get(bytes);
        Serialized payload = new Serialized(serializerId, manifest, bytes);
        if (!hasMetadata) {
            return new Serialized[] {payload, null};
        }
        int metadataSerializerId = b.getInt();
        String metadataManifest = utf8(b, Short.toUnsignedInt(b.getShort()));
        byte[] metadataBytes = new byte[b.remaining()];
        b.get(metadataBytes);
        return new Serialized[] {payload, new Serialized(metadataSerializerId, metadataManifest, metadataBytes)};
    }

    static void checkManifest(String manifest) {
        if (manifest.getBytes(StandardCharsets.UTF_8).length > 0xFFFF) {
            throw new IllegalArgumentException("a serializer manifest longer than 65535 UTF-8 bytes: '"
                    + abbreviate(manifest) + "'");
        }
    }

    // ---------------------------------------------------------------- helpers

    /** The key that follows every key starting with {@code key} and nothing else: {@code key} + 0x00. */
    static byte[] successor(byte[] key) {
        return Arrays.copyOf(key, key.length + 1);
    }

    private static byte[] utf8PersistenceId(String persistenceId) {
        byte[] bytes = persistenceId.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > MAX_PERSISTENCE_ID_LENGTH) {
            throw new IllegalArgumentException("persistence id '" + abbreviate(persistenceId) + "' is "
                    + bytes.length + " bytes in UTF-8; Toboggan keeps persistence ids of at most "
                    + MAX_PERSISTENCE_ID_LENGTH + " bytes");
        }
        return bytes;
    }

    private static byte[] prefixed(byte prefix, byte[] rest) {
        byte[] key = new byte[1 + rest.length];
        key[0] = prefix;
        System.arraycopy(rest, 0, key, 1, rest.length);
        return key;
    }

    private static String utf8(ByteBuffer b, int length) {
        byte[] bytes = new byte[length];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "…";
    }
}
