package io.c9fs.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.testing.Tools;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** diod's own 9P2000.L client tools (diodls, diodcat) against our export. */
class DiodToolsTest {
    private record Result(int status, byte[] out, String err) {
    }

    private static Result run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).start();
        p.getOutputStream().close();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread pump = new Thread(() -> {
            try (InputStream in = p.getInputStream()) {
                in.transferTo(out);
            } catch (Exception ignored) {
                // The process died; its status tells.
            }
        });
        pump.start();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            throw new AssertionError(cmd + " did not finish in 30 s");
        }
        pump.join(5000);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Result(p.exitValue(), out.toByteArray(), err);
    }

    @Test
    void diodlsListsAndDiodcatReads() throws Exception {
        Path diodls = Tools.require("diodls");
        Path diodcat = Tools.require("diodcat");
        try (ServedExport e = ServedExport.start()) {
            byte[] big = new byte[3 * 1024 * 1024 + 17];
            new Random(7).nextBytes(big);
            Files.write(e.dir.resolve("big.dat"), big);
            Files.writeString(e.dir.resolve("small.txt"), "small\n");
            Files.createDirectory(e.dir.resolve("sub"));
            Files.writeString(e.dir.resolve("sub/inner"), "inner\n");
            String server = "127.0.0.1:" + e.server.port();
            String aname = e.dir.toString();

            Result ls = run(List.of(diodls.toString(), "-s", server, "-a", aname));
            assertEquals(0, ls.status(), ls.err());
            Set<String> names = new TreeSet<>(List.of(
                    new String(ls.out(), StandardCharsets.UTF_8).split("\\s+")));
            assertTrue(names.containsAll(List.of("big.dat", "small.txt", "sub")), names.toString());

            Result cat = run(List.of(diodcat.toString(), "-m", "1048576", "-s", server, "-a", aname,
                    "big.dat"));
            assertEquals(0, cat.status(), cat.err());
            assertArrayEquals(big, cat.out());
            Result two = run(new ArrayList<>(List.of(diodcat.toString(), "-s", server, "-a", aname,
                    "small.txt", "sub/inner")));
            assertEquals(0, two.status(), two.err());
            assertEquals("small\ninner\n", new String(two.out(), StandardCharsets.UTF_8));
            Result missing = run(List.of(diodcat.toString(), "-s", server, "-a", aname, "nope"));
            assertTrue(missing.status() != 0, "a missing file is an error");
        }
    }
}
