package io.c9fs.mount;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One c9fs-serve exporting a fresh scratch folder's {@code export}, and two c9fs-mount daemons
 * on it, at {@code a} and {@code b}: the fixture of the tests in which one mount must see what
 * another client changed. {@link #close} stops the daemons and the server and unmounts what a
 * daemon left mounted, also when the start failed half-way.
 */
final class TwoMounts implements AutoCloseable {
    final Path scratch;
    final Path export;
    ServerProcess server;
    Path a;
    Path b;
    private final List<Process> daemons = new ArrayList<>();

    private TwoMounts(String name) throws Exception {
        scratch = TestEnv.freshDir(name);
        export = Files.createDirectory(scratch.resolve("export"));
    }

    /**
     * The fixture of a whole test class, started before its first test and closed after its last:
     * {@code @RegisterExtension static final TwoMounts.PerClass mounts = new TwoMounts.PerClass(...)}.
     */
    static final class PerClass implements BeforeAllCallback, AfterAllCallback {
        private final String name;
        private final String optionsA;
        private final String optionsB;
        private TwoMounts mounts;

        PerClass(String name, String optionsA, String optionsB) {
            this.name = name;
            this.optionsA = optionsA;
            this.optionsB = optionsB;
        }

        @Override
        public void beforeAll(ExtensionContext context) throws Exception {
            mounts = start(name, optionsA, optionsB);
        }

        @Override
        public void afterAll(ExtensionContext context) throws Exception {
            if (mounts != null) {
                mounts.close();
            }
        }

        Path scratch() {
            return mounts.scratch;
        }

        Path export() {
            return mounts.export;
        }

        Path a() {
            return mounts.a;
        }

        Path b() {
            return mounts.b;
        }
    }

    /** Needs FUSE (fails under CI=true without it, else skips: {@link TestEnv#requireFuse}). */
    static TwoMounts start(String name, String optionsA, String optionsB) throws Exception {
        TestEnv.requireFuse();
        TwoMounts m = new TwoMounts(name);
        try {
            m.server = ServerProcess.start(ServerProcess.Kind.C9FS_SERVE, m.export, m.scratch.resolve("server.log"));
            m.a = m.mount("a", optionsA);
            m.b = m.mount("b", optionsB);
            return m;
        } catch (Exception | Error e) {
            m.close();
            throw e;
        }
    }

    private Path mount(String name, String options) throws Exception {
        Path mnt = Files.createDirectory(scratch.resolve(name));
        daemons.add(MountDaemon.start(server.address(), mnt, options, scratch.resolve(name + ".log")));
        return mnt;
    }

    @Override
    public void close() throws Exception {
        for (Process p : daemons) {
            p.destroy();
        }
        for (Process p : daemons) {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
        for (Path mnt : new Path[] {a, b}) {
            if (mnt != null && MountedFs.isMounted(mnt)) {
                TestEnv.forceUnmount(mnt);
            }
        }
        if (server != null) {
            server.close();
        }
        TestEnv.delete(scratch);
    }
}
