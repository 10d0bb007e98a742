package dev.toboggan;

import dev.toboggan.core.io.FileChannelStorage;
import java.io.BufferedInputStream;
import dev.toboggan.core.Failpoints;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * The dump file of {@link Db#export} and {@link Toboggan#importDump}: every tree of a store with its entries
 * in key order, and where the store's id generator stood. It does not depend on the store's own on-disk
 * format (docs/format.md), so it carries a store's contents across a format version that cannot be opened
 * in place, or into a new store (sled's {@code export}/{@code import}). docs/format.md, "Dump file", matches
 * this diagram.
 *
 * <pre>
 * file  := magic frame*
 * magic := "TOBODUMP"                                   8 bytes, ASCII
 * frame := | length: u32 | crc: u32 | kind: u8 | body |  big-endian; length counts kind and body,
 *                                                        crc is the CRC-32C of kind and body
 *
 * kind 1 HEADER  first, once      | version: u16 (= 1) |
 * kind 2 TREE    once per tree    | name: UTF-8, the rest of the body |
 * kind 3 ENTRY   after its TREE   | key length: u32 | key | value: the rest of the body |
 *                                   a tree's entries in strictly ascending unsigned key order
 * kind 4 END     last, once       | trees: u32 | entries: u64 | last id: u64 |
 *                                   the counts of TREE and ENTRY frames before it; an id the store
 *                                   handed out during the export, higher than every id before it
 * </pre>
 *
 * A dump is complete only with its END frame and nothing after it: a reader refuses a truncated file, a
 * damaged frame (its CRC), frames out of order, a tree named twice, keys out of order or over
 * {@link Tree#MAX_KEY_LENGTH}, values over {@link Tree#MAX_VALUE_LENGTH}, and counts that do not match.
 * A writer writes to a temporary file beside the dump, forces it and renames it into place, so a dump's
 * name never holds a partial file.
 */
final class DumpFormat {
    static final byte[] MAGIC = "TOBODUMP".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    static final byte HEADER = 1;
    static final byte TREE = 2;
    static final byte ENTRY = 3;
    static final byte END = 4;
    /** length and crc */
    static final int FRAME_HEADER = 8;
    /** The longest frame body a reader accepts: the largest entry (a key length, a key, a value) and its kind. */
    static final long MAX_FRAME = 1L + 4 + Tree.MAX_KEY_LENGTH + Tree.MAX_VALUE_LENGTH;

    private DumpFormat() {}

    /** Writes one dump: {@link #tree}, then its entries in key order, for each tree; then {@link #finish}. */
    static final class Writer implements AutoCloseable {
        private final Path dump;
        private final Path partial;
        private final FileChannel channel;
        private final OutputStream out;
        private final CRC32C crc = new CRC32C();
        private ByteBuffer frame = ByteBuffer.allocate(64 << 10);
        private int trees;
        private long entries;
        private long bytes;
        /** Whether the file has its dump's name; {@link #finished} once that name is durable too. */
        private boolean renamed;
        private boolean finished;

        /**
         * @param dump where the dump goes: must not exist; its directory must
         */
        Writer(Path dump) throws IOException {
            this.dump = dump;
            this.partial = dump.resolveSibling("." + dump.getFileName() + ".partial");
            // A partial file is this writer's own leftover from a run that died: nobody else names files so.
            Files.deleteIfExists(partial);
            this.channel = FileChannel.open(partial, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            this.out = new BufferedOutputStream(Channels.newOutputStream(channel), 256 << 10);
            out.write(MAGIC);
            bytes = MAGIC.length;
            ByteBuffer body = begin(HEADER, 2);
            body.putShort((short) VERSION);
            end();
        }

        void tree(String name) throws IOException {
            Failpoints.check("dump.tree");
            byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
            begin(TREE, utf8.length).put(utf8);
            end();
            trees++;
        }

        void entry(byte[] key, byte[] value) throws IOException {
            begin(ENTRY, 4 + key.length + value.length).putInt(key.length).put(key).put(value);
            end();
            entries++;
        }

        /** Writes the END frame, forces the file and renames it to the dump's name. */
        Dump finish(long lastId) throws IOException {
            begin(END, 4 + 8 + 8).putInt(trees).putLong(entries).putLong(lastId);
            end();
            out.flush();
            channel.force(true);
            channel.close();
            // Not ATOMIC_MOVE: that may replace a file made under the name since the caller looked; a plain move
            // refuses it (FileAlreadyExistsException) and is still one rename within the directory.
            Files.move(partial, dump);
            renamed = true;
            new FileChannelStorage().syncDirectory(dump.toAbsolutePath().getParent());
            finished = true;
            return new Dump(dump, trees, entries, lastId, bytes);
        }

        private ByteBuffer begin(byte kind, int bodyLength) {
            int length = FRAME_HEADER + 1 + bodyLength;
            if (frame.capacity() < length) {
                frame = ByteBuffer.allocate(Math.max(length, frame.capacity() * 2));
            }
            frame.clear();
            frame.position(FRAME_HEADER);
            return frame.put(kind);
        }

        private void end() throws IOException {
            int length = frame.position();
            crc.reset();
            crc.update(frame.array(), FRAME_HEADER, length - FRAME_HEADER);
            frame.putInt(0, length - FRAME_HEADER).putInt(4, (int) crc.getValue());
            out.write(frame.array(), 0, length);
            bytes += length;
        }

        /**
         * Closes the file; unless {@link #finish} returned, deletes what was written (the partial file, or the
         * dump itself if only the directory's sync failed): an export that fails leaves no file.
         */
        @Override
        public void close() throws IOException {
            if (!finished) {
                try {
                    channel.close();
                } finally {
                    Files.deleteIfExists(renamed ? dump : partial);
                }
            }
        }
    }

    /** What a reader hands on from a dump it reads. */
    interface Visitor {
        /** A tree starts; its entries follow. */
        void tree(String name);

        /** An entry of the last tree begun. */
        void entry(byte[] key, byte[] value);

        /** Does nothing: for a check of the whole file before anything is written. */
        Visitor CHECK_ONLY = new Visitor() {
            @Override
            public void tree(String name) {}

            @Override
            public void entry(byte[] key, byte[] value) {}
        };
    }

    /**
     * Reads the whole dump, handing each tree and entry to {@code visitor} as it goes, and checks everything
     * the diagram promises.
     *
     * @throws IllegalArgumentException if the file is not a complete, undamaged dump: says what is wrong and
     *     at which byte
     * @throws UncheckedIOException if the file cannot be read
     */
    static Dump read(Path dump, Visitor visitor) {
        requireFile(dump);
        try (InputStream file = Files.newInputStream(dump)) {
            return new Reader(dump, new DataInputStream(new BufferedInputStream(file, 256 << 10)), visitor).read();
        } catch (IOException e) {
            throw new UncheckedIOException("could not read the dump " + dump + ": " + e.getMessage(), e);
        }
    }

    /**
     * @throws IllegalArgumentException if {@code dump} is null or not an existing file
     */
    static void requireFile(Path dump) {
        if (dump == null || !Files.isRegularFile(dump)) {
            throw new IllegalArgumentException("the dump " + dump + " does not exist or is not a file");
        }
    }

    private static final class Reader {
        private final Path dump;
        private final DataInputStream in;
        private final Visitor visitor;
        private final CRC32C crc = new CRC32C();
        private final Set<String> names = new HashSet<>();
        private long offset;
        private byte[] body = new byte[64 << 10];
        private int trees;
        private long entries;
        private byte[] lastKey;
        private boolean inTree;

        Reader(Path dump, DataInputStream in, Visitor visitor) {
            this.dump = dump;
            this.in = in;
            this.visitor = visitor;
        }

        Dump read() throws IOException {
            byte[] magic = new byte[MAGIC.length];
            if (in.readNBytes(magic, 0, magic.length) < magic.length || !Arrays.equals(magic, MAGIC)) {
                throw damaged("it does not start with \"TOBODUMP\": not a Toboggan dump");
            }
            offset = magic.length;
            int length = next();
            if (length < 0 || body[0] != HEADER || length != 3) {
                throw damaged("its first frame is not a header");
            }
            int version = ByteBuffer.wrap(body, 1, 2).getShort() & 0xFFFF;
            if (version != VERSION) {
                throw damaged("it is a dump of version " + version + "; this Toboggan reads version " + VERSION
                        + ": import it with the Toboggan that wrote it, or a later one");
            }
            while (true) {
                long at = offset;
                length = next();
                if (length < 0) {
                    throw damaged("it ends before its END frame: the file is truncated (an export that did not finish "
                            + "leaves no file under the dump's name, so it was cut short after); export it again");
                }
                ByteBuffer b = ByteBuffer.wrap(body, 1, length - 1);
                switch (body[0]) {
                    case TREE -> {
                        String name = new String(body, 1, length - 1, StandardCharsets.UTF_8);
                        if (!names.add(name)) {
                            throw damagedAt(at, "the tree \"" + name + "\" appears twice");
                        }
                        trees++;
                        inTree = true;
                        lastKey = null;
                        visitor.tree(name);
                    }
                    case ENTRY -> {
                        if (!inTree) {
                            throw damagedAt(at, "an entry comes before any tree");
                        }
                        int keyLength = length - 1 >= 4 ? b.getInt() : -1;
                        if (keyLength < 0 || keyLength > length - 5 || keyLength > Tree.MAX_KEY_LENGTH) {
                            throw damagedAt(at, "an entry's key length " + keyLength + " does not fit its frame or "
                                    + "is over Tree.MAX_KEY_LENGTH");
                        }
                        int valueLength = length - 5 - keyLength;
                        if (valueLength > Tree.MAX_VALUE_LENGTH) {
                            throw damagedAt(at, "a value of " + valueLength + " bytes is over Tree.MAX_VALUE_LENGTH");
                        }
                        byte[] key = Arrays.copyOfRange(body, 5, 5 + keyLength);
                        if (lastKey != null && Arrays.compareUnsigned(lastKey, key) >= 0) {
                            throw damagedAt(at, "the keys of a tree are not in ascending order");
                        }
                        lastKey = key;
                        entries++;
                        visitor.entry(key, Arrays.copyOfRange(body, 5 + keyLength, length));
                    }
                    case END -> {
                        if (length != 1 + 4 + 8 + 8) {
                            throw damagedAt(at, "its END frame has " + length + " bytes");
                        }
                        int endTrees = b.getInt();
                        long endEntries = b.getLong();
                        long lastId = b.getLong();
                        if (endTrees != trees || endEntries != entries) {
                            throw damagedAt(at, "its END frame counts " + endTrees + " trees and " + endEntries
                                    + " entries; the file holds " + trees + " and " + entries);
                        }
                        if (lastId < 0 || lastId == Long.MAX_VALUE) {
                            throw damagedAt(at, "its last id " + lastId + " is out of range");
                        }
                        if (in.read() >= 0) {
                            throw damaged("bytes follow its END frame at byte " + offset);
                        }
                        return new Dump(dump, trees, entries, lastId, offset);
                    }
                    default -> throw damagedAt(at, "a frame of unknown kind " + body[0]);
                }
            }
        }

        /**
         * Reads the next frame's kind and body into {@link #body} and checks its CRC.
         *
         * @return the length of kind and body, or -1 at the end of the file before any of the frame
         */
        private int next() throws IOException {
            long at = offset;
            int length;
            int expected;
            try {
                length = in.readInt();
            } catch (EOFException e) {
                return -1;
            }
            try {
                expected = in.readInt();
                if (length < 1 || length > MAX_FRAME) {
                    throw damagedAt(at, "a frame claims " + Integer.toUnsignedString(length) + " bytes");
                }
                if (body.length < length) {
                    body = new byte[Math.max(length, Math.min(body.length * 2, (int) MAX_FRAME))];
                }
                in.readFully(body, 0, length);
            } catch (EOFException e) {
                throw damagedAt(at, "the file ends inside a frame: it is truncated; export it again");
            }
            crc.reset();
            crc.update(body, 0, length);
            if ((int) crc.getValue() != expected) {
                throw damagedAt(at, "a frame's checksum does not match its bytes: the file is damaged");
            }
            offset += FRAME_HEADER + length;
            return length;
        }

        private IllegalArgumentException damaged(String what) {
            return new IllegalArgumentException("cannot import " + dump + ": " + what + "; nothing was imported");
        }

        private IllegalArgumentException damagedAt(long at, String what) {
            return damaged(what + " (the frame at byte " + at + ")");
        }
    }
}
