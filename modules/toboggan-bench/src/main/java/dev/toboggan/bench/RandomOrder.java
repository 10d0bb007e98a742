package dev.toboggan.bench;

import java.util.SplittableRandom;

/** Orders of the numbers {@code 0 .. n-1} for workloads that visit every key once in a random order. */
public final class RandomOrder {
    private RandomOrder() {}

    /** Every number in {@code [0, n)} once, shuffled (Fisher–Yates) by a generator seeded with {@code seed}. */
    public static int[] of(int n, long seed) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return order;
    }
}
