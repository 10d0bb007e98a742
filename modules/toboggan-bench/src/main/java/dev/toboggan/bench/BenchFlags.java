package dev.toboggan.bench;

/**
 * The JVM flags Toboggan JVMs needed on JDK 17+ while it used Chronicle Bytes (which reaches into
 * {@code java.nio} and {@code jdk.internal}; see {@code VERSIONS.md}); kept, harmless, so that figures stay
 * comparable with earlier runs. As compile-time constants so that JMH annotations can
 * name them: {@link BenchDefaults} puts them in {@code @Fork(jvmArgsAppend = ...)} once for every
 * benchmark class. Keep in step with {@code toboggan.jvm.flags} in the parent pom.
 *
 * <p>On JDK 24+ also pass {@code --sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED}
 * (JDK 17 refuses them, so they cannot be constants here): give them to the host JVM, whose options
 * JMH copies into its forks, or set them in {@code JDK_JAVA_OPTIONS}.
 */
public final class BenchFlags {
    public static final String OPENS_NIO = "--add-opens=java.base/java.nio=ALL-UNNAMED";
    public static final String OPENS_LANG = "--add-opens=java.base/java.lang=ALL-UNNAMED";
    public static final String OPENS_REFLECT = "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED";
    public static final String OPENS_IO = "--add-opens=java.base/java.io=ALL-UNNAMED";
    public static final String OPENS_UTIL = "--add-opens=java.base/java.util=ALL-UNNAMED";
    public static final String EXPORTS_MISC = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED";
    public static final String EXPORTS_REF = "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED";
    public static final String EXPORTS_UTIL = "--add-exports=java.base/jdk.internal.util=ALL-UNNAMED";
    public static final String EXPORTS_NIO_CH = "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED";
    public static final String EXPORTS_SUN_MISC = "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED";

    /** The same flags as an array, for code that starts JVMs or builds JMH {@code Options} itself. */
    public static String[] jvmFlags() {
        return new String[] {OPENS_NIO, OPENS_LANG, OPENS_REFLECT, OPENS_IO, OPENS_UTIL, EXPORTS_MISC, EXPORTS_REF,
            EXPORTS_UTIL, EXPORTS_NIO_CH, EXPORTS_SUN_MISC};
    }

    private BenchFlags() {}
}
