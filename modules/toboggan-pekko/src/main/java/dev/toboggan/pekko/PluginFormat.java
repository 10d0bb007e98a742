package dev.toboggan.pekko;

import dev.toboggan.Tree;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

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
 * +------+-----------------+-----------+        +--------------+-------+--------------+---------------+-------+
 * | 0x20 | numeric id  u64 | seqNr u64 | ─────► | ordering u64 | count | tag ids u64… | serializer id | repr  |
 * +------+-----------------+-----------+        |              |  u16  | count × 8    |     i32       | bytes |
 *                                               +--------------+-------+--------------+---------------+-------+
 * +------+-----------+        +------------+
 * | 0x30 | tag UTF-8 | ─────► | tag id u64 |
 * +------+-----------+        +------------+
 * +------+------------+--------------+        +-----------------+-----------+
 * | 0x40 | tag id u64 | ordering u64 | ─────► | numeric id  u64 | seqNr u64 |
 * +------+------------+--------------+        +-----------------+-----------+
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
 * </pre>
 *
 * <p>Numeric ids, tag ids and orderings come from {@link dev.toboggan.Db#generateId()}: never reused, even
 * across crashes, so a key of a persistence id deleted and written again never meets an old one. Every
 * event write also rewrites its persistence id's entry (the highest sequence number), and the tag entries
 * of its tags, in the same atomic batch.
 */
final class PluginFormat {
    static final byte PERSISTENCE_ID = 0x10;
    static final byte EVENT = 0x20;
    static final byte TAG = 0x30;
    static final byte TAGGED = 0x40;

    /** Length of a live persistence id entry: numeric id and highest sequence number. */
    static final int LIVE_ENTRY_LENGTH = 16;
    /** Length of a tombstone: the highest sequence number of a persistence id whose events are all deleted. */
    static final int TOMBSTONE_LENGTH = 8;
    /** Length of an event key. */
    static final int EVENT_KEY_LENGTH = 17;
    /** Bytes of an event value before its tag ids. */
    static final int EVENT_HEADER_LENGTH = 10;
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

    static byte[] tagKey(String tag) {
        byte[] bytes = tag.getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= Tree.MAX_KEY_LENGTH) {
            throw new IllegalArgumentException("tag '" + abbreviate(tag) + "' is " + bytes.length
                    + " bytes in UTF-8; tags may have at most " + (Tree.MAX_KEY_LENGTH - 1));
        }
        return prefixed(TAG, bytes);
    }

    static byte[] eventKey(long numericId, long sequenceNr) {
        return ByteBuffer.allocate(EVENT_KEY_LENGTH).put(EVENT).putLong(numericId).putLong(sequenceNr).array();
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

    static byte[] eventValue(long ordering, long[] tagIds, int serializerId, byte[] repr) {
        ByteBuffer b = ByteBuffer.allocate(EVENT_HEADER_LENGTH + tagIds.length * 8 + 4 + repr.length);
        b.putLong(ordering).putShort((short) tagIds.length);
        for (long tagId : tagIds) {
            b.putLong(tagId);
        }
        return b.putInt(serializerId).put(repr).array();
    }

    static long eventOrdering(byte[] eventValue) {
        return ByteBuffer.wrap(eventValue).getLong(0);
    }

    static long[] eventTagIds(byte[] eventValue) {
        ByteBuffer b = ByteBuffer.wrap(eventValue);
        long[] tagIds = new long[Short.toUnsignedInt(b.getShort(8))];
        for (int i = 0; i < tagIds.length; i++) {
            tagIds[i] = b.getLong(EVENT_HEADER_LENGTH + i * 8);
        }
        return tagIds;
    }

    static int eventSerializerId(byte[] eventValue) {
        return ByteBuffer.wrap(eventValue).getInt(reprOffset(eventValue) - 4);
    }

    static byte[] eventRepr(byte[] eventValue) {
        return Arrays.copyOfRange(eventValue, reprOffset(eventValue), eventValue.length);
    }

    private static int reprOffset(byte[] eventValue) {
        return EVENT_HEADER_LENGTH + Short.toUnsignedInt(ByteBuffer.wrap(eventValue).getShort(8)) * 8 + 4;
    }

    /** The {@link org.apache.pekko.persistence.PersistentRepr} an event value holds. */
    static org.apache.pekko.persistence.PersistentRepr decodeEvent(
            org.apache.pekko.serialization.Serialization serialization, byte[] eventValue) {
        return (org.apache.pekko.persistence.PersistentRepr) serialization.deserialize(eventRepr(eventValue),
                eventSerializerId(eventValue), "").get();
    }

    static byte[] taggedValue(long numericId, long sequenceNr) {
        return ByteBuffer.allocate(16).putLong(numericId).putLong(sequenceNr).array();
    }

    /** The event key a tagged entry's value points to. */
    static byte[] taggedEventKey(byte[] taggedValue) {
        ByteBuffer b = ByteBuffer.wrap(taggedValue);
        return eventKey(b.getLong(0), b.getLong(8));
    }

    static byte[] tagIdValue(long tagId) {
        return ByteBuffer.allocate(8).putLong(tagId).array();
    }

    static long decodeTagId(byte[] tagIdValue) {
        return ByteBuffer.wrap(tagIdValue).getLong();
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
    record Serialized(int serializerId, String manifest, byte[] bytes) {}

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
