package dev.toboggan.core.format;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.core.log.LogFormat;
import dev.toboggan.core.log.MessageKind;
import dev.toboggan.core.pagecache.IdMarkFile;
import dev.toboggan.core.pagecache.SnapshotFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** docs/format.md must say what the format classes do. */
class FormatDocumentationTest {
    private static final Path DOC = Path.of("../../docs/format.md");

    @Test
    void messageKindTableMatchesTheEnum() throws Exception {
        String doc = Files.readString(DOC);
        Map<Integer, String> documented = new LinkedHashMap<>();
        Matcher m = Pattern.compile("(?m)^\\| (\\d+) \\| ([A-Z_]+) \\|").matcher(doc);
        while (m.find()) {
            documented.put(Integer.parseInt(m.group(1)), m.group(2));
        }
        Map<Integer, String> actual = new LinkedHashMap<>();
        for (MessageKind k : MessageKind.values()) {
            actual.put((int) k.code(), k.name());
        }
        assertThat(documented).isEqualTo(actual);
    }

    @Test
    void constantsMatch() throws Exception {
        String doc = Files.readString(DOC);
        assertThat(doc).contains("### Segment header (" + LogFormat.SEGMENT_HEADER_LENGTH + " bytes)");
        assertThat(doc).contains("last " + LogFormat.RED_ZONE + " bytes of a segment");
        assertThat(doc).contains("up to " + (dev.toboggan.core.log.LogFlusher.ZERO_FILL_AHEAD >> 20)
                + " MiB (`LogFlusher.ZERO_FILL_AHEAD`)");
        assertThat(doc).contains(String.format("magic `TBGS` (0x%08X)", LogFormat.SEGMENT_MAGIC));
        assertThat(doc).contains(String.format("0x%016X", LogFormat.LSN_MASK));
        assertThat(doc).contains(String.format("page id 0x%016X", LogFormat.NO_PAGE));
        assertThat(doc).contains("exceed S/" + LogFormat.MINIMUM_ITEMS_PER_SEGMENT + " − "
                + LogFormat.SEGMENT_HEADER_LENGTH + " bytes (with a " + LogFormat.MAX_MESSAGE_HEADER_LENGTH);
        assertThat(doc).contains("format-version=1");
        assertThat(doc).contains("### `stable-tip` (16 bytes)");
        assertThat(doc).contains(String.format("magic `TBGT` (0x%08X)", dev.toboggan.core.log.StableTipFile.MAGIC));
        assertThat(doc).contains("### `" + IdMarkFile.FILE_NAME + "` (" + IdMarkFile.LENGTH + " bytes)");
        assertThat(doc).contains(String.format("magic `TBGI` (0x%08X)", IdMarkFile.MAGIC));
    }

    @Test
    void snapshotLayoutMatches() throws Exception {
        String doc = Files.readString(DOC);
        assertThat(doc).contains("### Snapshot header (" + SnapshotFormat.HEADER_LENGTH + " bytes)");
        assertThat(doc).contains(String.format("magic `TBSN` (0x%08X)", SnapshotFormat.MAGIC));
        assertThat(doc).contains("| 8 | 4 | version (" + SnapshotFormat.VERSION + ") |");
        assertThat(doc).contains("`" + SnapshotFormat.PREFIX + "<16 lowercase hex digits of the LSN>`");
        assertThat(doc).contains("`" + SnapshotFormat.PREFIX + "<lsn>" + SnapshotFormat.TEMP_SUFFIX + "`");
        assertThat(doc).contains("### Snapshot blocks (" + SnapshotFormat.BLOCK_PIDS + " page ids each)");
        assertThat(doc).contains("live map (" + SnapshotFormat.LIVE_MAP_LENGTH + " bytes)");
        assertThat(doc).contains("### Snapshot index (" + SnapshotFormat.INDEX_ENTRY_LENGTH + " bytes per block)");
        assertThat(doc).contains("### Snapshot footer (" + SnapshotFormat.FOOTER_LENGTH + " bytes)");
        assertThat(SnapshotFormat.FOOTER_LENGTH).as("index offset (8) + blocks (4) + records (8) + CRC (4), as documented")
                .isEqualTo(8 + 4 + 8 + 4);
        assertThat(SnapshotFormat.fileName(0x1234)).isEqualTo("snapshot.0000000000001234");
    }
}
