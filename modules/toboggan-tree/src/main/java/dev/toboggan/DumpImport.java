package dev.toboggan;

import com.typesafe.config.Config;
import java.nio.file.Path;

/**
 * {@link Toboggan#importDump}: a new store made of a dump. The whole dump is read and checked before
 * anything is written; the store is then made whole or not at all ({@link NewStore}), each tree built
 * bottom-up ({@link BulkLoad}).
 */
final class DumpImport {
    private static final String NOTHING = "nothing was imported";

    private DumpImport() {}

    static Dump run(Path dump, Config config, Path directory) {
        if (dump == null || config == null || directory == null) {
            throw new IllegalArgumentException("the dump, the settings and the new store's directory must not be null");
        }
        DumpFormat.requireFile(dump);
        // refused before the whole dump is read (it may be large); make checks again before it creates anything
        NewStore.checkTarget(directory, "an import", NOTHING);
        Dump checked = DumpFormat.read(dump, DumpFormat.Visitor.CHECK_ONLY);
        NewStore.make(config, directory, "an import", "import " + dump + " into", NOTHING, store -> {
            BulkLoad[] loading = new BulkLoad[1];
            // The file is read again as it is written in: a change since the check fails this pass, not the store
            // (which the import removes, build and all).
            DumpFormat.read(dump, new DumpFormat.Visitor() {
                @Override
                public void tree(String name) {
                    if (loading[0] != null) {
                        store.finishBuild(loading[0]);
                    }
                    loading[0] = store.startBuild(name, 1);
                }

                @Override
                public void entry(byte[] key, byte[] value) {
                    loading[0].add(key, value); // arrays of the reader's own
                }
            });
            if (loading[0] != null) {
                store.finishBuild(loading[0]);
            }
            store.pageCache().advanceIdsPast(checked.lastId());
            return checked.entries();
        });
        return checked;
    }
}
