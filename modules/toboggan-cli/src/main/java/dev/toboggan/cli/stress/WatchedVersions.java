package dev.toboggan.cli.stress;

import dev.toboggan.Change;
import dev.toboggan.WatchDelivery;
import dev.toboggan.WatchEvent;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A stress run's watch of every key ({@link WatchDelivery#APPLIED} or {@link WatchDelivery#DURABLE}): from
 * the threads' models when it starts, it applies each event's changes
 * to the version it holds per key. The store's close completes the watch after its last event; then each key's
 * last reported version must be the models' (the store reports a key's changes in the order they were made).
 * Its events arrive on a thread of their own and are not read by anyone until the watch completed.
 */
final class WatchedVersions implements Flow.Subscriber<WatchEvent> {
    /** Events the subscriber may fall behind the writers by before its watch ends (about 20 MiB of events). */
    static final int BUFFER = 1 << 17;

    private final WatchDelivery delivery;
    private final Records records;
    /** Per key index: the version last reported, 0 for none. */
    private final long[] versions;
    private final CompletableFuture<Long> end = new CompletableFuture<>();
    private long events;
    private String foreign;

    /** Starts from the models of {@code workers}, which must not be writing. */
    WatchedVersions(WatchDelivery delivery, Records records, long keySpace, List<StressWorker> workers) {
        this.delivery = delivery;
        this.records = records;
        this.versions = new long[Math.toIntExact(keySpace)];
        int threads = workers.size();
        for (int t = 0; t < threads; t++) {
            StressWorker w = workers.get(t);
            for (int slot = 0; slot < w.ownedKeys(); slot++) {
                versions[slot * threads + t] = w.versionAt(slot);
            }
        }
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
        subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(WatchEvent event) {
        events++;
        for (Change change : event.changes()) {
            long index = records.indexOf(change.key());
            long version = change.isRemoval() ? 0 : index < 0 ? -1 : records.versionOf(index, change.value());
            if (index < 0 || index >= versions.length || version < 0) {
                if (foreign == null) {
                    foreign = "a change of a key or to a value no thread writes (event " + events + ")";
                }
                continue;
            }
            versions[(int) index] = version;
        }
    }

    @Override
    public void onError(Throwable error) {
        end.completeExceptionally(error);
    }

    @Override
    public void onComplete() {
        end.complete(events);
    }

    /**
     * Waits for the watch to complete (the store closed) and compares each key's last reported version with
     * the models'; what differs goes to {@code failures}.
     *
     * @return a line saying what was checked, or why the watch ended early
     */
    String check(List<StressWorker> workers, Failures failures) throws InterruptedException {
        long delivered;
        try {
            delivered = end.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            return "the " + name() + " ended early, not checked: " + e.getCause().getMessage();
        } catch (TimeoutException e) {
            failures.wrong("the " + name() + " did not complete within 60 s of the close");
            return "the " + name() + " did not complete";
        }
        if (foreign != null) {
            failures.wrong(name() + ": " + foreign);
        }
        int threads = workers.size();
        for (int index = 0; index < versions.length; index++) {
            long want = workers.get(index % threads).versionAt(index / threads);
            if (versions[index] != want) {
                failures.wrong(name() + ": key " + index + " last reported " + (versions[index] == 0 ? "absent"
                        : "at version " + versions[index]) + ", expected " + (want == 0 ? "absent" : "version " + want));
            }
        }
        return String.format("%s: %,d events, each key's last one its final version", name(), delivered);
    }

    private String name() {
        return "watch of every key, " + delivery.name().toLowerCase(java.util.Locale.ROOT);
    }
}
