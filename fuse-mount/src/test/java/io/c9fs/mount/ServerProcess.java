package io.c9fs.mount;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A 9P2000.L server process on 127.0.0.1 exporting one directory, for the length of a test:
 * diod, or c9fs-serve (io.c9fs.server.Main, run from this JVM's class path).
 */
final class ServerProcess implements AutoCloseable {
    /** Which server. */
    enum Kind { DIOD, C9FS_SERVE }

    final Kind kind;
    final Path export;
    final int port;
    private final Process process;

    private ServerProcess(Kind kind, Path export, int port, Process process) {
        this.kind = kind;
        this.export = export;
        this.port = port;
        this.process = process;
    }

    /** Starts the server on a free port and waits, bounded, until it accepts connections. */
    static ServerProcess start(Kind kind, Path export, Path log) throws IOException, InterruptedException {
        String diod = kind == Kind.DIOD ? TestEnv.diod() : null;
        for (int attempt = 0; attempt < 5; attempt++) {
            int port = freePort();
            List<String> cmd = kind == Kind.DIOD
                    ? List.of(diod, "-f", "-n", "-l", "127.0.0.1:" + port, "-e", export.toString(),
                            "-L", log.toString())
                    : List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                            "-cp", System.getProperty("java.class.path"), "io.c9fs.server.Main",
                            "--export", export.toString(), "--listen", "127.0.0.1:" + port);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (p.isAlive() && System.nanoTime() < deadline) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return new ServerProcess(kind, export, port, p);
                } catch (IOException notYet) {
                    Thread.sleep(50);
                }
            }
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
        }
        throw new IOException(kind + " did not start; see " + log);
    }

    /**
     * Starts the server again on {@code port} over the same export (after {@link #kill}); retries
     * for up to 60 s (a JVM starting on a loaded machine, the port still held by the killed
     * process's sockets for a moment).
     */
    static ServerProcess startOn(Kind kind, Path export, Path log, int port) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            Process p = new ProcessBuilder(command(kind, export, log, port)).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
            long until = Math.min(deadline, System.nanoTime() + TimeUnit.SECONDS.toNanos(30));
            while (p.isAlive() && System.nanoTime() < until) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return new ServerProcess(kind, export, port, p);
                } catch (IOException notYet) {
                    Thread.sleep(50);
                }
            }
            p.destroyForcibly();
            p.waitFor(5, TimeUnit.SECONDS);
            Thread.sleep(200);
        }
        throw new IOException(kind + " did not start again on port " + port + "; see " + log);
    }

    private static List<String> command(Kind kind, Path export, Path log, int port) {
        return kind == Kind.DIOD
                ? List.of(TestEnv.diod(), "-f", "-n", "-l", "127.0.0.1:" + port, "-e", export.toString(),
                        "-L", log.toString())
                : List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp", System.getProperty("java.class.path"), "io.c9fs.server.Main",
                        "--export", export.toString(), "--listen", "127.0.0.1:" + port);
    }

    String address() {
        return "127.0.0.1:" + port;
    }

    /** The aname to attach: diod wants the exported path, c9fs-serve exports one tree. */
    String aname() {
        return kind == Kind.DIOD ? export.toString() : "";
    }

    long pid() {
        return process.pid();
    }

    /** Kills the server at once (SIGKILL), as a crash would. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
