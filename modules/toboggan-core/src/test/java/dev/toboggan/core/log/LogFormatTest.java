package dev.toboggan.core.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LogFormatTest {

    @Test
    void varintsRoundTripAtEveryBoundary() {
        long[] values = {0, 1, 240, 241, 2287, 2288, 67823, 67824, (1L << 24) - 1, 1L << 24, (1L << 32) - 1,
            1L << 40, Long.MAX_VALUE, LogFormat.NO_PAGE, -2};
        ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(16));
        for (long v : values) {
            int n = LogFormat.writeVarint(buf, 0, v);
            assertThat(n).as("length of %s", v).isEqualTo(LogFormat.varintLength(v));
            assertThat(LogFormat.readVarint(buf, 0, 16)).as("value %s", Long.toUnsignedString(v)).isEqualTo(v);
            assertThat(LogFormat.readVarint(buf, 0, n - 1)).as("truncated %s", v).isEqualTo(-1);
        }
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 100_000; i++) {
            long v = r.nextLong() >>> r.nextInt(64);
            if (v == -1) {
                continue;
            }
            int n = LogFormat.writeVarint(buf, 0, v);
            assertThat(LogFormat.readVarint(buf, 0, n)).isEqualTo(v);
        }
    }

    @Test
    void segmentHeadersRoundTripAndZerosNeverDecode() {
        ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(LogFormat.SEGMENT_HEADER_LENGTH));
        assertThat(LogFormat.readSegmentHeader(buf, 0, 4096)).isNull();
        LogFormat.writeSegmentHeader(buf, 0, 3 * 4096, 2 * 4096 + 17);
        assertThat(LogFormat.readSegmentHeader(buf, 0, 4096))
                .isEqualTo(new LogFormat.SegmentHeader(3 * 4096, 2 * 4096 + 17));
        assertThat(LogFormat.readSegmentHeader(buf, 0, 8192)).as("LSN not a multiple of the segment size").isNull();
        for (int i = 0; i < LogFormat.SEGMENT_HEADER_LENGTH * 8; i++) {
            ByteBuffer flipped = LogFormat.le(ByteBuffer.allocate(buf.capacity()).put(0, buf, 0, buf.capacity()));
            flipped.put(i / 8, (byte) (flipped.get(i / 8) ^ (1 << (i % 8))));
            assertThat(LogFormat.readSegmentHeader(flipped, 0, 4096)).as("bit %d flipped", i).isNull();
        }
    }

    @Test
    void messagesRoundTripAndEveryBitFlipIsCaught() {
        ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(256));
        byte[] body = LogTestSupport.body(1, 2, 40);
        int headerLength = LogFormat.writeMessageHeader(buf, 0, MessageKind.INLINE_LINK, body.length, 7, 123_456);
        assertThat(headerLength).isEqualTo(LogFormat.messageHeaderLength(body.length, 7, 123_456));
        buf.put(headerLength, body);
        int total = headerLength + body.length;
        LogFormat.sealMessage(buf, 0, total);
        LogFormat.MessageHeader h = new LogFormat.MessageHeader();
        assertThat(LogFormat.readMessage(buf, 0, 256, 7, h)).isNull();
        assertThat(h.kind).isEqualTo(MessageKind.INLINE_LINK);
        assertThat(h.pid).isEqualTo(123_456);
        assertThat(h.totalLength()).isEqualTo(total);
        assertThat(LogFormat.peekMessageLength(buf, 0, 256)).isEqualTo(total);
        assertThat(LogFormat.readMessage(buf, 0, 256, 8, h)).isEqualTo(LogFormat.Defect.WRONG_SEGMENT);
        assertThat(LogFormat.readMessage(buf, 0, total - 1, 7, h)).isEqualTo(LogFormat.Defect.TOO_LONG);
        for (int bit = 0; bit < total * 8; bit++) {
            ByteBuffer flipped = LogFormat.le(ByteBuffer.allocate(256).put(0, buf, 0, 256));
            flipped.put(bit / 8, (byte) (flipped.get(bit / 8) ^ (1 << (bit % 8))));
            assertThat(LogFormat.readMessage(flipped, 0, 256, 7, h)).as("bit %d flipped", bit).isNotNull();
        }
    }

    @Test
    void randomBytesNeverThrowFromTheDecoders() {
        SplittableRandom r = new SplittableRandom(42);
        LogFormat.MessageHeader h = new LogFormat.MessageHeader();
        int accepted = 0;
        for (int i = 0; i < 200_000 * LogTestSupport.scale(); i++) {
            int size = r.nextInt(0, 64);
            ByteBuffer buf = LogFormat.le(ByteBuffer.allocate(size));
            for (int j = 0; j < size; j++) {
                buf.put(j, (byte) r.nextInt());
            }
            if (r.nextBoolean() && size > 5) {
                buf.put(4, (byte) r.nextInt(1, 13)); // a known kind, to reach the deeper checks
            }
            int end = size == 0 ? 0 : r.nextInt(0, size + 1);
            if (LogFormat.readMessage(buf, 0, end, r.nextLong(0, 4), h) == null) {
                accepted++;
            }
            LogFormat.peekMessageLength(buf, 0, end);
            LogFormat.readSegmentHeader(buf, 0, 1 << r.nextInt(10, 20));
            LogFormat.isValidBlob(buf, MessageKind.BLOB_NODE);
        }
        assertThat(accepted).as("random bytes that passed a 32-bit CRC").isLessThan(3);
    }
}
