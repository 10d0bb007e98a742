package dev.toboggan.cli.stress;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.StringJoiner;

/**
 * The share of each {@link Op} in a stress run, from weights such as
 * {@code get=60,insert=20,remove=5,cas=10,scan=4,batch=1,tx=1,snapshot=1} (they need not add up to 100).
 */
public final class OpMix {
    private final Map<Op, Integer> weights;
    /** Cumulative weights, by {@link Op#ordinal()}. */
    private final int[] cumulative;
    private final int total;

    private OpMix(Map<Op, Integer> weights) {
        this.weights = weights;
        this.cumulative = new int[Op.values().length];
        int sum = 0;
        for (Op op : Op.values()) {
            sum += weights.getOrDefault(op, 0);
            cumulative[op.ordinal()] = sum;
        }
        this.total = sum;
    }

    /**
     * Parses {@code op=weight,...}.
     *
     * @throws IllegalArgumentException naming the part that is wrong and the operations there are
     */
    public static OpMix parse(String spec) {
        Map<Op, Integer> weights = new EnumMap<>(Op.class);
        for (String part : spec.split(",")) {
            String[] kv = part.trim().split("=", -1);
            if (kv.length != 2) {
                throw new IllegalArgumentException("--mix: '" + part.trim() + "' is not op=weight (ops: " + names() + ")");
            }
            Op op;
            try {
                op = Op.valueOf(kv[0].trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--mix: unknown operation '" + kv[0].trim() + "' (ops: " + names() + ")");
            }
            int weight;
            try {
                weight = Integer.parseInt(kv[1].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--mix: the weight of " + op.label() + " must be a whole number, was '"
                        + kv[1].trim() + "'");
            }
            if (weight < 0) {
                throw new IllegalArgumentException("--mix: the weight of " + op.label() + " must be 0 or more, was " + weight);
            }
            weights.put(op, weight);
        }
        OpMix mix = new OpMix(weights);
        if (mix.total == 0) {
            throw new IllegalArgumentException("--mix: at least one operation needs a weight above 0");
        }
        return mix;
    }

    /** The next operation, drawn with these weights. */
    public Op next(SplittableRandom random) {
        int r = random.nextInt(total);
        for (Op op : Op.values()) {
            if (r < cumulative[op.ordinal()]) {
                return op;
            }
        }
        throw new AssertionError("weights sum to " + total);
    }

    @Override
    public String toString() {
        StringJoiner j = new StringJoiner(",");
        weights.forEach((op, w) -> j.add(op.label() + "=" + w));
        return j.toString();
    }

    private static String names() {
        StringJoiner j = new StringJoiner(", ");
        for (Op op : Op.values()) {
            j.add(op.label());
        }
        return j.toString();
    }
}
