package dev.toboggan.pekko;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The child JVM of {@link EventSourcedRecoveryTest}: appends e1, e2, … to a {@link Ledger} with up to 32
 * appends in flight, and prints "ACK eN" for every append the ledger acknowledged, until it is killed.
 */
public final class LedgerChild {
    private LedgerChild() {}

    public static void main(String[] args) throws Exception {
        Path directory = Path.of(args[0]);
        ActorSystem<Ledger.Command> system = ActorSystem.create(
                Behaviors.setup(context -> Ledger.create("ledger")), "child", PekkoTestConfig.persistence(directory));
        Semaphore inFlight = new Semaphore(32);
        System.out.println("READY");
        System.out.flush();
        for (int i = 1; ; i++) {
            inFlight.acquire();
            String entry = "e" + i;
            AskPattern.<Ledger.Command, Integer>ask(system, replyTo -> new Ledger.Append(entry, replyTo),
                    Duration.ofSeconds(30), system.scheduler()).whenComplete((count, error) -> {
                        if (error == null) {
                            synchronized (System.out) {
                                System.out.println("ACK " + entry);
                                System.out.flush();
                            }
                        }
                        inFlight.release();
                    });
        }
    }
}
