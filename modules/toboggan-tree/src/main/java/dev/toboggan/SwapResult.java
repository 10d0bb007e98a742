package dev.toboggan;

/**
 * The outcome of {@link Tree#compareAndSwap}.
 *
 * @param succeeded whether the new value was set
 * @param current the key's value after the call: the new value on success ({@code null} if it removed
 *     the key), on failure the value found instead of the expected one ({@code null} if the key had none)
 */
public record SwapResult(boolean succeeded, byte[] current) {}
