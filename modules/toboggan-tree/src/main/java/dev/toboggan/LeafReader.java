package dev.toboggan;

/**
 * Where a {@link ForwardScan} or a {@link ReverseScan} reads its next leaf: a live tree ({@link BLinkTree}, an
 * optimistic read validated against its structure changes) or a tree as of a snapshot ({@link FrozenTree}).
 * Called once per leaf, so the scans' own logic serves both.
 */
interface LeafReader {
    /** Hands {@code scan} the entries of {@code [scan.position, scan.to)} of the leaf that holds its position. */
    void fetchForward(ForwardScan scan);

    /** Hands {@code scan} the entries below {@code scan.position}, from {@code scan.from}, of one leaf. */
    void fetchReverse(ReverseScan scan);
}
