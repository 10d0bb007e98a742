package dev.toboggan.pekko;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.math.BigInteger;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.ddata.DistributedData;
import org.apache.pekko.cluster.ddata.GCounter;
import org.apache.pekko.cluster.ddata.GCounterKey;
import org.apache.pekko.cluster.ddata.Key;
import org.apache.pekko.cluster.ddata.Replicator;
import org.apache.pekko.pattern.Patterns;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 3-node cluster on loopback (three actor systems, artery on 127.0.0.1), its durable Distributed Data in
 * each node's own Toboggan store: a node stopped and started again reloads its durable data before it
 * rejoins, and then converges with what changed while it was away.
 */
class DurableStoreClusterTest {
    /** Each step of forming, leaving, rejoining and gossiping: three nodes in one JVM on a loaded 2-core machine. */
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    private static final Key<GCounter> COUNTER = GCounterKey.create("durable-counter");

    @TempDir
    Path directory;

    private final ActorTestKit[] nodes = new ActorTestKit[3];
    private final int[] ports = new int[3];

    @AfterEach
    void stopAll() {
        for (ActorTestKit node : nodes) {
            if (node != null) {
                node.shutdownTestKit();
            }
        }
    }

    @Test
    void aRestartedNodeReloadsItsDurableDataAndConverges() throws Exception {
        for (int i = 0; i < 3; i++) {
            ports[i] = freePort();
        }
        for (int i = 0; i < 3; i++) {
            nodes[i] = start(i, true);
        }
        awaitUp(0, 3);
        increment(0, 5);
        increment(1, 3);
        await().atMost(TIMEOUT).until(() -> BigInteger.valueOf(8).equals(readLocal(2)));

        nodes[2].shutdownTestKit(); // leaves the cluster gracefully (CoordinatedShutdown)
        nodes[2] = null;
        awaitUp(0, 2);
        increment(0, 4);

        // Started again without joining: what it reads can only come from its own durable store.
        nodes[2] = start(2, false);
        assertThat(readLocal(2)).isEqualTo(BigInteger.valueOf(8));

        Cluster.get(classic(2)).join(Cluster.get(classic(0)).selfAddress());
        awaitUp(0, 3);
        await().atMost(TIMEOUT).until(() -> BigInteger.valueOf(12).equals(readLocal(2)));
        increment(2, 1);
        await().atMost(TIMEOUT).until(() -> BigInteger.valueOf(13).equals(readLocal(0)));
    }

    private ActorTestKit start(int node, boolean joinSeed) {
        Config config = ConfigFactory.parseString("""
                pekko.loglevel = WARNING
                pekko.actor.provider = cluster
                pekko.remote.artery.canonical.hostname = "127.0.0.1"
                pekko.remote.artery.canonical.port = %d
                pekko.cluster.seed-nodes = [%s]
                pekko.cluster.jmx.enabled = off
                pekko.cluster.log-info = off
                pekko.cluster.distributed-data.gossip-interval = 200ms
                pekko.cluster.distributed-data.durable.keys = ["durable-*"]
                pekko.cluster.distributed-data.durable.store-actor-class = "dev.toboggan.pekko.TobogganDurableStore"
                toboggan.pekko.store.directory = "%s"
                """.formatted(ports[node], joinSeed ? "\"pekko://ddata@127.0.0.1:" + ports[0] + "\"" : "",
                directory.resolve("node-" + node).toString()));
        return ActorTestKit.create("ddata", config);
    }

    private ActorSystem classic(int node) {
        return Adapter.toClassic(nodes[node].system());
    }

    private void awaitUp(int observer, int members) {
        await().atMost(TIMEOUT).until(() -> {
            var state = Cluster.get(classic(observer)).state();
            long up = 0;
            for (var member : state.getMembers()) {
                if (member.status() == MemberStatus.up()) {
                    up++;
                }
            }
            return up == members && state.members().size() == members;
        });
    }

    /**
     * Increments on {@code node}, answered once the node's durable store has stored it; gossip spreads it.
     * (A WriteMajority can time out while a fresh cluster's replicators are still connecting, and retrying
     * it would count twice.)
     */
    private void increment(int node, long by) throws Exception {
        DistributedData ddata = DistributedData.get(classic(node));
        Object reply = Patterns.ask(ddata.replicator(), new Replicator.Update<>(COUNTER, GCounter.create(),
                        Replicator.writeLocal(), counter -> counter.increment(ddata.selfUniqueAddress(), by)),
                TIMEOUT).toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(reply).isInstanceOf(Replicator.UpdateSuccess.class);
    }

    /** The counter's value on {@code node}, or {@code null} if the node has none. */
    private BigInteger readLocal(int node) throws Exception {
        Object reply = Patterns.ask(DistributedData.get(classic(node)).replicator(),
                new Replicator.Get<>(COUNTER, Replicator.readLocal()), TIMEOUT)
                .toCompletableFuture().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        if (reply instanceof Replicator.GetSuccess<?> success) {
            return ((GCounter) success.dataValue()).getValue();
        }
        return null;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
