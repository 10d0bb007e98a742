package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link BodyWriter} and {@link BodyReader}, and the meta and counter bodies written with them. The
 * expected bytes were produced by Chronicle Bytes 2026.4 ({@code writeStopBit}, {@code writeUtf8}), which
 * wrote these bodies before the codecs moved to plain JDK code: stores written then must read alike.
 */
class BodyCodecTest {
    private static final HexFormat HEX = HexFormat.of();

    private static String stopBit(long v) {
        BodyWriter out = new BodyWriter();
        out.writeStopBit(v);
        return HEX.formatHex(out.toByteArray());
    }

    private static long readStopBit(String hex) {
        BodyReader in = BodyReader.of(HEX.parseHex(hex));
        long v = in.readStopBit();
        assertThat(in.remaining()).isZero();
        return v;
    }

    @Test
    void stopBitNumbersHaveChroniclesLayout() {
        String[][] cases = {
                {"0", "00"}, {"1", "01"}, {"127", "7f"}, {"128", "8001"}, {"300", "ac02"}, {"16383", "ff7f"},
                {"16384", "808001"}, {"2097151", "ffff7f"}, {"2097152", "80808001"},
                {String.valueOf(Long.MAX_VALUE), "ffffffffffffffff7f"}, {"-1", "8000"}, {"-2", "8100"},
                {"-129", "808100"},
        };
        for (String[] c : cases) {
            long v = Long.parseLong(c[0]);
            assertThat(stopBit(v)).as("writing %d", v).isEqualTo(c[1]);
            assertThat(readStopBit(c[1])).as("reading %s", c[1]).isEqualTo(v);
        }
        assertThat(readStopBit(stopBit(Long.MIN_VALUE))).isEqualTo(Long.MIN_VALUE);
    }

    @Test
    void fixedWidthNumbersAndBytesRoundTrip() {
        BodyWriter out = new BodyWriter(4);
        out.writeByte(0xAB);
        out.writeInt(0x01020304);
        out.writeLong(-5L);
        out.write(new byte[] {7, 8, 9}, 1, 2);
        assertThat(HEX.formatHex(out.toByteArray())).isEqualTo("ab04030201fbffffffffffffff0809");
        BodyReader in = BodyReader.of(out.toByteArray());
        assertThat(in.readByte()).isEqualTo((byte) 0xAB);
        assertThat(in.readInt()).isEqualTo(0x01020304);
        assertThat(in.readLong()).isEqualTo(-5L);
        byte[] rest = new byte[2];
        in.read(rest);
        assertThat(rest).containsExactly(8, 9);
        assertThat(in.remaining()).isZero();
    }

    @Test
    void aReaderSeesOnlyItsSlice() {
        BodyReader in = BodyReader.of(new byte[] {1, 2, 3, 4}, 1, 2);
        assertThat(in.readByte()).isEqualTo((byte) 2);
        assertThat(in.readByte()).isEqualTo((byte) 3);
        assertThatThrownBy(in::readByte).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("past the end of a body: 0 bytes left");
    }

    @Test
    void readingPastTheEndIsRefusedWithAMessage() {
        assertThatThrownBy(() -> BodyReader.of(new byte[3]).readLong()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("reading a long past the end of a body: 3 bytes left");
        assertThatThrownBy(() -> BodyReader.of(HEX.parseHex("8080")).readStopBit())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("past the end");
        assertThatThrownBy(() -> BodyReader.of(HEX.parseHex("ffffffffffffffffffff01")).readStopBit())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("longer than 10 bytes");
    }

    @Test
    void metaNamesHaveChroniclesUtf8Layout() {
        // Chronicle's writeUtf8: stop-bit byte count, then each UTF-16 char on 1-3 bytes (surrogates apart)
        String[][] names = {{"tree", "0474726565"}, {"é", "02c3a9"}, {"€", "03e282ac"}, {"\u0000", "0100"},
                {"a\uD83D\uDE00b", "0861eda0bdedb88062"}};
        for (String[] n : names) {
            Meta meta = Meta.EMPTY.with(n[0], 5);
            BodyWriter out = new BodyWriter();
            meta.encode(out);
            assertThat(HEX.formatHex(out.toByteArray())).as("name %s", n[0]).isEqualTo("01" + n[1] + "05");
            assertThat(Meta.decode(BodyReader.of(out.toByteArray())).roots()).containsExactly(Map.entry(n[0], 5L));
        }
    }

    @Test
    void damagedMetaIsRefusedWithAMessage() {
        assertThatThrownBy(() -> Meta.decode(BodyReader.of(HEX.parseHex("01800005"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("root 0 has no name");
        assertThatThrownBy(() -> Meta.decode(BodyReader.of(HEX.parseHex("0102c30005"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a UTF-8 continuation byte");
        assertThatThrownBy(() -> Meta.decode(BodyReader.of(HEX.parseHex("0101e005"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ends inside a character");
        assertThatThrownBy(() -> Meta.decode(BodyReader.of(HEX.parseHex("0104f09f988005"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not start a 1- to 3-byte");
    }

    @Test
    void counterMarksRoundTrip() {
        BodyWriter out = new BodyWriter();
        new IdGenerator.Mark(1_000_000, 128).encode(out);
        assertThat(HEX.formatHex(out.toByteArray())).isEqualTo("c0843d8001");
        assertThat(IdGenerator.Mark.decode(BodyReader.of(out.toByteArray()))).isEqualTo(new IdGenerator.Mark(1_000_000, 128));
    }
}
