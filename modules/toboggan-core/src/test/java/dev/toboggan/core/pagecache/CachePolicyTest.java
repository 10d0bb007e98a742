package dev.toboggan.core.pagecache;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The W-TinyLFU policy alone, driven as the eviction work drives it: accesses, then victims while over capacity. */
class CachePolicyTest {
    private static final int WEIGHT = 4096;
    private static final long CAPACITY = 256L * WEIGHT;

    private final CachePolicy policy = new CachePolicy(CAPACITY);
    private final Set<Long> resident = new HashSet<>();

    /** An access as the cache sees it: a miss makes the page resident, then pages out until within capacity. */
    private void access(long pid) {
        resident.add(pid);
        policy.recordAccess(pid, WEIGHT);
        while ((long) resident.size() * WEIGHT > CAPACITY) {
            long victim = policy.victim();
            policy.remove(victim);
            resident.remove(victim);
        }
    }

    @Test
    void aScanOfColdPagesLeavesTheHotSetResident() {
        Random random = new Random(1);
        for (int round = 0; round < 50; round++) {
            for (long pid = 0; pid < 64; pid++) {
                if (random.nextInt(4) != 0) {
                    access(pid);
                }
            }
        }
        for (long pid = 1000; pid < 1000 + 4 * 256; pid++) {
            access(pid);
        }
        long hot = resident.stream().filter(pid -> pid < 64).count();
        // Plain LRU would keep none: the scan alone is 4x the capacity.
        assertThat(hot).as("hot pages resident after the scan").isGreaterThanOrEqualTo(60);
    }

    @Test
    void withoutFrequencyItIsLeastRecentlyUsedFirst() {
        for (long pid = 0; pid < 256; pid++) {
            access(pid);
        }
        access(1000);
        assertThat(resident).hasSize(256).contains(1000L);
    }
}
