package dev.toboggan.pekko;

/**
 * What the journal keeps per persistence id: the numeric id its event keys carry and the highest sequence
 * number it ever wrote. A tombstone ({@link #NONE} as numeric id) is what is left of a persistence id whose
 * events were all deleted: only the highest sequence number, which must never go back.
 */
record PersistenceIdEntry(long numericId, long highestSequenceNr) {
    /** The numeric id of a tombstone: ids from {@code Db.generateId()} are never negative. */
    static final long NONE = -1;

    static final PersistenceIdEntry ABSENT = new PersistenceIdEntry(NONE, 0);

    boolean isTombstone() {
        return numericId == NONE;
    }
}
