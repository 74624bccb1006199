package io.c9fs.transport.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * External programs tests depend on. The project rule: with CI=true a missing tool fails the
 * test; elsewhere the test is skipped with a message saying what is missing.
 */
public final class Tools {
    private static final String[] DIRS = {"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"};

    private Tools() {
    }

    public static boolean inCi() {
        return "true".equalsIgnoreCase(System.getenv("CI"));
    }

    /** The program's path, looked up in the usual directories and $PATH. */
    public static Optional<Path> find(String program) {
        String pathEnv = System.getenv("PATH");
        java.util.List<String> dirs = new java.util.ArrayList<>(java.util.List.of(DIRS));
        if (pathEnv != null) {
            dirs.addAll(java.util.List.of(pathEnv.split(":")));
        }
        for (String d : dirs) {
            Path p = Path.of(d, program);
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    /** The program's path; fails (CI) or skips (elsewhere) the calling test if it is missing. */
    public static Path require(String program) {
        Optional<Path> p = find(program);
        if (p.isEmpty()) {
            String why = program + " is not installed (looked in /usr/sbin, /usr/bin and $PATH)";
            if (inCi()) {
                Assertions.fail(why + "; CI=true requires it");
            }
            Assumptions.abort(why + "; skipping (set CI=true to make this a failure)");
        }
        return p.get();
    }
}
