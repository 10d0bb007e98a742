package dev.toboggan.core.io;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One file of a {@link SimulatedStorage}, independent of the names it has: what reads see (the page
 * cache), what the disk holds, and the writes in between.
 *
 * <p>Implementation notes.
 * <ul>
 *   <li>Invariant: {@code current} equals {@code durable} with every {@code unforced} operation applied
 *       in order. {@link #force()} keeps it by applying the list to {@code durable}, so a force costs the
 *       bytes written since the last one, not the size of the file.
 *   <li>{@code unforced} is kept, rather than a dirty flag, so that a hostile power loss can decide the
 *       fate of each write on its own (lands whole, not at all, or as a prefix).
 *   <li>Concurrency: every field is guarded by this object's monitor, which callers hold (the storage
 *       takes it, because it must check the handle's liveness and the disk space inside the same
 *       critical section). {@link #links} is written only while holding the storage's namespace lock
 *       too, so either lock is enough to read it.
 *   <li>A power loss never revives an inode: {@link #afterPowerLoss} builds a new one from the disk
 *       image, and handles to the old one are dead.
 * </ul>
 */
final class SimulatedInode {

    /** The page cache: what reads see. */
    private ByteImage current;
    /** The disk: what survives a power loss. */
    private ByteImage durable;
    /** Writes and truncations since the last force, in the order they happened. */
    private final List<PendingOp> unforced = new ArrayList<>();
    /** How many entries of the live namespace name this file; its space counts only while positive. */
    int links;

    SimulatedInode() {
        this(new ByteImage());
    }

    private SimulatedInode(ByteImage durable) {
        this.durable = durable;
        this.current = durable.copy();
    }

    int length() {
        return current.length();
    }

    int read(ByteBuffer dst, long position) {
        return current.read(position, dst);
    }

    /** How many bytes the file grows by if {@code len} bytes are written at {@code position}. */
    long growth(long position, int len) {
        return len == 0 ? 0 : Math.max(0, position + len - current.length());
    }

    /** Writes the first {@code len} bytes of {@code bytes}, which the inode keeps: callers pass a copy. */
    void write(long position, byte[] bytes, int len) {
        if (len == 0) {
            return;
        }
        byte[] landed = len == bytes.length ? bytes : Arrays.copyOf(bytes, len);
        current.write(position, landed, len);
        unforced.add(new PendingWrite(position, landed, false));
    }

    /** Cuts the file; returns how many bytes it freed. */
    long truncate(long size) {
        int before = current.length();
        if (size >= before) {
            return 0;
        }
        current.truncate(size);
        unforced.add(new PendingTruncate(size, false));
        return before - size;
    }

    /** Makes the current content and length durable. */
    void force() {
        for (PendingOp op : unforced) {
            op.land(durable);
        }
        unforced.clear();
    }

    /**
     * The file as a reboot finds it. With {@code rnd == null} that is the disk image; otherwise each
     * unforced operation, independently, also reaches the disk whole, not at all, or (writes) torn.
     */
    SimulatedInode afterPowerLoss(SplittableRandom rnd) {
        if (rnd != null) {
            for (PendingOp op : unforced) {
                op.landHostile(durable, rnd);
            }
        }
        // This inode is dead from now on (its handles fail before touching it), so the new one may take
        // over its disk image without a copy.
        return new SimulatedInode(durable);
    }

    byte[] content() {
        return current.toArray();
    }

    byte[] durableContent() {
        return durable.toArray();
    }

    /** Flips bits of the byte at {@code offset} on disk and in the page cache. */
    void corrupt(int offset, byte mask) {
        current.xor(offset, mask);
        if (offset < durable.length()) {
            durable.xor(offset, mask);
        }
        if (!unforced.isEmpty()) {
            // A pending write over this byte would otherwise put the clean value back on disk at the next
            // force; re-writing the corrupted value last keeps current == durable + unforced.
            unforced.add(new PendingWrite(offset, new byte[] {current.get(offset)}, true));
        }
    }

    /** Cuts the file on disk and in the page cache; returns how many bytes of the latter it freed. */
    long truncateDurably(long size) {
        int before = current.length();
        current.truncate(size);
        durable.truncate(size);
        if (!unforced.isEmpty()) {
            // Same reason as in corrupt(): pending writes past the cut must not bring the bytes back.
            unforced.add(new PendingTruncate(size, true));
        }
        return Math.max(0, before - current.length());
    }

    /** An operation not yet forced; {@code pinned} ones always land, as they model damage already done. */
    private sealed interface PendingOp permits PendingWrite, PendingTruncate {
        void land(ByteImage image);

        void landHostile(ByteImage image, SplittableRandom rnd);
    }

    private record PendingWrite(long position, byte[] bytes, boolean pinned) implements PendingOp {
        private static final int NONE = 0;
        private static final int WHOLE = 1;

        @Override
        public void land(ByteImage image) {
            image.write(position, bytes, bytes.length);
        }

        @Override
        public void landHostile(ByteImage image, SplittableRandom rnd) {
            int fate = pinned ? WHOLE : rnd.nextInt(3);
            if (fate == WHOLE) {
                land(image);
            } else if (fate != NONE && bytes.length > 1) {
                // Torn: a strict, non-empty prefix, as when power dies between two sectors of one write.
                image.write(position, bytes, 1 + rnd.nextInt(bytes.length - 1));
            }
        }
    }

    private record PendingTruncate(long size, boolean pinned) implements PendingOp {
        @Override
        public void land(ByteImage image) {
            image.truncate(size);
        }

        @Override
        public void landHostile(ByteImage image, SplittableRandom rnd) {
            if (pinned || rnd.nextBoolean()) {
                land(image);
            }
        }
    }
}
