package dev.toboggan.cli.compare;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.cli.stress.Records;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkloadsTest {
    @TempDir Path tmp;

    private final Sizes sizes = new Sizes(200, 300, 24, 2, 4, 0);
    private final Workloads workloads = new Workloads(new Entries(new Records(16, 100), 200), sizes, 7);

    @Test
    void everyFigureIsMeasuredAndEveryValueReadIsRight() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("store"));
        Workloads.Result r = workloads.run(Peer.TOBOGGAN, dir, tmp);
        assertThat(r.wrongValues()).isZero();
        for (Figure f : Figure.values()) {
            if (f == Figure.SETTLE_MS || f == Figure.SPACE_SETTLED) {
                assertThat(r.figures()).as("no settle wait asked for").doesNotContainKey(f);
            } else {
                assertThat(r.get(f)).as(f.name()).isPositive().isFinite();
            }
        }
        // Every store file is deleted with its store's directory by the caller; the bare loop's file is gone.
        try (var left = Files.list(tmp)) {
            assertThat(left).containsExactly(dir);
        }
    }

    @Test
    void theInMemoryReferencesAreMeasuredOnTheThroughputsOnlyAndCheckedLikeAStore() throws Exception {
        List<Figure> throughputs = List.of(Figure.LOAD, Figure.READ, Figure.READ_THREADS, Figure.MIXED,
                Figure.MIXED_THREADS, Figure.BULK_LOAD);
        for (Peer reference : List.of(Peer.HASHMAP, Peer.SKIPLIST)) {
            assertThat(reference.keepsFiles()).isFalse();
            Path dir = Files.createDirectories(tmp.resolve(reference.label()));
            Workloads.Result r = workloads.run(reference, dir, tmp);
            assertThat(r.wrongValues()).as(reference.label()).isZero();
            assertThat(r.figures().keySet()).as(reference.label()).containsExactlyInAnyOrderElementsOf(throughputs);
            for (Figure f : throughputs) {
                assertThat(r.get(f)).as(reference.label() + " " + f).isPositive().isFinite();
            }
            try (var files = Files.list(dir)) {
                assertThat(files).as("nothing written").isEmpty();
            }
        }
    }

    @Test
    void aReferenceThatLosesAnOverwriteIsCaught() throws Exception {
        // The checks do not trust a peer for keeping nothing on disk: a map that drops every tenth put is wrong.
        AtomicLong puts = new AtomicLong();
        Workloads.Opener dropsPuts = dir -> new Forwarding(Peer.HASHMAP.open(dir)) {
            @Override
            public void put(byte[] key, byte[] value) throws Exception {
                long put = puts.incrementAndGet();
                if (put <= sizes.keys() || put % 10 != 0) {
                    super.put(key, value);
                }
            }
        };
        Workloads.Result r = workloads.run(Peer.HASHMAP, dropsPuts, Files.createDirectories(tmp.resolve("m")), tmp);
        assertThat(r.wrongValues()).isPositive();
    }

    @Test
    void aStoreThatReturnsAnOldVersionOrADamagedValueIsCaught() throws Exception {
        AtomicLong gets = new AtomicLong();
        Workloads.Opener wrongEveryFiftiethGet = dir -> new Forwarding(Peer.TOBOGGAN.open(dir)) {
            @Override
            public byte[] get(byte[] key) throws Exception {
                byte[] value = super.get(key);
                if (value != null && gets.incrementAndGet() % 50 == 0) {
                    value = value.clone();
                    value[value.length - 1] ^= 1;
                }
                return value;
            }
        };
        Workloads.Result r = workloads.run(Peer.TOBOGGAN, wrongEveryFiftiethGet, Files.createDirectories(tmp.resolve("s")),
                tmp);
        assertThat(r.wrongValues()).isEqualTo(gets.get() / 50);
    }

    @Test
    void aBulkLoadThatLosesAnEntryIsCaught() throws Exception {
        Workloads.Opener dropsOneInFifty = dir -> new Forwarding(Peer.TOBOGGAN.open(dir)) {
            @Override
            public void bulkLoad(Iterator<Map.Entry<byte[], byte[]>> ascending) throws Exception {
                List<Map.Entry<byte[], byte[]>> kept = new ArrayList<>();
                for (int n = 0; ascending.hasNext(); n++) {
                    Map.Entry<byte[], byte[]> entry = ascending.next();
                    if (n % 50 != 7) {
                        kept.add(entry);
                    }
                }
                super.bulkLoad(kept.iterator());
            }
        };
        Workloads.Result r = workloads.run(Peer.TOBOGGAN, dropsOneInFifty, Files.createDirectories(tmp.resolve("b")), tmp);
        assertThat(r.wrongValues()).isEqualTo(sizes.keys() / 50);
        assertThat(r.get(Figure.BULK_LOAD)).isPositive().isFinite();
    }

    /** Passes every call to a real store; a test overrides the call it makes go wrong. */
    private static class Forwarding implements KvStore {
        private final KvStore real;

        Forwarding(KvStore real) {
            this.real = real;
        }

        @Override
        public void put(byte[] key, byte[] value) throws Exception {
            real.put(key, value);
        }

        @Override
        public byte[] get(byte[] key) throws Exception {
            return real.get(key);
        }

        @Override
        public void flush() throws Exception {
            real.flush();
        }

        @Override
        public void bulkLoad(Iterator<Map.Entry<byte[], byte[]>> ascending) throws Exception {
            real.bulkLoad(ascending);
        }

        @Override
        public void close() throws Exception {
            real.close();
        }
    }

    @Test
    void aReadDuringAnOverwriteMayReturnTheOldOrTheNewVersionButNothingElse() {
        Entries entries = new Entries(new Records(16, 100), 3);
        assertThat(entries.isBetween(1, 2, 3, entries.value(1, 2))).isTrue();
        assertThat(entries.isBetween(1, 2, 3, entries.value(1, 3))).isTrue();
        assertThat(entries.isBetween(1, 2, 3, entries.value(1, 1))).as("older than the version before the get").isFalse();
        assertThat(entries.isBetween(1, 2, 3, entries.value(1, 4))).as("never written").isFalse();
        assertThat(entries.isBetween(1, 2, 3, entries.value(2, 2))).as("another key's").isFalse();
        assertThat(entries.isBetween(1, 2, 3, null)).isFalse();
        assertThat(entries.is(1, 2, entries.value(1, 2))).isTrue();
        assertThat(entries.is(1, 2, entries.value(1, 1))).as("an older version").isFalse();
        assertThat(entries.key(0)).isNotEqualTo(entries.key(1));
    }
}
