package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What a listing leaves cached under leases, across two c9fs-mount daemons on one c9fs-serve: a
 * mount remembers which xattrs a file lacks (so `ls -l` does not ask the server for every file's
 * ACL), and a second listing reuses the attributes the kernel holds; both must give way as soon
 * as another client, or a process on the server, changes the file.
 */
@Tag("mount")
class ListingCacheTest {

    @RegisterExtension
    static final TwoMounts.PerClass mounts = new TwoMounts.PerClass("listing-cache", "timeout=10", "timeout=10");

    private static UserDefinedFileAttributeView xattrs(Path p) {
        return Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
    }

    private static String read(Path p, String name) throws IOException {
        UserDefinedFileAttributeView v = xattrs(p);
        ByteBuffer buf = ByteBuffer.allocate(v.size(name));
        v.read(name, buf);
        return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
    }

    private static String readWithin(Path p, String name, long seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            try {
                return read(p, name);
            } catch (IOException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    @Test
    void anotherClientsXattrIsSeenAtOnce() throws Exception {
        Path d = Files.createDirectory(mounts.a().resolve("by-client"));
        Files.writeString(d.resolve("f"), "x");
        // The listing asks for the ACL along with the attributes; the read remembers the absence.
        TestEnv.Result ls = TestEnv.run(d, 60, "ls", "-l");
        assertEquals(0, ls.status(), ls.output());
        Path fa = d.resolve("f");
        for (int i = 0; i < 2; i++) {
            assertThrows(IOException.class, () -> read(fa, "c9fs.absent"));
        }
        xattrs(mounts.b().resolve("by-client/f")).write("c9fs.absent", StandardCharsets.UTF_8.encode("from-b"));
        // B's write was answered after A's recall: no waiting allowed.
        assertEquals("from-b", read(fa, "c9fs.absent"));
        xattrs(mounts.b().resolve("by-client/f")).delete("c9fs.absent");
        assertThrows(IOException.class, () -> read(fa, "c9fs.absent"));
    }

    @Test
    void aSecondListingShowsAnotherClientsChanges() throws Exception {
        Path d = Files.createDirectory(mounts.a().resolve("relisted"));
        for (int i = 0; i < 20; i++) {
            Files.writeString(d.resolve("f" + i), "x");
        }
        TestEnv.Result first = TestEnv.run(d, 60, "ls", "-ln");
        assertEquals(0, first.status(), first.output());
        Path fb = mounts.b().resolve("relisted/f7");
        Files.writeString(fb, "longer than before");
        TestEnv.run(null, 30, "chmod", "600", fb.toString());
        TestEnv.Result again = TestEnv.run(d, 60, "ls", "-ln");
        String line = again.output().lines().filter(l -> l.endsWith(" f7")).findFirst().orElse("");
        assertTrue(line.startsWith("-rw------- ") && line.contains(" 18 "), again.output());
    }

    @Test
    void ownChangesAreSeenAtOnce() throws Exception {
        Path f = Files.writeString(mounts.a().resolve("own"), "x");
        assertThrows(IOException.class, () -> read(f, "c9fs.own"));
        xattrs(f).write("c9fs.own", StandardCharsets.UTF_8.encode("mine"));
        assertEquals("mine", read(f, "c9fs.own"));
    }

    @Test
    void aChangeOnTheServerMachineIsSeen() throws Exception {
        Path f = Files.writeString(mounts.a().resolve("local"), "x");
        assertThrows(IOException.class, () -> read(f, "c9fs.local"));
        xattrs(mounts.export().resolve("local")).write("c9fs.local", StandardCharsets.UTF_8.encode("on-server"));
        // Recalled from the server's inotify watch, asynchronously: bounded, generous for a loaded box.
        assertEquals("on-server", readWithin(f, "c9fs.local", 10));
    }
}
