package io.c9fs.transport.stats;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.function.Supplier;

/**
 * A daemon's statistics on a Unix socket: every connection gets one report, written in full,
 * then the socket closes. {@code c9fs stats MOUNTPOINT} reads a mount's, {@code c9fs stats
 * --server ADDR} a c9fs-serve's ({@link #fetch}). The socket's name comes from what users know
 * the daemon by (the mountpoint, the server's listen address); it lives in /run/c9fs for root and
 * under $XDG_RUNTIME_DIR (or /tmp) for others, out of any mount so no name of an exported tree is
 * taken. Shared by the mount and the server, so both are read the same way.
 *
 * <p>Threads: one daemon thread accepts and answers; the report supplier must be safe to call from
 * it (it reads counters only).
 */
public final class StatsEndpoint implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(StatsEndpoint.class.getName());

    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread thread;

    private StatsEndpoint(Path socket, ServerSocketChannel server, Supplier<String> report) {
        this.socket = socket;
        this.server = server;
        this.thread = new Thread(() -> serve(report), "c9fs-stats");
        this.thread.setDaemon(true);
    }

    /** Listens for {@code mountpoint}; a failure is logged and the mount goes on without stats. */
    public static StatsEndpoint open(Path mountpoint, Supplier<String> report) {
        return openSocket(socketFor(mountpoint), report);
    }

    /** Listens at {@code socket}; a failure is logged and null returned (the daemon goes on without stats). */
    public static StatsEndpoint openSocket(Path socket, Supplier<String> report) {
        try {
            Files.createDirectories(socket.getParent());
            Files.deleteIfExists(socket); // left by a daemon that was killed
            ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            ch.bind(UnixDomainSocketAddress.of(socket));
            StatsEndpoint e = new StatsEndpoint(socket, ch, report);
            e.thread.start();
            return e;
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "no stats socket at " + socket + ": " + e.getMessage());
            return null;
        }
    }

    /** Where the daemon of {@code mountpoint} answers. */
    public static Path socketFor(Path mountpoint) {
        return socketNamed(mountpoint.toAbsolutePath().normalize().toString());
    }

    /**
     * Where the c9fs-serve listening on {@code address} (its canonical form, e.g.
     * "tcp!127.0.0.1!5640" or "unix:/path") answers.
     */
    public static Path socketForServer(String address) {
        return socketNamed("server " + address);
    }

    /** The socket path this endpoint listens on. */
    public Path socket() {
        return socket;
    }

    /**
     * Prints the report of the endpoint at {@code socket} (what {@code c9fs stats} does for a
     * mount and for a server); with {@code watch}, again every second until interrupted. Returns
     * the command's exit status: 1, after saying so on {@code err}, if no daemon answers there
     * ({@code whose} names it: "c9fs-mount daemon answers for /mnt").
     */
    public static int print(Path socket, boolean watch, String whose, PrintStream out, PrintStream err) {
        do {
            try {
                String report = fetch(socket);
                if (watch) {
                    out.println("-- " + LocalTime.now().truncatedTo(ChronoUnit.SECONDS));
                }
                out.print(report);
                out.flush();
            } catch (IOException e) {
                err.println("c9fs stats: no " + whose + " (" + socket + ": " + e.getMessage() + ")");
                return 1;
            }
            if (watch) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return 0;
                }
            }
        } while (watch);
        return 0;
    }

    /** Reads one report from the endpoint at {@code socket}. */
    public static String fetch(Path socket) throws IOException {
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(socket));
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            ByteBuffer b = ByteBuffer.allocate(8192);
            while (c.read(b) >= 0) {
                all.write(b.array(), 0, b.position());
                b.clear();
            }
            return all.toString(StandardCharsets.UTF_8);
        }
    }

    private static Path socketNamed(String key) {
        String dir;
        if ("root".equals(System.getProperty("user.name"))) {
            dir = "/run/c9fs";
        } else {
            String xdg = System.getenv("XDG_RUNTIME_DIR");
            dir = (xdg != null ? xdg : "/tmp") + "/c9fs-" + System.getProperty("user.name");
        }
        try {
            // A digest, not the path itself: socket paths are limited to 108 bytes.
            byte[] d = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return Path.of(dir, HexFormat.of().formatHex(d, 0, 12) + ".sock");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void serve(Supplier<String> report) {
        while (server.isOpen()) {
            try (SocketChannel c = server.accept()) {
                ByteBuffer b = ByteBuffer.wrap(report.get().getBytes(StandardCharsets.UTF_8));
                while (b.hasRemaining()) {
                    c.write(b);
                }
            } catch (IOException | RuntimeException e) {
                if (server.isOpen()) {
                    LOG.log(System.Logger.Level.DEBUG, "stats: " + e.getMessage());
                }
            }
        }
    }

    @Override
    public void close() {
        try {
            server.close();
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing stats socket: " + e.getMessage());
        }
    }
}
