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
    void onAZipfWorkloadItHitsMoreOftenThanPlainLru() {
        int pages = 20_000;
        double[] cumulative = new double[pages];
        double sum = 0;
        for (int i = 0; i < pages; i++) {
            sum += 1 / Math.pow(i + 1, 0.99);
            cumulative[i] = sum;
        }
        Random random = new Random(3);
        java.util.LinkedHashMap<Long, Boolean> lru = new java.util.LinkedHashMap<>(512, 0.75f, true);
        long hits = 0;
        long lruHits = 0;
        int reads = 400_000;
        for (int k = 0; k < reads; k++) {
            int at = java.util.Arrays.binarySearch(cumulative, random.nextDouble() * sum);
            long pid = at >= 0 ? at : Math.min(pages - 1, -at - 1);
            if (resident.contains(pid)) {
                hits++;
            }
            access(pid);
            if (lru.get(pid) != null) {
                lruHits++;
            } else {
                lru.put(pid, Boolean.TRUE);
                if (lru.size() > CAPACITY / WEIGHT) {
                    lru.remove(lru.keySet().iterator().next());
                }
            }
        }
        System.out.printf("Zipf 0.99 over %d pages, %d cached: W-TinyLFU %.4f, LRU %.4f%n", pages, CAPACITY / WEIGHT,
                (double) hits / reads, (double) lruHits / reads);
        assertThat(hits).isGreaterThan(lruHits);
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
