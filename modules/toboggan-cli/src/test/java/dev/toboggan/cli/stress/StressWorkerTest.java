package dev.toboggan.cli.stress;

import static org.assertj.core.api.Assertions.assertThat;

import dev.toboggan.Db;
import dev.toboggan.Snapshot;
import dev.toboggan.Toboggan;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Recorder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link StressWorker}'s checks, which are what {@code toboggan stress} is for: against the store as it is, every
 * operation of the mix reads back right; against a store broken in one way (a snapshot that reads the live
 * tree, an insert that is lost, a scan that skips an entry), that operation's check reports it.
 */
class StressWorkerTest {
    private static final int THREADS = 2;
    private static final int CALLS = 20_000;

    @TempDir
    Path tmp;

    @Test
    void theStoreAsItIsReadsBackRightUnderEveryOperation() throws Exception {
        Failures failures = run("get=6,insert=6,remove=2,cas=3,scan=2,batch=1,tx=1,snapshot=2", db -> db);
        assertThat(failures.first()).isEmpty();
    }

    @ParameterizedTest
    @CsvSource({"get, a snapshot's get", "range, a snapshot's scan"})
    void aSnapshotThatReadsTheLiveTreeIsReported(String read, String check) throws Exception {
        Failures failures = run("insert=6,remove=2,snapshot=3", db -> broken(db, (method, args, real) -> {
            if (!method.getName().equals("snapshot")) {
                return real.get();
            }
            Snapshot snapshot = (Snapshot) real.get();
            return proxy(Snapshot.class, snapshot, (m, a, r) -> m.getName().equals(read) ? call(m, db, a) : r.get());
        }));
        assertThat(failures.wrongCount()).isPositive();
        assertThat(failures.first()).allMatch(line -> line.contains(check));
    }

    @Test
    void anInsertThatIsLostIsReported() throws Exception {
        AtomicLong inserts = new AtomicLong();
        Failures failures = run("get=4,insert=6", db -> broken(db, (method, args, real) -> {
            if (method.getName().equals("insert") && inserts.incrementAndGet() % 50 == 0) {
                return db.get((byte[]) args[0]); // the previous value, as if it had been written
            }
            return real.get();
        }));
        assertThat(failures.wrongCount()).isPositive();
        assertThat(failures.first()).anyMatch(line -> line.contains("expected version"));
    }

    @Test
    void aScanThatSkipsAnEntryIsReported() throws Exception {
        Failures failures = run("insert=6,scan=3", db -> broken(db, (method, args, real) -> {
            if (!method.getName().equals("range")) {
                return real.get();
            }
            @SuppressWarnings("unchecked")
            Iterator<Map.Entry<byte[], byte[]>> all = (Iterator<Map.Entry<byte[], byte[]>>) real.get();
            List<Map.Entry<byte[], byte[]>> kept = new ArrayList<>();
            for (int i = 0; all.hasNext(); i++) {
                Map.Entry<byte[], byte[]> e = all.next();
                if (i != 3) {
                    kept.add(e);
                }
            }
            return kept.iterator();
        }));
        assertThat(failures.wrongCount()).isPositive();
        assertThat(failures.first()).anyMatch(line -> line.contains("scan skipped key"));
    }

    /** A store whose calls {@code broken} answers, given the real call to make. */
    private interface Breakage {
        Object answer(Method method, Object[] args, RealCall real) throws Throwable;
    }

    private interface RealCall {
        Object get() throws Throwable;
    }

    private interface Wrapping {
        Db wrap(Db db);
    }

    private static Db broken(Db db, Breakage breakage) {
        return proxy(Db.class, db, breakage);
    }

    private static <T> T proxy(Class<T> type, T target, Breakage breakage) {
        InvocationHandler handler = (p, method, args) ->
                breakage.answer(method, args, () -> call(method, target, args));
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, handler));
    }

    private static Object call(Method method, Object target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /**
     * Runs {@link #THREADS} workers, each for {@link #CALLS} operations of {@code mix} over 2 000 keys, half of them
     * preloaded, on a store wrapped by {@code wrapping}.
     */
    private Failures run(String mix, Wrapping wrapping) throws Exception {
        StressSettings settings = new StressSettings(THREADS, 2_000, new Records(16, 40), OpMix.parse(mix), false, 20,
                0, 0.5, 28L);
        Failures failures = new Failures();
        try (Db db = Toboggan.open(tmp.resolve("store"))) {
            Db tested = wrapping.wrap(db);
            StressTotals totals = new StressTotals();
            Recorder interval = new Recorder(3);
            List<StressWorker> workers = new ArrayList<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                StressWorker worker = new StressWorker(tested, settings, t, interval, totals, failures);
                worker.preload(settings.preloadShare());
                workers.add(worker);
            }
            for (StressWorker worker : workers) {
                Thread thread = new Thread(worker, "stress-worker-test");
                threads.add(thread);
                thread.start();
            }
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (totals.ops() < (long) THREADS * CALLS && failures.proceed() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            workers.forEach(StressWorker::stop);
            for (Thread thread : threads) {
                thread.join();
            }
            if (failures.proceed()) {
                assertThat(totals.ops()).as("operations run").isGreaterThanOrEqualTo((long) THREADS * CALLS);
            }
        }
        return failures;
    }
}
