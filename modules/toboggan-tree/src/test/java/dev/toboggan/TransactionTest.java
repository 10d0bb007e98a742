package dev.toboggan;

import static dev.toboggan.TestKeys.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.io.SimulatedStorage;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link Db#transaction}: reads checked at commit, writes made together, conflicts run again, aborts write nothing. */
@Timeout(60)
class TransactionTest {
    private final Store db = PageCacheBackend.openSmall(new SimulatedStorage());

    @AfterEach
    void close() {
        db.close();
    }

    private static String text(byte[] value) {
        return value == null ? null : new String(value, StandardCharsets.UTF_8);
    }

    private static long number(byte[] value) {
        return value == null ? 0 : Long.parseLong(text(value));
    }

    private static byte[] number(long n) {
        return utf8(Long.toString(n));
    }

    /** Another thread's call, waited for (a body may not call the store itself, but another thread may). */
    private static <T> T elsewhere(java.util.function.Supplier<T> call) throws Exception {
        return CompletableFuture.supplyAsync(call).get(10, TimeUnit.SECONDS);
    }

    @Test
    void aTransactionReadsItsOwnWritesAndMakesThemAllAtCommitAcrossTrees() throws Exception {
        db.tree("accounts").insert(utf8("alice"), number(100));
        db.tree("accounts").insert(utf8("bob"), number(5));
        String result = db.transaction(tx -> {
            TransactionalTree accounts = tx.tree("accounts");
            long alice = number(accounts.get(utf8("alice")));
            assertThat(number(accounts.insert(utf8("alice"), number(alice - 30)))).isEqualTo(100);
            accounts.insert(utf8("bob"), number(number(accounts.get(utf8("bob"))) + 30));
            assertThat(number(accounts.get(utf8("alice")))).as("its own write").isEqualTo(70);
            tx.tree("log").insert(utf8("1"), utf8("alice->bob 30"));
            tx.insert(utf8("last"), utf8("1"));
            assertThat(tx.remove(utf8("last"))).isEqualTo(utf8("1"));
            assertThat(tx.containsKey(utf8("last"))).isFalse();
            tx.tree("log").applyBatch(new Batch().insert(utf8("2"), utf8("x")).remove(utf8("2")).insert(utf8("3"), utf8("y")));
            try {
                assertThat(elsewhere(() -> db.tree("accounts").get(utf8("alice")))).as("nothing written before the commit")
                        .isEqualTo(number(100));
                assertThat(elsewhere(() -> db.treeNames())).doesNotContain("log");
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            return "moved " + (alice - number(accounts.get(utf8("alice"))));
        });
        assertThat(result).isEqualTo("moved 30");
        assertThat(number(db.tree("accounts").get(utf8("alice")))).isEqualTo(70);
        assertThat(number(db.tree("accounts").get(utf8("bob")))).isEqualTo(35);
        assertThat(TestKeys.drain(db.tree("log").iterator())).containsExactly("31=" + TestKeys.hex(utf8("alice->bob 30")), "33=79");
        assertThat(db.get(utf8("last"))).isNull();
    }

    @Test
    void aBodyThatThrowsWritesNothingAndItsExceptionReachesTheCaller() {
        db.insert(utf8("k"), utf8("before"));
        IllegalStateException thrown = new IllegalStateException("not enough funds");
        assertThatThrownBy(() -> db.transaction(tx -> {
            tx.insert(utf8("k"), utf8("after"));
            tx.tree("new").insert(utf8("x"), utf8("y"));
            throw thrown;
        })).isSameAs(thrown);
        assertThat(db.get(utf8("k"))).isEqualTo(utf8("before"));
        assertThat(db.treeNames()).doesNotContain("new");
        assertThatThrownBy(() -> db.transaction(tx -> tx.insert(null, utf8("v")))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("key is null");
        assertThatThrownBy(() -> db.transaction(null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("body is null");
        assertThat(TestKeys.drain(db.iterator())).containsExactly("6b=" + TestKeys.hex(utf8("before")));
    }

    @Test
    void aReadChangedBeforeTheCommitRunsTheBodyAgain() {
        db.insert(utf8("counter"), number(0));
        AtomicInteger runs = new AtomicInteger();
        long seen = db.transaction(tx -> {
            long n = number(tx.get(utf8("counter")));
            if (runs.incrementAndGet() == 1) {
                changeElsewhere(() -> db.insert(utf8("counter"), number(41)));
            }
            tx.insert(utf8("counter"), number(n + 1));
            return n;
        });
        assertThat(runs.get()).isEqualTo(2);
        assertThat(seen).isEqualTo(41);
        assertThat(number(db.get(utf8("counter")))).isEqualTo(42);
    }

    /**
     * A body that read one key before a concurrent batch and another after it saw a state that never was, and
     * throws on it: that exception must not reach the caller (nothing it saw held together); the body runs again.
     */
    @Test
    void anExceptionFromAViewThatNeverWasIsDroppedAndTheBodyRunsAgain() {
        db.applyBatch(new Batch().insert(utf8("a"), number(50)).insert(utf8("b"), number(50)));
        AtomicInteger runs = new AtomicInteger();
        long total = db.transaction(tx -> {
            long a = number(tx.get(utf8("a")));
            if (runs.incrementAndGet() == 1) {
                changeElsewhere(() -> db.applyBatch(new Batch().insert(utf8("a"), number(10)).insert(utf8("b"), number(90))));
            }
            long b = number(tx.get(utf8("b")));
            if (a + b != 100) {
                throw new IllegalStateException("the invariant is broken: " + a + " + " + b);
            }
            return a + b;
        });
        assertThat(runs.get()).isEqualTo(2);
        assertThat(total).isEqualTo(100);
    }

    /** Runs {@code change} on another thread and waits for it: a concurrent writer between two reads of a body. */
    private void changeElsewhere(Runnable change) {
        try {
            elsewhere(() -> {
                change.run();
                return null;
            });
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /**
     * A body sees each key one way: a point read of a key inside a span a range read of the run covered gives
     * what the range gave (present or absent), even though another caller changed the key in between; the run
     * then conflicts at its commit and the body runs again on the new state.
     */
    @Test
    void aPointReadInsideARangeReadsSpanGivesWhatTheRangeGave() {
        db.insert(utf8("b"), number(1));
        AtomicInteger runs = new AtomicInteger();
        List<String> seen = new ArrayList<>();
        db.transaction(tx -> {
            List<java.util.Map.Entry<byte[], byte[]>> range = tx.range(utf8("a"), utf8("z"), 10);
            if (runs.incrementAndGet() == 1) {
                changeElsewhere(() -> {
                    db.insert(utf8("b"), number(2));
                    db.insert(utf8("c"), number(3));
                });
            }
            seen.add(range.size() + " " + number(tx.get(utf8("b"))) + " " + tx.containsKey(utf8("c")));
            return null;
        });
        assertThat(runs.get()).isEqualTo(2);
        assertThat(seen).containsExactly("1 1 false", "2 2 true");
    }

    /**
     * A range read that would show a key otherwise than an earlier read of the run (a point read, or an
     * overlapping range) ends the run at once, before the body goes on with both; a body that catches that
     * and returns still does not commit its run.
     */
    @Test
    void aRangeReadThatDisagreesWithAnEarlierReadEndsTheRunAtOnce() {
        db.insert(utf8("b"), number(1));
        AtomicInteger runs = new AtomicInteger();
        AtomicInteger wentOn = new AtomicInteger();
        long b = db.transaction(tx -> {
            long first = number(tx.get(utf8("b")));
            if (runs.incrementAndGet() == 1) {
                changeElsewhere(() -> db.insert(utf8("b"), number(2)));
            }
            List<java.util.Map.Entry<byte[], byte[]>> range = tx.range(utf8("a"), utf8("z"), 10);
            wentOn.incrementAndGet();
            assertThat(number(range.get(0).getValue())).isEqualTo(first);
            return first;
        });
        assertThat(b).isEqualTo(2);
        assertThat(runs.get()).isEqualTo(2);
        assertThat(wentOn.get()).as("the first run ended at its range read").isEqualTo(1);

        AtomicInteger overlapping = new AtomicInteger();
        String result = db.transaction(tx -> {
            tx.range(utf8("a"), utf8("m"), 10);
            if (overlapping.incrementAndGet() == 1) {
                changeElsewhere(() -> db.insert(utf8("c"), number(3))); // a key appears in the first span
                try {
                    tx.range(utf8("b"), utf8("z"), 10);
                } catch (TransactionReadsDisagreeException disagreed) {
                    assertThat(disagreed).hasMessageContaining("read tree '" + Db.DEFAULT_TREE + "' two ways");
                }
                assertThatThrownBy(() -> tx.get(utf8("x"))).as("every read after it")
                        .isInstanceOf(TransactionReadsDisagreeException.class);
                tx.insert(utf8("from the first run"), number(1));
                return "first";
            }
            return "run " + overlapping.get();
        });
        assertThat(result).isEqualTo("run 2");
        assertThat(db.get(utf8("from the first run"))).as("the run whose reads disagreed wrote nothing").isNull();
    }

    /**
     * A body that conflicts every time it runs optimistically: after {@link StoreTransaction#OPTIMISTIC_RUNS}
     * runs it runs alone, holding other writers back until it commits, so it cannot starve. The writer it starts
     * in that last run cannot get in until the commit; a reader can.
     */
    @Test
    void aTransactionThatKeepsConflictingRunsAloneAndCommits() throws Exception {
        db.insert(utf8("hot"), number(0));
        AtomicInteger runs = new AtomicInteger();
        List<CompletableFuture<byte[]>> writers = new ArrayList<>();
        AtomicReference<Boolean> lastWriterWaited = new AtomicReference<>();
        AtomicReference<byte[]> readWhileAlone = new AtomicReference<>();
        long seen = db.transaction(tx -> {
            long n = number(tx.get(utf8("hot")));
            int run = runs.incrementAndGet();
            CompletableFuture<byte[]> writer = CompletableFuture.supplyAsync(() -> db.insert(utf8("hot"), number(2000 + run)));
            writers.add(writer);
            try {
                writer.get(run <= StoreTransaction.OPTIMISTIC_RUNS ? 10_000 : 300, TimeUnit.MILLISECONDS);
                lastWriterWaited.set(false);
            } catch (TimeoutException e) {
                lastWriterWaited.set(true);
                // readers go on while the body runs alone: this one returns the value before the transaction
                try {
                    readWhileAlone.set(elsewhere(() -> db.get(utf8("hot"))));
                } catch (Exception readFailed) {
                    throw new AssertionError(readFailed);
                }
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            tx.insert(utf8("hot"), number(n + 100));
            return n;
        });
        assertThat(runs.get()).isEqualTo(StoreTransaction.OPTIMISTIC_RUNS + 1);
        assertThat(db.metrics().transactions())
                .isEqualTo(new StoreMetrics.Transactions(1, 0, StoreTransaction.OPTIMISTIC_RUNS, 1));
        assertThat(lastWriterWaited.get()).as("a writer waits while the body runs alone").isTrue();
        assertThat(seen).isEqualTo(2000 + StoreTransaction.OPTIMISTIC_RUNS);
        assertThat(number(readWhileAlone.get())).as("a get made while the body ran alone").isEqualTo(seen);
        // the last writer got in after the commit: its insert returns the transaction's value, then wins
        assertThat(number(writers.get(writers.size() - 1).get(10, TimeUnit.SECONDS))).isEqualTo(seen + 100);
        assertThat(number(db.get(utf8("hot")))).isEqualTo(2000 + StoreTransaction.OPTIMISTIC_RUNS + 1);
    }

    private static List<String> show(List<java.util.Map.Entry<byte[], byte[]>> entries) {
        return entries.stream().map(e -> text(e.getKey()) + "=" + text(e.getValue())).toList();
    }

    @Test
    void rangeReadsMergeTheTransactionsOwnWritesAscendingAndDescending() {
        for (String k : List.of("a", "b", "c", "d", "e")) {
            db.insert(utf8(k), utf8(k.toUpperCase()));
        }
        List<List<String>> seen = db.transaction(tx -> {
            tx.remove(utf8("b"));
            tx.insert(utf8("bb"), utf8("new"));
            tx.insert(utf8("d"), utf8("D2"));
            tx.insert(utf8("z"), utf8("outside"));
            return List.of(
                    show(tx.range(utf8("a"), utf8("e"), 10)),
                    show(tx.range(null, null, 3)),
                    show(tx.rangeReverse(utf8("b"), null, 3)),
                    show(tx.rangeReverse(null, utf8("bb"), 10)),
                    List.of(text(tx.first().getKey()), text(tx.last().getKey())),
                    show(tx.scanPrefix(utf8("b"), 5)));
        });
        assertThat(seen).containsExactly(
                List.of("a=A", "bb=new", "c=C", "d=D2"),
                List.of("a=A", "bb=new", "c=C"),
                List.of("z=outside", "e=E", "d=D2"),
                List.of("a=A"),
                List.of("a", "z"),
                List.of("bb=new"));
        List<java.util.Map.Entry<byte[], byte[]>> missing = db.transaction(tx -> tx.tree("missing").range(null, null, 5));
        assertThat(missing).isEmpty();
        assertThatThrownBy(() -> db.transaction(tx -> tx.range(utf8("b"), utf8("a"), 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("starts after it ends");
        assertThatThrownBy(() -> db.transaction(tx -> tx.range(null, null, 0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("limit is 0");
    }

    /**
     * A key inserted into the span a range read covered is a conflict (no phantoms); one past where a read
     * cut short by its limit stopped is not.
     */
    @Test
    void aKeyInsertedIntoARangeReadConflictsAndOnePastItsLimitDoesNot() {
        db.insert(utf8("room/1"), utf8("taken"));
        db.insert(utf8("room/5"), utf8("taken"));
        AtomicInteger runs = new AtomicInteger();
        int seen = db.transaction(tx -> {
            List<java.util.Map.Entry<byte[], byte[]>> bookings = tx.range(utf8("room/"), utf8("room0"), 10);
            if (runs.incrementAndGet() == 1) {
                try {
                    elsewhere(() -> db.insert(utf8("room/3"), utf8("taken")));
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
            tx.insert(utf8("count"), number(bookings.size()));
            return bookings.size();
        });
        assertThat(runs.get()).as("the phantom made the body run again").isEqualTo(2);
        assertThat(seen).isEqualTo(3);

        runs.set(0);
        db.transaction(tx -> {
            List<java.util.Map.Entry<byte[], byte[]>> firstTwo = tx.range(utf8("room/"), utf8("room0"), 2);
            if (runs.incrementAndGet() == 1) {
                try {
                    elsewhere(() -> db.insert(utf8("room/9"), utf8("taken"))); // past room/3, where the read stopped
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
            tx.insert(utf8("first two"), utf8(show(firstTwo).toString()));
            return null;
        });
        assertThat(runs.get()).as("a key past the read's span is no conflict").isEqualTo(1);
        assertThat(text(db.get(utf8("first two")))).isEqualTo("[room/1=taken, room/3=taken]");
    }

    /**
     * The neighbour lookups in a transaction see its own writes, and a key inserted between the probe and the
     * neighbour found is a conflict: "the next free slot after 10" booked twice would be a lost update.
     */
    @Test
    void neighbourLookupsSeeTheTransactionsWritesAndConflictWithAKeyInsertedBetween() {
        db.insert(utf8("slot/10"), utf8("x"));
        db.insert(utf8("slot/40"), utf8("x"));
        assertThatThrownBy(() -> db.transaction(tx -> {
            tx.insert(utf8("slot/20"), utf8("mine"));
            tx.remove(utf8("slot/40"));
            assertThat(text(tx.higherEntry(utf8("slot/10")).getKey())).isEqualTo("slot/20");
            assertThat(text(tx.ceilingEntry(utf8("slot/10")).getKey())).isEqualTo("slot/10");
            assertThat(text(tx.lowerEntry(utf8("slot/20")).getKey())).isEqualTo("slot/10");
            assertThat(text(tx.floorEntry(utf8("slot/20")).getKey())).isEqualTo("slot/20");
            assertThat(tx.higherEntry(utf8("slot/20"))).as("slot/40, removed by the transaction").isNull();
            assertThat(tx.lowerEntry(utf8("slot/10"))).isNull();
            throw new IllegalStateException("abort");
        })).hasMessage("abort"); // nothing written
        AtomicInteger runs = new AtomicInteger();
        String next = db.transaction(tx -> {
            java.util.Map.Entry<byte[], byte[]> after = tx.higherEntry(utf8("slot/10"));
            if (runs.incrementAndGet() == 1) {
                try {
                    elsewhere(() -> db.insert(utf8("slot/30"), utf8("x"))); // between slot/10 and slot/40
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
            tx.insert(utf8("next"), after.getKey());
            return text(after.getKey());
        });
        assertThat(runs.get()).as("the key inserted between made the body run again").isEqualTo(2);
        assertThat(next).isEqualTo("slot/30");
        assertThatThrownBy(() -> db.transaction(tx -> tx.floorEntry(null))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void metricsCountTransactionsBatchesAndStructureChanges() throws Exception {
        StoreMetrics before = db.metrics();
        db.applyBatch(new Batch().insert(utf8("a"), utf8("1")).insert(utf8("b"), utf8("2")));
        AtomicInteger runs = new AtomicInteger();
        db.transaction(tx -> {
            tx.insert(utf8("a"), utf8(text(tx.get(utf8("a"))) + "!"));
            if (runs.incrementAndGet() == 1) {
                try {
                    elsewhere(() -> db.insert(utf8("a"), utf8("3")));
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
            return null;
        });
        assertThatThrownBy(() -> db.transaction(tx -> {
            tx.get(utf8("a"));
            tx.get(utf8("b"));
            throw new IllegalStateException("abort");
        })).hasMessage("abort");
        db.tree("t").insert(utf8("k"), utf8("v"));
        db.dropTree("t");
        StoreMetrics after = db.metrics();
        assertThat(after.transactions()).isEqualTo(new StoreMetrics.Transactions(1, 1, 1, 0));
        assertThat(after.concurrency().batches() - before.concurrency().batches())
                .as("the batch and the transaction's commit").isEqualTo(2);
        assertThat(after.concurrency().structureChanges() - before.concurrency().structureChanges())
                .as("the drop").isEqualTo(1);
        assertThat(after.sizeOnDisk()).isPositive();
        assertThat(after.cache().capacity()).isPositive();
        assertThat(after.pageCache().get(dev.toboggan.core.pagecache.PageCacheMetrics.Op.LINK).count())
                .as("links counted").isGreaterThan(before.pageCache().get(dev.toboggan.core.pagecache.PageCacheMetrics.Op.LINK).count());
    }

    @Test
    void callsOnTheStoreInsideABodyAreRefusedAndTheTransactionObjectOnlyWorksInItsBody() throws Exception {
        Tree other = db.tree("other");
        List<String> refused = new ArrayList<>();
        AtomicReference<Transaction> escaped = new AtomicReference<>();
        db.transaction(tx -> {
            escaped.set(tx);
            List<Runnable> calls = List.of(
                    () -> db.insert(utf8("k"), utf8("v")),
                    () -> db.get(utf8("k")),
                    () -> other.get(utf8("k")),
                    () -> db.tree("x"),
                    () -> db.flush(),
                    () -> db.transaction(inner -> null),
                    () -> db.close());
            for (Runnable call : calls) {
                try {
                    call.run();
                } catch (IllegalStateException e) {
                    refused.add(e.getMessage());
                }
            }
            try {
                assertThat(elsewhere(() -> {
                    try {
                        return tx.get(utf8("k"));
                    } catch (IllegalStateException e) {
                        return utf8(e.getMessage());
                    }
                })).asString(StandardCharsets.UTF_8).contains("use it only on the thread that runs its body");
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            tx.insert(utf8("k"), utf8("from the transaction"));
            return null;
        });
        assertThat(refused).hasSize(7).allSatisfy(m -> assertThat(m).contains("inside a transaction's body"));
        assertThatThrownBy(() -> escaped.get().get(utf8("k"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("after its body returned");
        assertThat(db.get(utf8("k"))).isEqualTo(utf8("from the transaction"));
        db.insert(utf8("k"), utf8("after"));
        assertThat(db.get(utf8("k"))).isEqualTo(utf8("after"));
    }

    @Test
    void readsOfAMissingTreeCreateNothingAndATreeDroppedUnderAReadConflicts() throws Exception {
        byte[] ghost = db.transaction(tx -> tx.tree("ghost").get(utf8("k")));
        assertThat(ghost).isNull();
        assertThat(db.treeNames()).doesNotContain("ghost");

        db.tree("t").insert(utf8("k"), utf8("old tree"));
        AtomicInteger runs = new AtomicInteger();
        String seen = db.transaction(tx -> {
            byte[] value = tx.tree("t").get(utf8("k"));
            if (runs.incrementAndGet() == 1) {
                try {
                    elsewhere(() -> db.dropTree("t"));
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
            tx.tree("t").insert(utf8("seen"), value == null ? utf8("nothing") : value);
            return text(value);
        });
        assertThat(runs.get()).isEqualTo(2);
        assertThat(seen).isNull();
        assertThat(TestKeys.drain(db.tree("t").iterator())).containsExactly("7365656e=" + TestKeys.hex(utf8("nothing")));
    }

    /**
     * Two transactions over two trees, the second one's writes on their way to the disk when the power goes
     * (its full IO buffers written, and for odd seeds a flush started, not waited for; each unforced write
     * lands, tears or is lost as the seed draws): the store recovers the second one whole or not at all.
     */
    @Test
    void aCommittedTransactionSurvivesACrashWholeOrNotAtAll() {
        int whole = 0;
        for (long seed = 1; seed <= 12; seed++) {
            SimulatedStorage disk = new SimulatedStorage();
            Store store = PageCacheBackend.openSmall(disk);
            store.transaction(tx -> {
                for (int i = 0; i < 200; i++) {
                    tx.tree("a").insert(utf8("k" + i), new byte[300]);
                    tx.tree("b").insert(utf8("k" + i), utf8("v" + i));
                }
                return null;
            });
            store.flush();
            store.transaction(tx -> {
                for (int i = 0; i < 200; i++) {
                    tx.tree("a").remove(utf8("k" + i));
                    tx.tree("b").insert(utf8("k" + i), utf8("w" + i));
                }
                return null;
            });
            if (seed % 2 == 1) {
                store.flushAsync();
            }
            disk.powerLoss(new java.util.SplittableRandom(seed));
            store.abandon();
            store = PageCacheBackend.openSmall(disk);
            try {
                boolean second = store.tree("a").isEmpty();
                whole += second ? 1 : 0;
                assertThat(store.tree("a").size()).as("seed %d", seed).isEqualTo(second ? 0 : 200);
                assertThat(store.tree("b").size()).as("seed %d", seed).isEqualTo(200);
                for (int i = 0; i < 200; i++) {
                    assertThat(text(store.tree("b").get(utf8("k" + i)))).as("seed %d", seed)
                            .isEqualTo((second ? "w" : "v") + i);
                }
            } finally {
                store.close();
            }
        }
        // without the flush the seal is never written (the writes before it may be, whole or torn)
        assertThat(whole).as("crashes that kept the second transaction").isBetween(1, 6);
    }
}
