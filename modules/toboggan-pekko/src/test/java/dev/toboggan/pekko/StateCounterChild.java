package dev.toboggan.pekko;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import org.apache.pekko.actor.typed.ActorSystem;

/**
 * The child JVM of {@link DurableStateStoreTest}'s kill test: adds 1 to a {@link StateCounter} over and over, up to
 * 16 adds in flight, and prints "ACK n" for every total the counter acknowledged, until it is killed.
 */
public final class StateCounterChild {
    private StateCounterChild() {}

    public static void main(String[] args) throws Exception {
        Path directory = Path.of(args[0]);
        ActorSystem<StateCounter.Command> system = ActorSystem.create(StateCounter.create("counter"), "child",
                ConfigFactory.parseString("pekko.persistence.state.plugin = \"toboggan.state\"")
                        .withFallback(PekkoTestConfig.persistence(directory)));
        ChildJvm.<StateCounter.Command, Integer>askUntilKilled(system, 16,
                (i, replyTo) -> new StateCounter.Add(1, replyTo), (i, total) -> String.valueOf(total));
    }
}
