package dev.toboggan.pekko;

import java.nio.charset.StandardCharsets;
import org.apache.pekko.serialization.JSerializer;

/** Payloads whose serializers fail on purpose, bound in {@link PekkoTestConfig}. */
final class TestSerializers {
    private TestSerializers() {}

    /** A payload that cannot be serialized: a journal must reject its write. */
    record Unserializable(String text) {}

    /** A payload that can be written but not read back: a snapshot of it exists but cannot be loaded. */
    record Unreadable(String text) {}

    public static final class Refusing extends JSerializer {
        @Override
        public int identifier() {
            return 9_876_001;
        }

        @Override
        public byte[] toBinary(Object o) {
            throw new IllegalArgumentException("refusing to serialize " + o);
        }

        @Override
        public boolean includeManifest() {
            return false;
        }

        @Override
        public Object fromBinaryJava(byte[] bytes, Class<?> manifest) {
            throw new IllegalStateException("never written");
        }
    }

    public static final class OneWay extends JSerializer {
        @Override
        public int identifier() {
            return 9_876_002;
        }

        @Override
        public byte[] toBinary(Object o) {
            return ((Unreadable) o).text().getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public boolean includeManifest() {
            return false;
        }

        @Override
        public Object fromBinaryJava(byte[] bytes, Class<?> manifest) {
            throw new IllegalStateException("this serializer cannot read what it wrote");
        }
    }
}
