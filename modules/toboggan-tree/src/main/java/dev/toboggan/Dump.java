package dev.toboggan;

import java.nio.file.Path;

/**
 * A dump file that {@link Db#export} wrote or {@link Toboggan#importDump} read (its layout: docs/format.md,
 * "Dump file").
 *
 * @param file the dump
 * @param trees the trees it holds, the default tree included
 * @param entries the keys it holds, over all its trees
 * @param lastId an id the exported store handed out during the export, higher than every id it handed out
 *     before; every id of a store the dump is imported into is higher still
 * @param bytes the file's size
 */
public record Dump(Path file, int trees, long entries, long lastId, long bytes) {}
