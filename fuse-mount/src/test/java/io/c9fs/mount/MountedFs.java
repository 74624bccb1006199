package io.c9fs.mount;

import io.c9fs.fuse.FuseFilesystem;
import io.c9fs.fuse.FuseMount;
import io.c9fs.fuse.FuseSession;
import io.c9fs.fuse.MountOptions;
import io.c9fs.transport.client.ClientConfig;
import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Qid;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A 9P server exporting a scratch directory, mounted in this JVM through {@link NinepFilesystem}.
 * {@link #close} tears down everything it started, in reverse order, also after failures
 * (lazy unmount as the last resort).
 */
final class MountedFs implements AutoCloseable {
    final Path scratch;
    final Path export;
    final Path mnt;
    final ServerProcess server;
    final NinepClient client;
    final FuseFilesystem fs;
    final FuseSession session;

    private MountedFs(Path scratch, Path export, Path mnt, ServerProcess server, NinepClient client,
                      FuseFilesystem fs, FuseSession session) {
        this.scratch = scratch;
        this.export = export;
        this.mnt = mnt;
        this.server = server;
        this.client = client;
        this.fs = fs;
        this.session = session;
    }

    static MountedFs diod(String name) throws Exception {
        return start(ServerProcess.Kind.DIOD, name, Duration.ofSeconds(1), Duration.ofSeconds(30));
    }

    /** A server on a fresh export, mounted with the given cache timeout and 9P request timeout. */
    static MountedFs start(ServerProcess.Kind kind, String name, Duration actimeo, Duration requestTimeout)
            throws Exception {
        return start(kind, name, actimeo, requestTimeout, "9P2000.L");
    }

    /** As above, offering {@code version}: 9P2000.u and 9P2000 get a {@link LegacyFilesystem}. */
    static MountedFs start(ServerProcess.Kind kind, String name, Duration actimeo, Duration requestTimeout,
                           String version) throws Exception {
        TestEnv.requireFuse();
        Path scratch = TestEnv.freshDir(name);
        Path export = Files.createDirectory(scratch.resolve("export"));
        Path mnt = Files.createDirectory(scratch.resolve("mnt"));
        ServerProcess server = null;
        NinepClient client = null;
        try {
            server = ServerProcess.start(kind, export, scratch.resolve("server.log"));
            ClientConfig cfg = ClientConfig.defaults().withAname(server.aname()).withRequestTimeout(requestTimeout)
                    .withVersion(version);
            client = NinepClient.connect(NinepAddress.parse(server.address()), cfg);
            int rootFid = client.allocFid();
            Qid root = client.attach(rootFid, cfg.uname(), server.aname());
            long t = actimeo.toNanos();
            CachePolicy policy = new CloseToOpenPolicy(t, t, t);
            FuseFilesystem fs = client.dialect() == Dialect.P9P2000_L
                    ? new NinepFilesystem(client, rootFid, root, policy, requestTimeout,
                            MountOptions.defaults("c9fs-test").workers() - 2)
                    : new LegacyFilesystem(client, rootFid, root, policy, Main.uid(), Main.gid(), requestTimeout);
            FuseSession session = FuseMount.mount(mnt, MountOptions.defaults("c9fs-test"), fs);
            return new MountedFs(scratch, export, mnt, server, client, fs, session);
        } catch (Exception | Error e) {
            TestEnv.forceUnmount(mnt);
            if (client != null) {
                client.close();
            }
            if (server != null) {
                server.close();
            }
            TestEnv.delete(scratch);
            throw e;
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } finally {
            if (isMounted(mnt)) {
                TestEnv.forceUnmount(mnt);
            }
            client.close();
            server.close();
            TestEnv.delete(scratch);
        }
    }

    static boolean isMounted(Path mp) {
        try {
            String real = mp.toAbsolutePath().normalize().toString();
            for (String l : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = l.split(" ");
                if (f.length > 4 && f[4].equals(real)) {
                    return true;
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }
}
