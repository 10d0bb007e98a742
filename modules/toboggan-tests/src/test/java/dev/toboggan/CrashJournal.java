package dev.toboggan;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The expected-state file of one crash-loop worker thread, as RocksDB's db_stress keeps it: each operation
 * is written as {@code P} (pending) before it is called and {@code D} (done) after it returned, and a
 * flush that returned as {@code F}: every operation done before that flush started is durable.
 *
 * <p>Each line is one {@code write(2)}: a SIGKILL cannot lose a line that was written (the operating
 * system has it), only cut the process between lines, so the last operation of a killed worker is
 * pending, never half recorded. A torn last line (the kill landing inside the write) is ignored.
 *
 * <p>Lines: {@code P <seq> I <key> <len>} (insert), {@code P <seq> R <key>} (remove), {@code P <seq> C
 * <key> <len>} (compare-and-swap from the current value; len -1 removes), {@code P <seq> B <key> <len>
 * <key> <len>...} (an atomic batch; len -1 removes), {@code D <seq>}, {@code F <seq>} (a flush returned
 * after the worker's operations up to {@code seq} were done), {@code N <id>} (an id generated), {@code X
 * <message>} (the worker saw something wrong).
 */
final class CrashJournal implements AutoCloseable {
    /** Keys each worker owns: its operations are the only ones on them, so their order is the worker's. */
    static final int KEYS_PER_WORKER = 300;

    private final FileChannel channel;

    CrashJournal(Path file) throws IOException {
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND);
    }

    void line(String line) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
        while (buf.hasRemaining()) {
            channel.write(buf);
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    // ---------------------------------------------------------------- what workers write and read

    /** The tree worker {@code worker} writes to: workers share two trees, besides owning their keys. */
    static String treeOf(int worker) {
        return "w" + (worker % 2);
    }

    static byte[] key(int worker, int key) {
        return String.format("t%02d/%05d", worker, key).getBytes(StandardCharsets.US_ASCII);
    }

    static byte[] workerPrefix(int worker) {
        return String.format("t%02d/", worker).getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * The value operation {@code seq} of worker {@code worker} in cycle {@code cycle} writes into slot
     * {@code slot} (the position in a batch): its first 16 bytes name the writer, so a value that was
     * never written is told from one that was.
     */
    static byte[] value(int cycle, int worker, long seq, int slot, int length) {
        long tag = ((long) cycle << 40) ^ ((long) worker << 32) ^ (seq << 8) ^ slot;
        byte[] v = new byte[length];
        for (int i = 0; i < Math.min(16, length); i++) {
            v[i] = (byte) (tag >>> (8 * (i % 8)));
        }
        if (length > 16) {
            System.arraycopy(TestKeys.value(tag, length - 16), 0, v, 16, length - 16);
        }
        return v;
    }

    /** One operation as the journal records it. */
    record Op(long seq, char kind, int[] keys, int[] lengths, boolean done) {
        Op asDone() {
            return new Op(seq, kind, keys, lengths, true);
        }

        @Override
        public String toString() {
            return "#" + seq + " " + kind + " keys " + Arrays.toString(keys) + " lengths " + Arrays.toString(lengths)
                    + (done ? " done" : " pending");
        }
    }

    /** What one worker's journal says. */
    record Parsed(List<Op> ops, long flushedUpTo, List<Long> ids, List<String> errors) {}

    static Parsed read(Path file) throws IOException {
        List<Op> ops = new ArrayList<>();
        long flushed = -1;
        List<Long> ids = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        if (!Files.exists(file)) {
            return new Parsed(ops, flushed, ids, errors);
        }
        String text = Files.readString(file, StandardCharsets.UTF_8);
        String[] lines = text.split("\n", -1);
        // The last element is "" after a complete line, or a line the kill tore: either way not a record.
        for (int i = 0; i < lines.length - 1; i++) {
            String[] f = lines[i].split(" ");
            switch (f[0]) {
                case "P" -> {
                    char kind = f[2].charAt(0);
                    int n = (f.length - 3) / (kind == 'R' ? 1 : 2);
                    int[] keys = new int[n];
                    int[] lengths = new int[n];
                    for (int j = 0; j < n; j++) {
                        if (kind == 'R') {
                            keys[j] = Integer.parseInt(f[3 + j]);
                            lengths[j] = -1;
                        } else {
                            keys[j] = Integer.parseInt(f[3 + 2 * j]);
                            lengths[j] = Integer.parseInt(f[4 + 2 * j]);
                        }
                    }
                    ops.add(new Op(Long.parseLong(f[1]), kind, keys, lengths, false));
                }
                case "D" -> {
                    Op last = ops.get(ops.size() - 1);
                    if (last.seq() != Long.parseLong(f[1])) {
                        throw new IllegalStateException(file + ": done " + f[1] + " after pending " + last.seq());
                    }
                    ops.set(ops.size() - 1, last.asDone());
                }
                case "F" -> flushed = Math.max(flushed, Long.parseLong(f[1]));
                case "N" -> ids.add(Long.parseLong(f[1]));
                case "X" -> errors.add(lines[i].substring(2));
                default -> throw new IllegalStateException(file + ": unknown journal line '" + lines[i] + "'");
            }
        }
        return new Parsed(ops, flushed, ids, errors);
    }
}
