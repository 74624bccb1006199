package io.c9fs.fuse;

import java.io.IOException;
import java.nio.file.Path;

/** A {@link MemFs} mounted for one test; close() always tears the mount down. */
final class TestMount implements AutoCloseable {
    final MemFs fs;
    final Path mountpoint;
    final FuseSession session;

    private TestMount(MemFs fs, Path mountpoint, FuseSession session) {
        this.fs = fs;
        this.mountpoint = mountpoint;
        this.session = session;
    }

    static TestMount mount(MemFs fs, MountOptions options) throws Exception {
        FuseTestSupport.requireFuse();
        Path mp = FuseTestSupport.newMountpoint();
        try {
            return new TestMount(fs, mp, FuseMount.mount(mp, options, fs));
        } catch (Exception | Error e) {
            FuseTestSupport.cleanup(mp);
            throw e;
        }
    }

    static TestMount mount(MemFs fs) throws Exception {
        return mount(fs, MountOptions.defaults("memfs").withWorkers(4));
    }

    Path path(String name) {
        return mountpoint.resolve(name);
    }

    @Override
    public void close() throws IOException {
        try {
            session.close();
        } finally {
            FuseTestSupport.cleanup(mountpoint);
        }
    }
}
