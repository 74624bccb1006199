package io.c9fs.transport.testing;

import io.c9fs.transport.client.NinepAddress;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real diod (9P2000.L server) exporting a directory on 127.0.0.1 at a free port, for interop
 * tests and benchmarks. Runs in the foreground without authentication and without a config
 * file; its log goes to {@code EXPORT-diod.log} beside the export, removed on close. {@link #close} stops it (SIGTERM,
 * then SIGKILL after 5 s). Attach with aname = {@link #aname()}.
 */
public final class DiodServer implements AutoCloseable {
    private final Process process;
    private final Path export;
    private final int port;
    private final Path log;

    private DiodServer(Process process, Path export, int port, Path log) {
        this.process = process;
        this.export = export;
        this.port = port;
        this.log = log;
    }

    /** Starts diod over {@code export}; fails or skips the test if diod is not installed (see {@link Tools}). */
    public static DiodServer start(Path export) throws IOException, InterruptedException {
        Path diod = Tools.require("diod");
        IOException last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int port = freePort();
            Path log = export.resolveSibling(export.getFileName() + "-diod.log");
            Process p = new ProcessBuilder(List.of(diod.toString(), "-f", "-n", "-c", "/dev/null",
                    "-L", "stderr", "-l", "127.0.0.1:" + port, "-e", export.toString()))
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline && p.isAlive()) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return new DiodServer(p, export, port, log);
                } catch (IOException e) {
                    last = e;
                    Thread.sleep(20);
                }
            }
            p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            last = new IOException("diod did not listen on port " + port + ": "
                    + (Files.exists(log) ? Files.readString(log) : "no log"), last);
            Files.deleteIfExists(log);
        }
        throw last;
    }

    /**
     * Starts diod over {@code export} on {@code port} (a restart after {@link #kill}): tries for
     * up to 15 s, as the port may still be held by the killed process's sockets for a moment.
     */
    public static DiodServer startOn(Path export, int port) throws IOException, InterruptedException {
        Path diod = Tools.require("diod");
        Path log = export.resolveSibling(export.getFileName() + "-diod.log");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        IOException last = null;
        while (System.nanoTime() < deadline) {
            Process p = new ProcessBuilder(List.of(diod.toString(), "-f", "-n", "-c", "/dev/null",
                    "-L", "stderr", "-l", "127.0.0.1:" + port, "-e", export.toString()))
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .start();
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (System.nanoTime() < until && p.isAlive()) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return new DiodServer(p, export, port, log);
                } catch (IOException e) {
                    last = e;
                    Thread.sleep(20);
                }
            }
            p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            Thread.sleep(200);
        }
        throw new IOException("diod did not listen again on port " + port, last);
    }

    /** SIGKILL, as a crash: no goodbye to its clients. Waits (bounded) for it to be gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    /** diod's process id (for reading its CPU time from /proc). */
    public long pid() {
        return process.pid();
    }

    public NinepAddress address() {
        return NinepAddress.tcp("127.0.0.1", port);
    }

    public int port() {
        return port;
    }

    public Path export() {
        return export;
    }

    /** The aname that attaches to the export. */
    public String aname() {
        return export.toString();
    }

    /** diod's log so far (for failure messages). */
    public String log() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    @Override
    public void close() throws IOException {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        Files.deleteIfExists(log);
    }
}
