package dev.toboggan;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads of {@link Tree#defaultWatchExecutor()} on a machine whose common pool has a single thread:
 * created as deliveries need them, reused, gone after a minute idle; daemons, so a watch never keeps a JVM
 * from exiting.
 */
final class WatchDeliveryThreads {
    static final ExecutorService POOL = Executors.newCachedThreadPool(new Namer());

    private WatchDeliveryThreads() {}

    private static final class Namer implements java.util.concurrent.ThreadFactory {
        private final AtomicInteger created = new AtomicInteger();

        @Override
        public Thread newThread(Runnable task) {
            Thread thread = new Thread(task, "toboggan-watch-delivery-" + created.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        }
    }
}
