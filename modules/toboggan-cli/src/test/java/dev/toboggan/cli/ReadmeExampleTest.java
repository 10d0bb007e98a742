package dev.toboggan.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.StringWriter;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's embedding example compiles against the public API and runs. */
class ReadmeExampleTest {
    private static final Path README = Path.of("../../README.md");

    @TempDir Path tmp;

    @Test
    void theEmbeddingExampleCompilesAndRuns() throws Exception {
        Matcher block = Pattern.compile("```java\n(.*?)```", Pattern.DOTALL).matcher(Files.readString(README));
        assertThat(block.find()).as("README.md has a ```java block").isTrue();
        List<String> imports = new ArrayList<>();
        StringBuilder body = new StringBuilder();
        for (String line : block.group(1).split("\n")) {
            if (line.startsWith("import ")) {
                imports.add(line);
            } else {
                body.append(line).append('\n');
            }
        }
        assertThat(body.toString()).contains("Path.of(\"my-store\")");
        Path store = tmp.resolve("my-store");
        // The one change: the store goes to a temporary directory instead of the working directory.
        String code = String.join("\n", imports) + "\npublic class ReadmeExample {\n  public static void run() throws Exception {\n"
                + body.toString().replace("Path.of(\"my-store\")", "Path.of(\"" + store + "\")") + "  }\n}\n";
        Path source = tmp.resolve("src/ReadmeExample.java");
        Files.createDirectories(source.getParent());
        Files.writeString(source, code);
        Path classes = Files.createDirectories(tmp.resolve("classes"));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StringWriter diagnostics = new StringWriter();
        boolean compiled = javac.getTask(diagnostics, null, null,
                List.of("-classpath", System.getProperty("java.class.path"), "-d", classes.toString()), null,
                javac.getStandardFileManager(null, null, null).getJavaFileObjects(source.toFile())).call();
        assertThat(compiled).as(code + "\n" + diagnostics).isTrue();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, getClass().getClassLoader())) {
            Method run = loader.loadClass("ReadmeExample").getMethod("run");
            run.invoke(null);
        }
        assertThat(store.resolve("log")).exists();
    }
}
