package dev.toboggan;

/** Checks of user input against {@link Tree}'s documented limits, before anything changes. */
final class Limits {
    private Limits() {}

    static void checkKey(byte[] key) {
        if (key == null) {
            throw new IllegalArgumentException("the key is null; keys are non-null byte arrays (the empty key is allowed)");
        }
        if (key.length > Tree.MAX_KEY_LENGTH) {
            throw new IllegalArgumentException("the key is " + key.length + " bytes long; keys are at most "
                    + Tree.MAX_KEY_LENGTH + " bytes (Tree.MAX_KEY_LENGTH)");
        }
    }

    static void checkValue(byte[] value) {
        if (value == null) {
            throw new IllegalArgumentException("the value is null; use remove to delete a key");
        }
        checkLength(value);
    }

    /** Checks a value that may be {@code null} (a compare-and-swap's expected or new value). */
    static void checkOptionalValue(byte[] value) {
        if (value != null) {
            checkLength(value);
        }
    }

    private static void checkLength(byte[] value) {
        if (value.length > Tree.MAX_VALUE_LENGTH) {
            throw new IllegalArgumentException("the value is " + value.length + " bytes long; values are at most "
                    + Tree.MAX_VALUE_LENGTH + " bytes (Tree.MAX_VALUE_LENGTH)");
        }
    }

    static void checkTreeName(String name) {
        if (name == null) {
            throw new IllegalArgumentException("the tree name is null");
        }
    }
}
