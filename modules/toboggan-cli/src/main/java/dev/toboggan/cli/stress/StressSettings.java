package dev.toboggan.cli.stress;

/**
 * What a stress run does (from the command line, checked there).
 *
 * @param threads worker threads; thread t owns the keys whose index is t mod threads
 * @param keySpace key indexes used: 0 .. keySpace-1
 * @param mix the operations' shares
 * @param sequential each thread walks its keys in order instead of picking them at random
 * @param scanLength key indexes a scan covers
 * @param durablePercent share of changes followed by a flush (waits until durable)
 * @param preloadShare share of the keys inserted before the timed run
 * @param seed seeds the threads' random choices
 */
public record StressSettings(int threads, long keySpace, Records records, OpMix mix, boolean sequential,
        int scanLength, int durablePercent, double preloadShare, long seed) {}
