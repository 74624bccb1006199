package io.c9fs.mount;

import java.io.IOException;
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
import java.util.HexFormat;
import java.util.function.Supplier;

/**
 * The daemon's statistics on a Unix socket: every connection gets one report, written in full,
 * then the socket closes. {@code c9fs stats MOUNTPOINT} ({@link StatsCommand}) reads it. The
 * socket's name comes from the mountpoint, so a mount's daemon is found from the path users know;
 * it lives in /run/c9fs for root and under $XDG_RUNTIME_DIR (or /tmp) for others, out of the mount
 * itself so no name of the exported tree is taken.
 *
 * <p>Threads: one daemon thread accepts and answers; the report supplier must be safe to call from
 * it (it reads counters only).
 */
final class StatsEndpoint implements AutoCloseable {
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
    static StatsEndpoint open(Path mountpoint, Supplier<String> report) {
        Path socket = socketFor(mountpoint);
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
    static Path socketFor(Path mountpoint) {
        Path real = mountpoint.toAbsolutePath().normalize();
        String dir;
        if ("root".equals(System.getProperty("user.name"))) {
            dir = "/run/c9fs";
        } else {
            String xdg = System.getenv("XDG_RUNTIME_DIR");
            dir = (xdg != null ? xdg : "/tmp") + "/c9fs-" + System.getProperty("user.name");
        }
        try {
            // A digest, not the path itself: socket paths are limited to 108 bytes.
            byte[] d = MessageDigest.getInstance("SHA-256").digest(real.toString().getBytes(StandardCharsets.UTF_8));
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
