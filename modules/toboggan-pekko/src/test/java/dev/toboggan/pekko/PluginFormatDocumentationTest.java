package dev.toboggan.pekko;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.Tree;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** docs/format.md must say what {@link PluginFormat} does (as FormatDocumentationTest does for the core). */
class PluginFormatDocumentationTest {
    private static final Path DOC = Path.of("../../docs/format.md");

    @Test
    void prefixesAndLengthsMatch() throws Exception {
        String doc = Files.readString(DOC);
        assertThat(doc).contains(String.format("0x%02X | persistence id (UTF-8)", PluginFormat.PERSISTENCE_ID));
        assertThat(doc).contains(String.format("0x%02X | numeric id u64 | last seqNr u64", PluginFormat.EVENT));
        assertThat(doc).contains(String.format("0x%02X | numeric id u64 | seqNr u64", PluginFormat.SINGLE_EVENT));
        assertThat(doc).contains("event count u32");
        assertThat(doc).contains("| seqNr u64 | ordering u64 | tag count u16 | tag ids (u64 each) | serializer id i32"
                + " | repr length u32 | serialized PersistentRepr");
        assertThat(doc).contains(String.format("when serializer id = 0x%08X (Toboggan's compact layout)",
                PluginFormat.COMPACT_REPR));
        assertThat(doc).contains("| payload serializer id i32 | timestamp u64 | payload manifest length u16");
        assertThat(PluginFormat.COMPACT_REPR_OVERHEAD).isEqualTo(4 + 8 + 2 + 2 + 2 + 2);
        assertThat(doc).contains("runs of up to " + PluginFormat.RUN_TARGET_BYTES / 1024 + " KiB");
        assertThat(PluginFormat.EVENT_OVERHEAD).isEqualTo(8 + 8 + 2 + 4 + 4);
        assertThat(PluginFormat.RUN_HEADER_LENGTH).isEqualTo(4);
        assertThat(doc).contains(String.format("0x%02X | tag (UTF-8)", PluginFormat.TAG));
        assertThat(doc).contains(String.format("0x%02X | tag id u64 | ordering u64", PluginFormat.TAGGED));
        assertThat(doc).contains(String.format("0x%02X | numeric id u64                    → persistence id (UTF-8)",
                PluginFormat.PERSISTENCE_ID_BY_NUMERIC_ID));
        assertThat(doc).contains(String.format("0x%02X                                     → highest id u64",
                PluginFormat.HIGHEST_ID));
        assertThat(doc).contains(String.format("0x%02X                                     → ordering u64 (the first "
                + "ordering the 0x%02X entries cover", PluginFormat.SLICE_INDEX_FROM, PluginFormat.BY_SLICE));
        assertThat(doc).contains(String.format("0x%02X | entity type length u16 | entity type (UTF-8) | last ordering u64 → "
                + "slice u16 | numeric id u64 | last seqNr u64", PluginFormat.BY_SLICE));
        assertThat(PluginFormat.BY_SLICE_KEY_OVERHEAD).isEqualTo(1 + 2 + 8);
        assertThat(PluginFormat.BY_SLICE_VALUE_LENGTH).isEqualTo(2 + 8 + 8);
        assertThat(doc).contains("live (" + PluginFormat.LIVE_ENTRY_LENGTH + " bytes)");
        assertThat(doc).contains("tombstone (" + PluginFormat.TOMBSTONE_LENGTH + " bytes)");
        assertThat(doc).contains("An event key is\n  " + PluginFormat.EVENT_KEY_LENGTH + " bytes");
        assertThat(doc).contains("at most " + PluginFormat.MAX_PERSISTENCE_ID_LENGTH + " UTF-8 bytes");
        assertThat(doc).contains("key's " + PluginFormat.SNAPSHOT_KEY_OVERHEAD + " bytes");
        assertThat(doc).contains("flags u8 (bit 0: has metadata)");
        assertThat(PluginFormat.HAS_METADATA).isEqualTo(1);
        assertThat(doc).contains(String.format("0x%02X | persistence id (UTF-8)            → revision u64 | offset u64"
                + " | timestamp u64 | flags u8 (bit 0: deleted) | tag length u16 | tag (UTF-8)", PluginFormat.STATE));
        assertThat(doc).contains("| payload (none when deleted): serializer id i32 | manifest length u16 | manifest"
                + " (UTF-8) | bytes");
        assertThat(doc).contains(String.format("0x%02X | tag length u16 | tag (UTF-8) | offset u64 → persistence id (UTF-8)",
                PluginFormat.STATE_BY_TAG));
        assertThat(doc).contains(String.format("0x%02X | tag (UTF-8)                       → last offset u64",
                PluginFormat.STATE_TAG_OFFSET));
        assertThat(PluginFormat.DELETED).isEqualTo(1);
        assertThat(PluginFormat.STATE_HEADER_LENGTH).isEqualTo(8 + 8 + 8 + 1 + 2);
        assertThat(PluginFormat.STATE_BY_TAG_OVERHEAD).isEqualTo(1 + 2 + 8);
    }

    @Test
    void durableStateEntriesHaveTheDocumentedShape() {
        byte[] live = PluginFormat.stateValue(new PluginFormat.StoredState(3, 2, 9, "t",
                new PluginFormat.Serialized(5, "m", new byte[] {7, 8})));
        assertThat(live).containsExactly(0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9,
                0, 0, 1, 't', 0, 0, 0, 5, 0, 1, 'm', 7, 8);
        assertThat(PluginFormat.stateValueLength("t", new PluginFormat.Serialized(5, "m", new byte[] {7, 8})))
                .isEqualTo(live.length);
        PluginFormat.StoredState back = PluginFormat.decodeStateValue(live);
        assertThat(back.revision()).isEqualTo(3);
        assertThat(back.offset()).isEqualTo(2);
        assertThat(back.timestamp()).isEqualTo(9);
        assertThat(back.tag()).isEqualTo("t");
        assertThat(back.payload().serializerId()).isEqualTo(5);
        assertThat(back.payload().manifest()).isEqualTo("m");
        assertThat(back.payload().bytes()).containsExactly(7, 8);
        byte[] deleted = PluginFormat.stateValue(new PluginFormat.StoredState(4, 0, 1, "", null));
        assertThat(deleted).containsExactly(0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                PluginFormat.DELETED, 0, 0);
        assertThat(PluginFormat.decodeStateValue(deleted)).isEqualTo(new PluginFormat.StoredState(4, 0, 1, "", null));
        assertThat(PluginFormat.stateKey("p")).containsExactly(PluginFormat.STATE, 'p');
        assertThat(PluginFormat.stateByTagKey("t", 258)).containsExactly(PluginFormat.STATE_BY_TAG, 0, 1, 't',
                0, 0, 0, 0, 0, 0, 1, 2);
        assertThat(PluginFormat.stateByTagOffset(PluginFormat.stateByTagKey("t", 258))).isEqualTo(258);
        assertThat(PluginFormat.stateTagOffsetKey("t")).containsExactly(PluginFormat.STATE_TAG_OFFSET, 't');
    }

    @Test
    void encodedKeysHaveTheDocumentedShape() {
        assertThat(PluginFormat.eventKey(1, 2)).hasSize(PluginFormat.EVENT_KEY_LENGTH)
                .startsWith(PluginFormat.EVENT, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2);
        assertThat(PluginFormat.numericIdKey(258)).hasSize(PluginFormat.NUMERIC_ID_KEY_LENGTH)
                .containsExactly(PluginFormat.PERSISTENCE_ID_BY_NUMERIC_ID, 0, 0, 0, 0, 0, 0, 1, 2);
        assertThat(PluginFormat.numericIdOf(PluginFormat.numericIdKey(258))).isEqualTo(258);
        assertThat(PluginFormat.highestIdKey()).containsExactly(PluginFormat.HIGHEST_ID);
        assertThat(PluginFormat.sliceIndexFromKey()).containsExactly(PluginFormat.SLICE_INDEX_FROM);
        assertThat(PluginFormat.sliceKey("Cart", 258)).containsExactly(PluginFormat.BY_SLICE, 0, 4, 'C', 'a', 'r', 't',
                0, 0, 0, 0, 0, 0, 1, 2);
        assertThat(PluginFormat.sliceKeyOrdering(PluginFormat.sliceKey("Cart", 258))).isEqualTo(258);
        assertThat(Arrays.compareUnsigned(PluginFormat.sliceKey("Cart", -1L), PluginFormat.sliceKeyEnd("Cart"))).isNegative();
        assertThat(Arrays.compareUnsigned(PluginFormat.sliceKeyEnd("Cart"), PluginFormat.sliceKey("Caru", 0))).isNegative();
        assertThat(PluginFormat.sliceValue(1023, 258, 3)).containsExactly(3, 255, 0, 0, 0, 0, 0, 0, 1, 2,
                0, 0, 0, 0, 0, 0, 0, 3);
        assertThat(PluginFormat.decodeSliceValue(PluginFormat.sliceValue(1023, 258, 3)))
                .isEqualTo(new PluginFormat.SliceEntry(1023, 258, 3));
        assertThat(PluginFormat.entityTypeOf("Cart|1|replica")).isEqualTo("Cart");
        assertThat(PluginFormat.entityTypeOf("plain")).isEmpty();
        assertThat(PluginFormat.snapshotKey(PluginFormat.snapshotPrefix("p"), 3, 4))
                .hasSize(1 + PluginFormat.SNAPSHOT_KEY_OVERHEAD)
                .containsExactly(0, 1, 'p', 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4);
        assertThat(PluginFormat.MAX_PERSISTENCE_ID_LENGTH + PluginFormat.SNAPSHOT_KEY_OVERHEAD)
                .isEqualTo(Tree.MAX_KEY_LENGTH);
        byte[] run = PluginFormat.eventRunValue(List.of(
                new PluginFormat.StoredEvent(3, 7, new long[] {11, 12}, 5, new byte[] {9, 9}),
                new PluginFormat.StoredEvent(4, 0, new long[0], 6, new byte[] {8})));
        assertThat(run).hasSize(PluginFormat.RUN_HEADER_LENGTH + 2 * PluginFormat.EVENT_OVERHEAD + 16 + 3);
        assertThat(run).startsWith(0, 0, 0, 2, /* seqNr */ 0, 0, 0, 0, 0, 0, 0, 3, /* ordering */ 0, 0, 0, 0, 0, 0, 0, 7,
                /* tag count */ 0, 2);
        List<PluginFormat.StoredEvent> events = PluginFormat.decodeEventRun(run);
        assertThat(events).hasSize(2);
        assertThat(events.get(0).sequenceNr()).isEqualTo(3);
        assertThat(events.get(0).ordering()).isEqualTo(7);
        assertThat(events.get(0).tagIds()).containsExactly(11, 12);
        assertThat(events.get(0).serializerId()).isEqualTo(5);
        assertThat(events.get(0).repr()).containsExactly(9, 9);
        assertThat(events.get(1).sequenceNr()).isEqualTo(4);
        assertThat(events.get(1).tagIds()).isEmpty();
        assertThat(events.get(1).serializerId()).isEqualTo(6);
        assertThat(events.get(1).repr()).containsExactly(8);
    }

    @Test
    void aCompactReprHasTheDocumentedShape() {
        byte[] repr = PluginFormat.compactRepr(20, new byte[] {'m'}, new byte[] {7, 8}, 300, new byte[0],
                new byte[] {'p', 'q'}, new byte[] {'w'});
        assertThat(repr).hasSize(PluginFormat.COMPACT_REPR_OVERHEAD + 1 + 2 + 1 + 2).containsExactly(
                /* payload serializer */ 0, 0, 0, 20, /* timestamp */ 0, 0, 0, 0, 0, 0, 1, 44,
                /* payload manifest */ 0, 1, 'm', /* event manifest */ 0, 0, /* persistence id */ 0, 2, 'p', 'q',
                /* writer uuid */ 0, 1, 'w', /* payload */ 7, 8);
    }

    @Test
    void snapshotValuesRoundTripWithAndWithoutMetadata() {
        PluginFormat.Serialized payload = new PluginFormat.Serialized(20, "m", new byte[] {1, 2, 3});
        PluginFormat.Serialized metadata = new PluginFormat.Serialized(21, "", new byte[] {4});
        PluginFormat.Serialized[] plain = PluginFormat.decodeSnapshotValue(PluginFormat.snapshotValue(payload, null));
        assertThat(plain[0]).usingRecursiveComparison().isEqualTo(payload);
        assertThat(plain[1]).isNull();
        PluginFormat.Serialized[] both = PluginFormat.decodeSnapshotValue(PluginFormat.snapshotValue(payload, metadata));
        assertThat(both[0]).usingRecursiveComparison().isEqualTo(payload);
        assertThat(both[1]).usingRecursiveComparison().isEqualTo(metadata);
    }
}
