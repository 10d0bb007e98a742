package dev.toboggan;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/** Small helpers for keys and values in tests. */
final class TestKeys {
    private TestKeys() {}

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] hex(String hex) {
        return HexFormat.of().parseHex(hex);
    }

    static String hex(byte[] bytes) {
        return bytes == null ? null : HexFormat.of().formatHex(bytes);
    }

    /** {@code n} as 4 big-endian bytes: sorts as the number does. */
    static byte[] be(int n) {
        return new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n};
    }

    /** A value of {@code length} bytes that depends on {@code seed}. */
    static byte[] value(long seed, int length) {
        byte[] v = new byte[length];
        long x = seed * 0x9E3779B97F4A7C15L + length;
        for (int i = 0; i < length; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            v[i] = (byte) x;
        }
        return v;
    }

    /** An empty map ordered as the tree orders keys. */
    static NavigableMap<byte[], byte[]> model() {
        return new TreeMap<>(Arrays::compareUnsigned);
    }

    /** The entries of an iterator as hex "key=value" strings. */
    static List<String> drain(Iterator<Map.Entry<byte[], byte[]>> it) {
        List<String> out = new ArrayList<>();
        while (it.hasNext()) {
            Map.Entry<byte[], byte[]> e = it.next();
            out.add(hex(e.getKey()) + "=" + hex(e.getValue()));
        }
        return out;
    }

    /** The entries of a model map as {@link #drain} shows them. */
    static List<String> show(Map<byte[], byte[]> map) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<byte[], byte[]> e : map.entrySet()) {
            out.add(hex(e.getKey()) + "=" + hex(e.getValue()));
        }
        return out;
    }
}
