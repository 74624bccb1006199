package io.c9fs.server;

import io.c9fs.transport.client.ClientConfig;
import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Rwalk;
import io.c9fs.transport.proto.Message.Twalk;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A real {@link FileServer} on 127.0.0.1 (free port) over a fresh directory under
 * /tmp/c9fs-server/, and the clients connected to it; {@link #close} closes all of it and
 * deletes the directory.
 */
public final class ServedExport implements AutoCloseable {
    public static final Path SCRATCH = Path.of("/tmp/c9fs-server");

    final Path base;
    public final Path dir;
    public final FileServer server;
    private final List<NinepClient> clients = new ArrayList<>();

    private ServedExport(Path base, Path dir, FileServer server) {
        this.base = base;
        this.dir = dir;
        this.server = server;
    }

    public static ServedExport start() throws Exception {
        return start(c -> c);
    }

    public static ServedExport start(java.util.function.UnaryOperator<ServerConfig> tune) throws Exception {
        Files.createDirectories(SCRATCH);
        Path base = Files.createTempDirectory(SCRATCH, "t");
        Path dir = Files.createDirectory(base.resolve("export"));
        FileServer server = FileServer.start(
                tune.apply(ServerConfig.of(dir, NinepAddress.tcp("127.0.0.1", 0))));
        return new ServedExport(base, dir, server);
    }

    /** A client of the given dialect ("9P2000.L" ...) with a 10 s request timeout. */
    public NinepClient connect(String version) throws IOException {
        NinepClient c = NinepClient.connect(server.address(), ClientConfig.defaults()
                .withVersion(version).withRequestTimeout(Duration.ofSeconds(10)));
        synchronized (clients) {
            clients.add(c);
        }
        return c;
    }

    /** A 9P2000.L client attached at fid 0 (the client's first allocated fid). */
    public NinepClient attached(String version) throws IOException {
        NinepClient c = connect(version);
        c.attach(c.allocFid(), "root", "");
        return c;
    }

    /** Walks from {@code fid} to a new fid; returns it. Fails unless every name was walked. */
    public static int walk(NinepClient c, int fid, String... names) throws IOException {
        int nf = c.allocFid();
        Rwalk r = c.call(new Twalk(fid, nf, List.of(names)), Rwalk.class);
        if (r.wqids().size() != names.length) {
            throw new IOException("walk stopped after " + r.wqids().size() + " names");
        }
        return nf;
    }

    /** The bytes of one Tread (fewer than {@code count} at the end of the file). */
    public static byte[] read(NinepClient c, int fid, long offset, int count) throws IOException {
        Message.Rread r = c.call(new Message.Tread(fid, offset, count), Message.Rread.class);
        try {
            byte[] b = new byte[r.data().readableBytes()];
            r.data().readBytes(b);
            return b;
        } finally {
            r.release();
        }
    }

    public static void clunk(NinepClient c, int fid) throws IOException {
        c.call(new Message.Tclunk(fid), Message.Rclunk.class);
        c.freeFid(fid);
    }

    @Override
    public void close() throws IOException {
        try {
            synchronized (clients) {
                for (NinepClient c : clients) {
                    c.close();
                }
            }
        } finally {
            server.close();
            try (Stream<Path> walk = Files.walk(base)) {
                for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
