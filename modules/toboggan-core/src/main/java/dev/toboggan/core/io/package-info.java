/**
 * The IO seam: {@link dev.toboggan.core.io.StorageIo} and {@link dev.toboggan.core.io.StorageFile}, with
 * the production implementation on file channels ({@link dev.toboggan.core.io.FileChannelStorage}) and
 * the simulated disk that tests crash, tear and fill ({@link dev.toboggan.core.io.SimulatedStorage}).
 */
package dev.toboggan.core.io;
