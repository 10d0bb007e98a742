package dev.toboggan.pekko;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.Tree;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** docs/format.md must say what {@link PluginFormat} does (as FormatDocumentationTest does for the core). */
class PluginFormatDocumentationTest {
    private static final Path DOC = Path.of("../../docs/format.md");

    @Test
    void prefixesAndLengthsMatch() throws Exception {
        String doc = Files.readString(DOC);
        assertThat(doc).contains(String.format("0x%02X | persistence id (UTF-8)", PluginFormat.PERSISTENCE_ID));
        assertThat(doc).contains(String.format("0x%02X | numeric id u64 | seqNr u64", PluginFormat.EVENT));
        assertThat(doc).contains(String.format("0x%02X | tag (UTF-8)", PluginFormat.TAG));
        assertThat(doc).contains(String.format("0x%02X | tag id u64 | ordering u64", PluginFormat.TAGGED));
        assertThat(doc).contains("live (" + PluginFormat.LIVE_ENTRY_LENGTH + " bytes)");
        assertThat(doc).contains("tombstone (" + PluginFormat.TOMBSTONE_LENGTH + " bytes)");
        assertThat(doc).contains("An event key is\n  " + PluginFormat.EVENT_KEY_LENGTH + " bytes");
        assertThat(doc).contains("at most " + PluginFormat.MAX_PERSISTENCE_ID_LENGTH + " UTF-8 bytes");
        assertThat(doc).contains("key's " + PluginFormat.SNAPSHOT_KEY_OVERHEAD + " bytes");
        assertThat(doc).contains("flags u8 (bit 0: has metadata)");
        assertThat(PluginFormat.HAS_METADATA).isEqualTo(1);
    }

    @Test
    void encodedKeysHaveTheDocumentedShape() {
        assertThat(PluginFormat.eventKey(1, 2)).hasSize(PluginFormat.EVENT_KEY_LENGTH)
                .startsWith(PluginFormat.EVENT, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2);
        assertThat(PluginFormat.snapshotKey(PluginFormat.snapshotPrefix("p"), 3, 4))
                .hasSize(1 + PluginFormat.SNAPSHOT_KEY_OVERHEAD)
                .containsExactly(0, 1, 'p', 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4);
        assertThat(PluginFormat.MAX_PERSISTENCE_ID_LENGTH + PluginFormat.SNAPSHOT_KEY_OVERHEAD)
                .isEqualTo(Tree.MAX_KEY_LENGTH);
        byte[] event = PluginFormat.eventValue(7, new long[] {11, 12}, 5, new byte[] {9, 9});
        assertThat(PluginFormat.eventOrdering(event)).isEqualTo(7);
        assertThat(PluginFormat.eventTagIds(event)).containsExactly(11, 12);
        assertThat(PluginFormat.eventSerializerId(event)).isEqualTo(5);
        assertThat(PluginFormat.eventRepr(event)).containsExactly(9, 9);
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
