package dev.toboggan.cli.compare;

import dev.toboggan.Db;
import dev.toboggan.Toboggan;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.Function;
import jetbrains.exodus.ArrayByteIterable;
import jetbrains.exodus.ByteIterable;
import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.EnvironmentConfig;
import jetbrains.exodus.env.EnvironmentImpl;
import jetbrains.exodus.env.Environments;
import jetbrains.exodus.env.Store;
import jetbrains.exodus.env.StoreConfig;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.iq80.leveldb.DB;
import org.iq80.leveldb.WriteBatch;
import org.iq80.leveldb.impl.Iq80DBFactory;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.PutFlags;
import org.lmdbjava.Txn;
import org.rocksdb.EnvOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.IngestExternalFileOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.SstFileWriter;
import org.rocksdb.WriteOptions;

/**
 * The stores {@code toboggan compare} knows, each with the settings it is measured with (the same in
 * docs/benchmarks.md): no fsync per write, one fsync (or the store's equivalent) in {@link KvStore#flush()};
 * {@link KvStore#putDurably} is a put and that flush unless the store has a synced write of its own. Last,
 * two of the JDK's in-memory maps ({@link #keepsFiles()} false): not stores, but what this machine and this
 * harness give a map that keeps nothing on disk, measured in the same run as the stores.
 */
public enum Peer {
    /** Toboggan with its default settings (a flush every 500 ms in the background). */
    TOBOGGAN("Toboggan") {
        @Override
        KvStore open(Path dir) {
            Db db = Toboggan.open(dir);
            return new KvStore() {
                @Override
                public void put(byte[] key, byte[] value) {
                    db.insert(key, value);
                }

                @Override
                public byte[] get(byte[] key) {
                    return db.get(key);
                }

                @Override
                public void flush() {
                    db.flush();
                }

                /** Built bottom-up ({@link Db#buildTree}). */
                @Override
                public void bulkLoad(Iterator<Map.Entry<byte[], byte[]>> ascending) {
                    db.buildTree(Db.DEFAULT_TREE, ascending);
                }

                @Override
                public void close() {
                    db.close();
                }
            };
        }
    },
    /**
     * RocksDB (rocksdbjni) with default options: WAL on, not synced per write; flush syncs the WAL. A durable
     * put is a put with {@code WriteOptions.setSync(true)} (concurrent ones share a WAL sync: group commit).
     */
    ROCKSDB("RocksDB") {
        @Override
        KvStore open(Path dir) throws Exception {
            RocksDB.loadLibrary();
            Options options = new Options().setCreateIfMissing(true);
            RocksDB db = RocksDB.open(options, dir.toString());
            WriteOptions syncWrites = new WriteOptions().setSync(true);
            return new KvStore() {
                @Override
                public void put(byte[] key, byte[] value) throws Exception {
                    db.put(key, value);
                }

                @Override
                public byte[] get(byte[] key) throws Exception {
                    return db.get(key);
                }

                @Override
                public void flush() throws Exception {
                    db.flushWal(true);
                }

                @Override
                public void putDurably(byte[] key, byte[] value) throws Exception {
                    db.put(syncWrites, key, value);
                }

                /** Written to an SST file ({@code SstFileWriter}) and ingested, moved into the store: RocksDB's bulk path. */
                @Override
                public void bulkLoad(Iterator<Map.Entry<byte[], byte[]>> ascending) throws Exception {
                    Path sst = dir.resolve("bulk.sst");
                    try (EnvOptions envOptions = new EnvOptions();
                            SstFileWriter writer = new SstFileWriter(envOptions, options);
                            IngestExternalFileOptions ingest = new IngestExternalFileOptions().setMoveFiles(true)) {
                        writer.open(sst.toString());
                        while (ascending.hasNext()) {
                            Map.Entry<byte[], byte[]> entry = ascending.next();
                            writer.put(entry.getKey(), entry.getValue());
                        }
                        writer.finish();
                        db.ingestExternalFile(List.of(sst.toString()), ingest);
                    }
                }

                @Override
                public void close() throws Exception {
                    try (FlushOptions f = new FlushOptions().setWaitForFlush(true)) {
                        db.flush(f);
                    }
                    db.close();
                    syncWrites.close();
                    options.close();
                }
            };
        }
    },
    /**
     * LMDB (lmdbjava, byte[] buffers) with MDB_NOSYNC: each write is its own transaction, committed without
     * an fsync; flush is {@code mdb_env_sync(force)}. Map size 4 GiB.
     */
    LMDB("LMDB") {
        @Override
        KvStore open(Path dir) {
            Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMapSize(4L << 30).setMaxDbs(1)
                    .open(dir.toFile(), EnvFlags.MDB_NOSYNC);
            Dbi<byte[]> dbi = env.openDbi("compare", DbiFlags.MDB_CREATE);
            return new KvStore() {
                @Override
                public void put(byte[] key, byte[] value) {
                    dbi.put(key, value);
                }

                @Override
                public byte[] get(byte[] key) {
                    try (Txn<byte[]> txn = env.txnRead()) {
                        return dbi.get(txn, key);
                    }
                }

                @Override
                public void flush() {
                    env.sync(true);
                }

                /** One write transaction of appends ({@code MDB_APPEND}): LMDB's way to load sorted keys. */
                @Override
                public void bulkLoad(Iterator<Map.Entry<byte[], byte[]>> ascending) {
                    try (Txn<byte[]> txn = env.txnWrite()) {
                        while (ascending.hasNext()) {
                            Map.Entry<byte[], byte[]> entry = ascending.next();
                            dbi.put(txn, entry.getKey(), entry.getValue(), PutFlags.MDB_APPEND);
                        }
                        txn.commit();
                    }
                }

                @Override
                public void close() {
                    env.sync(true);
                    env.close();
                }
            };
        }
    },
    /** H2's MVStore with default settings (auto-commit in the background); flush commits and syncs. */
    MVSTORE("H2 MVStore") {
        @Override
        KvStore open(Path dir) {
            MVStore store = new MVStore.Builder().fileName(dir.resolve("store.mv").toString()).open();
            MVMap<byte[], byte[]> map = store.openMap("compare");
            return new KvStore() {
                @Override
                public void put(byte[] key, byte[] value) {
                    map.put(key, value);
                }

                @Override
                public byte[] get(byte[] key) {
                    return map.get(key);
                }

                @Override
                public void flush() {
                    store.commit();
                    store.sync();
                }

                /** Appended ({@code MVMap.append}: keys past the map's last, one thread): H2's way to load sorted keys. */
                @Override
                public void bulkLoad(Iterator<Map.Entry<byte[], byte[]>> ascending) {
                    while (ascending.hasNext()) {
                        Map.Entry<byte[], byte[]> entry = ascending.next();
                        map.append(entry.getKey(), entry.getValue());
                    }
                }

                @Override
                public void close() {
                    store.close();
                }
            };
        }
    },
    /** Xodus (xodus-environment) with default settings (no fsync per transaction); one transaction per write. */
    XODUS("Xodus") {
        @Override
        KvStore open(Path dir) {
            Environment env = Environments.newInstance(dir.toFile(), new EnvironmentConfig());
            Store store = env.computeInTransaction(txn -> env.openStore("compare", StoreConfig.WITHOUT_DUPLICATES, txn));
            return new KvStore() {
                @Override
                public void put(byte[] key, byte[] value) {
                    env.executeInTransaction(txn -> store.put(txn, new ArrayByteIterable(key), new ArrayByteIterable(value)));
                }

                @Override
                public byte[] get(byte[] key) {
                    ByteIterable v = env.computeInReadonlyTransaction(txn -> store.get(txn, new ArrayByteIterable(key)));
                    if (v == null) {
                        return null;
                    }
                    byte[] out = new byte[v.getLength()];
                    System.arraycopy(v.getBytesUnsafe(), 0, out, 0, out.length);
                    return out;
                }

                @Override
                public void flush() {
                    // Environment has no flush; its implementation's flushAndSync is Xodus's own way to fsync.
                    ((EnvironmentImpl) env).flushAndSync();
                }

                /** One transaction of {@code putRight}s (a key past the store's last): Xodus's way to load sorted keys. */
                @Override
                public void bulkLoad(Iterator<Map.Entry<byte[], byte[]>> ascending) {
                    env.executeInTransaction(txn -> {
                        while (ascending.hasNext()) {
                            Map.Entry<byte[], byte[]> entry = ascending.next();
                            store.putRight(txn, new ArrayByteIterable(entry.getKey()),
                                    new ArrayByteIterable(entry.getValue()));
                        }
                    });
                }

                @Override
                public void close() {
                    env.close();
                }
            };
        }
    },
    /**
     * LevelDB, the pure Java port (iq80), default options: the log is not synced per write; flush syncs it
     * with a synced write, and a durable put is a synced write.
     */
    LEVELDB("LevelDB (iq80)") {
        @Override
        KvStore open(Path dir) throws Exception {
            DB db = Iq80DBFactory.factory.open(dir.toFile(), new org.iq80.leveldb.Options().createIfMissing(true));
            byte[] marker = "compare/flush".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            org.iq80.leveldb.WriteOptions syncWrites = new org.iq80.leveldb.WriteOptions().sync(true);
            return new KvStore() {
                @Override
                public void put(byte[] key, byte[] value) {
                    db.put(key, value);
                }

                @Override
                public byte[] get(byte[] key) {
                    return db.get(key);
                }

                @Override
                public void flush() {
                    // LevelDB syncs its log with a synced write: everything before it is durable with it.
                    db.put(marker, new byte[0], syncWrites);
                }

                @Override
                public void putDurably(byte[] key, byte[] value) {
                    db.put(key, value, syncWrites);
                }

                /** Write batches of 10 000 entries: LevelDB has no other way to load sorted data. */
                @Override
                public void bulkLoad(Iterator<Map.Entry<byte[], byte[]>> ascending) throws Exception {
                    while (ascending.hasNext()) {
                        try (WriteBatch batch = db.createWriteBatch()) {
                            for (int n = 0; n < 10_000 && ascending.hasNext(); n++) {
                                Map.Entry<byte[], byte[]> entry = ascending.next();
                                batch.put(entry.getKey(), entry.getValue());
                            }
                            db.write(batch);
                        }
                    }
                }

                @Override
                public void close() throws Exception {
                    db.close();
                }
            };
        }
    },
    /**
     * Not a store: the JDK's {@code ConcurrentHashMap}, in memory, unordered, durable never. What a lookup
     * table with nothing to keep in order and nothing to write does with the same workloads on this machine
     * and in this harness: the reference the throughput targets are read against (docs/benchmarks.md).
     * Keys are wrapped in a {@code ByteBuffer} for their content's hash and equality; arrays are not copied.
     */
    HASHMAP("hash map, memory", false) {
        @Override
        KvStore open(Path dir) {
            return new InMemory<>(new ConcurrentHashMap<>(), ByteBuffer::wrap);
        }
    },
    /**
     * Not a store: the JDK's {@code ConcurrentSkipListMap} over the same unsigned byte order as the stores'
     * (so ordered, as each store is), in memory, durable never. Keys and values are not copied.
     */
    SKIPLIST("skip list, memory", false) {
        @Override
        KvStore open(Path dir) {
            return new InMemory<>(new ConcurrentSkipListMap<>(Arrays::compareUnsigned), key -> key);
        }
    };

    /** The in-memory references' adapter: {@code mapKey} makes the map's key of a key's bytes. */
    private record InMemory<K>(ConcurrentMap<K, byte[]> map, Function<byte[], K> mapKey) implements KvStore {
        @Override
        public void put(byte[] key, byte[] value) {
            map.put(mapKey.apply(key), value);
        }

        @Override
        public byte[] get(byte[] key) {
            return map.get(mapKey.apply(key));
        }

        /** Nothing to make durable: nothing is ever kept. */
        @Override
        public void flush() {}

        @Override
        public void close() {
            map.clear();
        }
    }

    private final String displayName;
    private final boolean keepsFiles;

    Peer(String displayName) {
        this(displayName, true);
    }

    Peer(String displayName, boolean keepsFiles) {
        this.displayName = displayName;
        this.keepsFiles = keepsFiles;
    }

    /**
     * Whether this is a store that keeps its data in files. The in-memory references do not: they are
     * measured on the load, reads and mixed workloads only, and have no space, reopen or durable figures.
     */
    public boolean keepsFiles() {
        return keepsFiles;
    }

    public String displayName() {
        return displayName;
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Opens the store in {@code dir}: creates it if the directory is empty, or opens the one it holds. */
    abstract KvStore open(Path dir) throws Exception;
}
