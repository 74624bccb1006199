package io.c9fs.server;

import static io.c9fs.server.ServedExport.walk;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.Errno;
import io.c9fs.transport.client.ClientConfig;
import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.client.NinepException;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.proto.Qid;
import io.c9fs.transport.proto.Stat;
import io.netty.buffer.Unpooled;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Token authentication through Tauth, flush, and the c9fs-serve command line. */
class AuthAndCommandTest {
    private static int attachErrno(NinepClient c, int afid) {
        return assertThrows(NinepException.class, () -> c.call(new Tattach(c.allocFid(), afid,
                "u", "", Stat.NONUNAME), Rattach.class)).errno();
    }

    private static int authWith(NinepClient c, String token) throws Exception {
        int afid = c.allocFid();
        Qid aqid = c.call(new Tauth(afid, "u", "", Stat.NONUNAME), Rauth.class).aqid();
        assertTrue((aqid.type() & Qid.QTAUTH) != 0);
        c.call(new Twrite(afid, 0, Unpooled.copiedBuffer(token, StandardCharsets.UTF_8)), Rwrite.class);
        return afid;
    }

    @Test
    void attachNeedsTheTokenWrittenToAnAfid() throws Exception {
        byte[] token = "s3cret-token".getBytes(StandardCharsets.UTF_8);
        try (ServedExport e = ServedExport.start(cfg -> cfg.withAuthToken(token))) {
            NinepClient c = e.connect("9P2000.L");
            assertEquals(Errno.EACCES, attachErrno(c, Message.NOFID));
            assertEquals(Errno.EACCES, attachErrno(c, authWith(c, "wrong")));
            int afid = authWith(c, "s3cret-token\n");
            c.call(new Tattach(7, afid, "u", "", Stat.NONUNAME), Rattach.class);
            c.call(new Tgetattr(7, Rgetattr.BASIC), Rgetattr.class);
        }
        try (ServedExport e = ServedExport.start()) {
            NinepClient c = e.connect("9P2000.L");
            // Without a token Tauth fails as diod's does (ENOENT), telling clients to attach plainly.
            assertEquals(Errno.ENOENT, assertThrows(NinepException.class, () ->
                    c.call(new Tauth(c.allocFid(), "u", "", Stat.NONUNAME), Rauth.class)).errno());
        }
    }

    @Test
    void flushedRequestsLeaveNothingBehind() throws Exception {
        try (ServedExport e = ServedExport.start()) {
            Files.write(e.dir.resolve("f"), new byte[1 << 20]);
            NinepClient c = e.attached("9P2000.L");
            int f = walk(c, 0, "f");
            c.call(new Tlopen(f, 0), Rlopen.class);
            for (int i = 0; i < 200; i++) {
                CompletableFuture<Rread> r = c.rpc(new Tread(f, 0, 1 << 20), Rread.class);
                r.cancel(true);
                r.whenComplete((rr, ex) -> {
                    if (rr != null) {
                        rr.release();
                    }
                });
            }
            Rread last = c.call(new Tread(f, 0, 10), Rread.class);
            assertEquals(10, last.data().readableBytes());
            last.release();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (e.server.stats().inFlight() != 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(0, e.server.stats().inFlight());
        }
    }

    private static String parseError(String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(new ByteArrayOutputStream()), new PrintStream(err));
        assertTrue(status != 0, "status " + status);
        String text = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, text.lines().count(), "one line: " + text);
        return text;
    }

    @Test
    void commandLineErrorsAreOneLine() throws Exception {
        Files.createDirectories(ServedExport.SCRATCH);
        Path dir = Files.createTempDirectory(ServedExport.SCRATCH, "cli");
        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, "t0ken\n");
        try {
            assertTrue(parseError("--export", dir.resolve("missing").toString()).contains("does not exist"));
            assertTrue(parseError("--export", tokenFile.toString()).contains("not a directory"));
            assertTrue(parseError().contains("--export DIR is required"));
            assertTrue(parseError("--export", dir.toString(), "--bogus").contains("unknown argument"));
            assertTrue(parseError("--export", dir.toString(), "--listen", "0.0.0.0:5640")
                    .contains("without --auth-token FILE or --insecure"));
            assertEquals(true, Main.parse(new String[] {"--export", dir.toString(), "--listen",
                    "0.0.0.0:5640", "--insecure"}) != null);
            ServerConfig withToken = Main.parse(new String[] {"--export", dir.toString(), "--listen",
                    "0.0.0.0:5640", "--auth-token", tokenFile.toString(), "--read-only"});
            assertEquals("t0ken", new String(withToken.authToken(), StandardCharsets.UTF_8));
            assertTrue(withToken.readOnly());
            assertTrue(withToken.directReads(), "large uncached reads go around the page cache by default");
            assertFalse(Main.parse(new String[] {"--export", dir.toString(), "--no-direct-reads"}).directReads());
            try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
                String busyError = parseError("--export", dir.toString(), "--listen",
                        "127.0.0.1:" + busy.getLocalPort());
                assertTrue(busyError.contains("cannot listen") && busyError.contains("in use"), busyError);
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertEquals(0, Main.run(new String[] {"--help"}, new PrintStream(out), System.err));
            assertTrue(out.toString(StandardCharsets.UTF_8).contains("--read-only"));
            assertTrue(out.toString(StandardCharsets.UTF_8).contains("--no-direct-reads"));
        } finally {
            Files.delete(tokenFile);
            Files.delete(dir);
        }
    }

    @Test
    void serveUntilSigterm() throws Exception {
        Files.createDirectories(ServedExport.SCRATCH);
        Path dir = Files.createTempDirectory(ServedExport.SCRATCH, "cmd");
        Files.writeString(dir.resolve("hello"), "hi");
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = s.getLocalPort();
        }
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(List.of(java.toString(), "-cp",
                System.getProperty("java.class.path"), Main.class.getName(),
                "--export", dir.toString(), "--listen", "127.0.0.1:" + port))
                .redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8));
            String banner = out.readLine();
            assertTrue(banner != null && banner.contains("exporting " + dir), banner);
            try (NinepClient c = NinepClient.connect(NinepAddress.tcp("127.0.0.1", port),
                    ClientConfig.defaults())) {
                c.attach(0, "u", "");
                walk(c, 0, "hello");
            }
            p.destroy();
            assertTrue(p.waitFor(10, TimeUnit.SECONDS), "no exit 10 s after SIGTERM");
            assertEquals(143, p.exitValue(), "terminated by SIGTERM after the shutdown hook ran");
        } finally {
            p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            Files.delete(dir.resolve("hello"));
            Files.delete(dir);
        }
    }
}
