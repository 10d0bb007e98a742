package dev.toboggan.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No class of the core holds an SLF4J {@code Logger} in a static field: initializing such a class (an open
 * does, for most of them) would initialize logging, 0.25–0.35 s in a fresh JVM with logback. They hold a
 * {@link LazyLogger} instead.
 */
class LazyLoggerTest {

    @Test
    void coreClassesCreateTheirLoggersOnFirstUse() throws Exception {
        Path classes = Path.of(LazyLogger.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> eager = new ArrayList<>();
        int checked = 0;
        try (Stream<Path> files = Files.walk(classes)) {
            for (Path file : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".class"))::iterator) {
                String name = classes.relativize(file).toString().replace('/', '.').replaceAll("\\.class$", "");
                Class<?> type = Class.forName(name, false, LazyLogger.class.getClassLoader());
                checked++;
                for (Field field : type.getDeclaredFields()) {
                    if (Modifier.isStatic(field.getModifiers()) && field.getType() == org.slf4j.Logger.class) {
                        eager.add(name + "." + field.getName());
                    }
                }
            }
        }
        assertThat(checked).as("core classes checked").isGreaterThan(50);
        assertThat(eager).as("static SLF4J loggers (use LazyLogger)").isEmpty();
    }
}
