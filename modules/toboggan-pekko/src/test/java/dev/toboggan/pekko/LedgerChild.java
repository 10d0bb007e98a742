package dev.toboggan.pekko;

import java.nio.file.Path;
import org.apache.pekko.actor.typed.ActorSystem;
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
        System.out.println("READY");
        System.out.flush();
        ChildJvm.<Ledger.Command, Integer>askUntilKilled(system, 32,
                (i, replyTo) -> new Ledger.Append("e" + i, replyTo), (i, count) -> "e" + i);
    }
}
