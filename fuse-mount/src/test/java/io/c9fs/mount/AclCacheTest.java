package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * -o aclcache: the kernel keeps POSIX ACLs (FUSE_POSIX_ACL), so a second `ls -l` asks the mount
 * nothing. Across two c9fs-mount daemons on one c9fs-serve, A with aclcache: B's change of an
 * ACL is recalled from A before B's call returns and A's next look sees it; one made on the server
 * machine shows within a bound. The kernel then checks permissions itself, ACLs included.
 */
@Tag("mount")
class AclCacheTest {
    private static Path acl;

    // allow_other for the permission check as another user; through fusermount3 (not root) it
    // would need user_allow_other in /etc/fuse.conf, and that check needs root anyway.
    @RegisterExtension
    static final TwoMounts.PerClass mounts = new TwoMounts.PerClass("acl-cache",
            Main.uid() == 0 ? "timeout=10,aclcache,allow_other" : "timeout=10,aclcache", "timeout=10");

    @BeforeAll
    static void compile() throws Exception {
        acl = TestEnv.compile("mount-acl");
    }

    private static String acl(String op, Path p) throws Exception {
        TestEnv.Result r = TestEnv.run(null, 30, acl.toString(), op, p.toString());
        assertEquals(0, r.status(), op + " " + p + ": " + r.output());
        return r.output().trim();
    }

    @Test
    void anAclChangedElsewhereShowsThrough() throws Exception {
        Path bd = Files.createDirectory(mounts.b().resolve("changed"));
        Files.writeString(bd.resolve("f"), "x");
        Path d = mounts.a().resolve("changed");
        // Listed and asked: the kernel now keeps "no ACL" for f.
        assertEquals("-rw-r--r--", TestEnv.lsMode(d, "f"));
        assertEquals("none", acl("get", d.resolve("f")));
        acl("set", bd.resolve("f"));
        // B's setxattr was answered after A's recall: no waiting allowed.
        assertEquals("acl", acl("get", d.resolve("f")));
        assertEquals("-rw-r-----+", TestEnv.lsMode(d, "f"));
        acl("rm", bd.resolve("f"));
        assertEquals("none", acl("get", d.resolve("f")));
        assertEquals("-rw-r-----", TestEnv.lsMode(d, "f"));
        // On the server machine: recalled from the server's inotify watch, asynchronously.
        acl("set", mounts.export().resolve("changed/f"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!acl("get", d.resolve("f")).equals("acl")) {
            if (System.nanoTime() > deadline) {
                fail("an ACL set on the server machine not seen within 10 s");
            }
            Thread.sleep(20);
        }
    }

    /** FUSE_POSIX_ACL implies default_permissions: another user is checked by the kernel, ACLs included. */
    @Test
    void theKernelChecksPermissionsWithTheAcl() throws Exception {
        Assumptions.assumeTrue(Main.uid() == 0 && TestEnv.executable("setpriv"), "needs root and setpriv");
        // Another user must reach the mount point (a temporary directory is the owner's only).
        Files.setPosixFilePermissions(mounts.scratch(), PosixFilePermissions.fromString("rwxr-xr-x"));
        Path d = Files.createDirectory(mounts.a().resolve("perm"));
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(d.resolve("private"), "secret");
        Files.setPosixFilePermissions(d.resolve("private"), PosixFilePermissions.fromString("rw-------"));
        Files.writeString(d.resolve("shared"), "shared");
        Files.setPosixFilePermissions(d.resolve("shared"), PosixFilePermissions.fromString("rw-------"));
        acl("set", d.resolve("shared"));
        assertNotEquals(0, asNobody("cat", d.resolve("private").toString()).status(), "a 0600 file of root");
        TestEnv.Result shared = asNobody("cat", d.resolve("shared").toString());
        assertEquals(0, shared.status(), shared.output());
        assertEquals("shared", shared.output());
        assertNotEquals(0, asNobody("touch", d.resolve("new").toString()).status(), "a 0755 directory of root");
        assertTrue(Files.notExists(d.resolve("new")));
    }

    private static TestEnv.Result asNobody(String... command) throws Exception {
        List<String> argv = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
        argv.addAll(List.of(command));
        return TestEnv.run(null, 30, argv.toArray(new String[0]));
    }
}
