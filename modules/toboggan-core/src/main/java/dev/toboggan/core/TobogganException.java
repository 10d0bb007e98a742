package dev.toboggan.core;

/** The root of Toboggan's own exceptions; each says what went wrong and what to do. */
public class TobogganException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public TobogganException(String message) {
        super(message);
    }

    public TobogganException(String message, Throwable cause) {
        super(message, cause);
    }
}
