package dev.toboggan.pekko;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

/**
 * A child JVM running a main class of the tests' class path on a store directory, which prints "ACK x" for every
 * write its actors acknowledged, and which the test kills ({@link EventSourcedRecoveryTest},
 * {@link DurableStateStoreTest}).
 */
final class ChildJvm {
    private ChildJvm() {}

    /** Starts {@code main} with {@code directory} as its argument, its standard error discarded. */
    static Process start(Class<?> main, Path directory) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String flag : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (flag.startsWith("--add-") || flag.startsWith("--sun-misc") || flag.startsWith("--enable-native")) {
                command.add(flag);
            }
        }
        command.add("-Xmx256m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(main.getName());
        command.add(directory.toString());
        return new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    /**
     * In the child: asks {@code system} one message after another, at most {@code inFlight} at once, message
     * {@code i} (1, 2, …) made by {@code message} with its reply address, and prints "ACK " and what
     * {@code acknowledgement} makes of {@code i} and the reply, for every reply, until the JVM is killed.
     */
    static <T, R> void askUntilKilled(ActorSystem<T> system, int inFlight, BiFunction<Long, ActorRef<R>, T> message,
            BiFunction<Long, R, String> acknowledgement) throws InterruptedException {
        Semaphore permits = new Semaphore(inFlight);
        for (long i = 1; ; i++) {
            permits.acquire();
            long number = i;
            AskPattern.<T, R>ask(system, replyTo -> message.apply(number, replyTo), Duration.ofSeconds(30),
                    system.scheduler()).whenComplete((reply, error) -> {
                        if (error == null) {
                            synchronized (System.out) {
                                System.out.println("ACK " + acknowledgement.apply(number, reply));
                                System.out.flush();
                            }
                        }
                        permits.release();
                    });
        }
    }

    /**
     * Reads {@code child}'s acknowledgements until it printed {@code count} of them, kills it (SIGKILL), and
     * returns every acknowledgement read: also those printed before the kill landed, as far as the pipe still
     * has them (the lines it lost are acknowledgements a check does not count: it only gets weaker).
     */
    static List<String> acknowledgementsUntilKilled(Process child, int count) throws Exception {
        List<String> acknowledged = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(
                new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while (acknowledged.size() < count && (line = out.readLine()) != null) {
                if (line.startsWith("ACK ")) {
                    acknowledged.add(line.substring(4));
                }
            }
            child.destroyForcibly();
            try {
                while ((line = out.readLine()) != null) {
                    if (line.startsWith("ACK ")) {
                        acknowledged.add(line.substring(4));
                    }
                }
            } catch (IOException pipeClosedByTheKill) {
                // see above
            }
        } finally {
            child.destroyForcibly();
            if (!child.waitFor(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the child JVM did not end within 30 s of its kill");
            }
        }
        return acknowledged;
    }
}
