package dev.toboggan.core.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Who a moved tip wakes: the waiters it satisfied and, if asked, one other to lead the next flush. */
class TipWaitersTest {
    private final TipWaiters waiters = new TipWaiters();
    private final List<Parked> parked = new ArrayList<>();

    /** A thread that registers for {@code lsn}, parks once (for far longer than the test) and reports it woke. */
    private final class Parked {
        final CountDownLatch woke = new CountDownLatch(1);
        final Thread thread;

        Parked(long lsn, boolean stable) throws InterruptedException {
            CountDownLatch registered = new CountDownLatch(1);
            thread = new Thread(() -> {
                TipWaiters.Waiter waiter = waiters.register(lsn, stable);
                registered.countDown();
                waiters.park(TimeUnit.MINUTES.toNanos(5));
                waiters.remove(waiter);
                woke.countDown();
            }, "waiter-" + lsn);
            thread.setDaemon(true);
            thread.start();
            registered.await();
            while (thread.getState() != Thread.State.TIMED_WAITING) {
                Thread.onSpinWait();
            }
            parked.add(this);
        }

        boolean wakes() throws InterruptedException {
            return woke.await(10, TimeUnit.SECONDS);
        }

        boolean stillParked() {
            return woke.getCount() == 1 && thread.getState() == Thread.State.TIMED_WAITING;
        }
    }

    @AfterEach
    void release() throws InterruptedException {
        waiters.wakeAll();
        for (Parked p : parked) {
            p.thread.join(10_000);
        }
    }

    @Test
    void aMovedTipWakesTheWaitersItSatisfiedAndLeavesTheOthersParked() throws InterruptedException {
        StabilityTracker tips = new StabilityTracker(0);
        Parked at10 = new Parked(10, false);
        Parked at20 = new Parked(20, false);
        Parked at30 = new Parked(30, true);

        tips.markDurable(0, 15);
        waiters.wake(tips, false);

        assertThat(at10.wakes()).isTrue();
        assertThat(at20.stillParked()).isTrue();
        assertThat(at30.stillParked()).isTrue();
    }

    @Test
    void aLeaderIsTheFirstWaiterNotSatisfiedAndOnlyThatOne() throws InterruptedException {
        StabilityTracker tips = new StabilityTracker(0);
        Parked at10 = new Parked(10, false);
        Parked at20 = new Parked(20, false);
        Parked at30 = new Parked(30, false);

        waiters.wake(tips, true);

        assertThat(at10.wakes()).isTrue();
        assertThat(at20.stillParked()).isTrue();
        assertThat(at30.stillParked()).isTrue();
    }

    @Test
    void aStableWaiterWaitsForTheStableTipNotTheDurableOne() throws InterruptedException {
        StabilityTracker tips = new StabilityTracker(0);
        tips.openBatch(5); // an open batch holds the stable tip at its manifest, however much is durable
        Parked durable = new Parked(10, false);
        Parked stable = new Parked(11, true);

        tips.markDurable(0, 40);
        waiters.wake(tips, false);

        assertThat(durable.wakes()).isTrue();
        assertThat(stable.stillParked()).isTrue();

        tips.sealBatch(5, 30);
        waiters.wake(tips, false);
        assertThat(stable.wakes()).isTrue();
    }

    @Test
    void theWakingThreadIsNeverItsOwnLeader() throws InterruptedException {
        StabilityTracker tips = new StabilityTracker(0);
        TipWaiters.Waiter own = waiters.register(5, false);
        Parked other = new Parked(10, false);

        waiters.wake(tips, true);

        assertThat(other.wakes()).isTrue();
        waiters.remove(own);
    }
}
