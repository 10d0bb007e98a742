package dev.toboggan.core;

/** The store directory was created with settings (or a format version) this open cannot use. */
public final class IncompatibleStoreException extends TobogganException {
    private static final long serialVersionUID = 1L;

    public IncompatibleStoreException(String message) {
        super(message);
    }
}
