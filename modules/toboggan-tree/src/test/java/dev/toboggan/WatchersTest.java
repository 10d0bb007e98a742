package dev.toboggan;

import static dev.toboggan.TestKeys.utf8;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A durable watch's gate, step by step, on a log whose positions the test moves: an event waits for the stable
 * tip to pass its mark, the watch asks for that once per mark, a close sends what became durable before it, and
 * a writer that outruns the disk is held until its change is durable.
 */
@Timeout(30)
class WatchersTest {
    /** A log the test moves by hand; requests to make it stable are kept for the test to complete. */
    private static final class HandLog implements Watchers.Stability {
        volatile long reserved;
        volatile long stable;
        final List<Long> asked = new ArrayList<>();
        final List<CompletableFuture<Long>> requests = new ArrayList<>();
        final List<Long> held = new ArrayList<>();

        @Override
        public long reservedTip() {
            return reserved;
        }

        @Override
        public long stableTip() {
            return stable;
        }

        @Override
        public synchronized CompletionStage<Long> stableAsync(long lsn) {
            asked.add(lsn);
            CompletableFuture<Long> request = new CompletableFuture<>();
            requests.add(request);
            return request;
        }

        /** A writer held for the disk: the test's log flushes at once, past {@code lsn}. */
        @Override
        public synchronized void awaitStable(long lsn) {
            held.add(lsn);
            stable = Math.max(stable, lsn + 1);
        }
    }

    private final HandLog log = new HandLog();
    private final Watchers.Counters counters = new Watchers.Counters();
    private final Watchers watchers = new Watchers("t", counters, log);
    private final WatchTest.Recorder recorder = new WatchTest.Recorder();

    /** A change of {@code key} to {@code value}, made when the log has reserved up to {@code reservedAfter}. */
    private void change(String key, String value, long reservedAfter) {
        Watchers.Slots slots = watchers.reserve(utf8(key));
        log.reserved = reservedAfter;
        slots.fill(new WatchEvent("t", List.of(new Change(utf8(key), utf8(value)))));
    }

    @Test
    void anEventWaitsForTheStableTipToPassItsMarkAndACloseSendsWhatBecameStable() throws Exception {
        watchers.publisher(new byte[0], true, Runnable::run, 16, Runnable::run).subscribe(recorder);
        change("a", "1", 10);
        change("b", "2", 12);
        assertThat(recorder.events).as("nothing stable yet").isEmpty();
        assertThat(log.asked).as("one request, for the head's mark").containsExactly(10L);

        log.stable = 11;
        log.requests.get(0).complete(11L);
        assertThat(recorder.events).extracting(WatchTest::show).containsExactly("a=1");
        assertThat(log.asked).as("then one for the next head's").containsExactly(10L, 12L);

        log.stable = 13; // a close's flush: the request is still out
        watchers.endAll(null);
        assertThat(recorder.end).succeedsWithin(5, TimeUnit.SECONDS);
        assertThat(recorder.events).extracting(WatchTest::show).containsExactly("a=1", "b=2");
    }

    @Test
    void anAppliedWatchBesideADurableOneDoesNotWait() throws Exception {
        WatchTest.Recorder applied = new WatchTest.Recorder();
        watchers.publisher(new byte[0], true, Runnable::run, 16, Runnable::run).subscribe(recorder);
        watchers.publisher(new byte[0], false, Runnable::run, 16, Runnable::run).subscribe(applied);
        change("a", "1", 10);
        assertThat(applied.events).extracting(WatchTest::show).containsExactly("a=1");
        assertThat(recorder.events).isEmpty();
        log.requests.get(0).completeExceptionally(new IllegalStateException("the store failed"));
        assertThat(recorder.end).failsWithin(5, TimeUnit.SECONDS).withThrowableOfType(Exception.class)
                .havingRootCause().withMessage("the store failed");
        assertThat(watchers.size()).as("the failed watch is gone, the applied one stays").isEqualTo(1);
    }

    @Test
    void aWriterOutrunningTheDiskWaitsForItInsteadOfEndingTheWatch() {
        watchers.publisher(new byte[0], true, Runnable::run, 16, Runnable::run).subscribe(recorder);
        int half = 8; // of the buffer: a writer is held once more slots than that wait for the disk
        int writes = 5 * Watchers.MIN_WAITING_SLOTS; // five times as many as the queue holds
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < writes; i++) {
            change("k" + i, "v" + i, 10 + 2L * i); // no request of the watch's completes: only held writers flush
            expected.add("k" + i + "=v" + i);
        }
        assertThat(recorder.end).as("the watch goes on").isNotDone();
        assertThat(log.held).as("a writer held each time %d slots waited for the disk", half + 1)
                .hasSize(writes / (half + 1));
        assertThat(log.held.get(0)).as("the first, at the mark of the slot past the half").isEqualTo(10 + 2L * half);
        assertThat(recorder.events).extracting(WatchTest::show)
                .containsExactlyElementsOf(expected.subList(0, writes - writes % (half + 1)));
        assertThat(counters.snapshot(1).writersHeld()).isEqualTo(log.held.size());
        assertThat(counters.snapshot(1).overflowed()).isZero();
    }

    @Test
    void aWatchThatEndedHoldsNoWriterWhoseSlotItTookBefore() {
        watchers.publisher(new byte[0], true, Runnable::run, 16, Runnable::run).subscribe(recorder);
        List<Watchers.Slots> taken = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            taken.add(watchers.reserve(utf8("k" + i))); // more than half the buffer, none filled yet
        }
        watchers.endAll(new IllegalStateException("the tree was dropped"));
        log.reserved = 100;
        for (Watchers.Slots slots : taken) {
            slots.fill(new WatchEvent("t", List.of(new Change(utf8("k"), utf8("v")))));
        }
        assertThat(recorder.end).isCompletedExceptionally();
        assertThat(log.held).as("nobody waits for the disk for a watch that ended").isEmpty();
        assertThat(counters.snapshot(0).writersHeld()).isZero();
    }
}
