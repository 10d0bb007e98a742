package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.toboggan.core.io.SimulatedStorage;
import dev.toboggan.core.log.LogConfig;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The writers' backpressure: no delay within the soft limit, a delay growing with the overshoot up to the
 * hard limit, held only past it and released when the limits are lifted. No timing is asserted: which path
 * a change took is read from the gate's counters.
 */
class SpaceGateTest {
    private final PageCache<List<Integer>, Integer> pc = Stores.open(new SimulatedStorage(),
            PageCacheConfig.of(LogConfig.defaults(Stores.DIR).withSegmentSize(4096).withIoBuffers(4)
                    .withFlushEvery(Duration.ZERO)));
    private final SpaceGate gate = pc.cleaning().gate;

    @AfterEach
    void tearDown() {
        pc.close();
    }

    @Test
    void noDelayWithinTheSoftLimitThenADelayGrowingWithTheOvershootUpToTheHardLimit() {
        int soft = 20;
        int hard = 26;
        for (int inUse = 0; inUse <= soft; inUse++) {
            assertThat(SpaceGate.delayNanos(inUse, soft, hard)).as("%d in use", inUse).isZero();
        }
        long previous = 0;
        for (int inUse = soft + 1; inUse <= hard; inUse++) {
            long delay = SpaceGate.delayNanos(inUse, soft, hard);
            assertThat(delay).as("%d in use", inUse).isGreaterThan(previous)
                    .isLessThanOrEqualTo(SpaceGate.MAX_DELAY_NANOS);
            previous = delay;
        }
        assertThat(previous).as("at the hard limit").isEqualTo(SpaceGate.MAX_DELAY_NANOS);
        assertThat(SpaceGate.delayNanos(hard + 1, soft, hard)).as("over the hard limit: held").isNegative();
        assertThat(SpaceGate.delayNanos(1_000, Integer.MAX_VALUE, Integer.MAX_VALUE)).as("no limits").isZero();
        assertThat(SpaceGate.delayNanos(11, 10, 10)).as("soft = hard: held past it").isNegative();
    }

    @Test
    void aChangeOverTheSoftLimitIsDelayedNotHeld() {
        int inUse = pc.log().segmentsInUse();
        assertThat(inUse).isPositive();
        gate.limits(inUse - 1, inUse + 5);
        assertThat(gate.throttled()).isTrue();
        gate.awaitRoom(() -> { });
        assertThat(gate.delayedWrites.sum()).isOne();
        assertThat(gate.heldWrites.sum()).isZero();
        gate.lift();
        assertThat(gate.throttled()).isFalse();
    }

    @Test
    void aChangeOverTheHardLimitIsHeldUntilTheLimitsAreLifted() throws InterruptedException {
        int inUse = pc.log().segmentsInUse();
        gate.limits(inUse - 1, inUse - 1);
        Thread writer = new Thread(() -> gate.awaitRoom(() -> { }));
        writer.start();
        while (gate.heldWrites.sum() == 0) {
            Thread.onSpinWait();
        }
        writer.join(50);
        assertThat(writer.isAlive()).as("held while over the hard limit").isTrue();
        gate.lift();
        writer.join();
        assertThat(gate.delayedWrites.sum()).isZero();
    }

    @Test
    void aHeldChangeFailsWhenTheStoreDoes() throws InterruptedException {
        int inUse = pc.log().segmentsInUse();
        gate.limits(inUse - 1, inUse - 1);
        assertThatThrownBy(() -> gate.awaitRoom(() -> {
            throw new IllegalStateException("the store failed");
        })).hasMessage("the store failed");
        gate.lift();
    }

    /**
     * Empty segments the cleaner keeps for a backup that has yet to copy them do not count against writers:
     * a backup holds them for the seconds it copies, and would otherwise stall writers for all of it.
     */
    @Test
    void emptySegmentsKeptForABackupDoNotCountAgainstWriters() {
        long pid = pc.allocate(List.of(0)).pid();
        for (int i = 1; i < 3000; i++) { // every version replaces the last: all but the newest segments die
            assertThat(pc.replace(pid, pc.get(pid), List.of(i, i, i, i)).succeeded()).isTrue();
        }
        pc.flush();
        try (var copy = pc.log().listForCopy()) {
            pc.cleaning().pass(new SegmentCleaning.Policy(1.0, 1.01), false);
            int kept = pc.log().segmentsKeptForCopies();
            assertThat(kept).as("empty segments the copy had yet to read").isPositive();
            int inUse = pc.log().segmentsInUse();
            gate.limits(inUse - kept, inUse - kept);
            assertThat(gate.throttled()).as("within the limits once the kept segments are left out").isFalse();
            gate.awaitRoom(() -> { });
            gate.limits(inUse - kept - 1, inUse - kept - 1);
            assertThat(gate.throttled()).as("over them by one segment of its own").isTrue();
            gate.lift();
            assertThat(gate.delayedWrites.sum() + gate.heldWrites.sum()).isZero();
        }
        pc.cleaning().pass(new SegmentCleaning.Policy(1.0, 1.01), false);
        assertThat(pc.log().segmentsKeptForCopies()).as("freed once the copy is done").isZero();
    }

    @Test
    void aHardLimitUnderTheSoftOneIsRefused() {
        assertThatThrownBy(() -> gate.limits(10, 9)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("hard limit 9 under soft limit 10");
    }
}
