package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * -o noacl: mount A shows no POSIX ACLs (EOPNOTSUPP, as NFS's noacl), while B, on the same
 * c9fs-serve with the default, shows them; A's other xattrs still go through, and the server still
 * holds and enforces the ACLs A cannot see.
 */
@Tag("mount")
class NoAclTest {
    private static Path acl;

    @RegisterExtension
    static final TwoMounts.PerClass mounts = new TwoMounts.PerClass("no-acl", "timeout=10,noacl", "timeout=10");

    @BeforeAll
    static void compile() throws Exception {
        acl = TestEnv.compile("mount-acl");
    }

    private static TestEnv.Result acl(String op, Path p) throws Exception {
        return TestEnv.run(null, 30, acl.toString(), op, p.toString());
    }

    @Test
    void aclsAreNotShownNorSetButStayOnTheServer() throws Exception {
        Path bd = Files.createDirectory(mounts.b().resolve("hidden"));
        Files.writeString(bd.resolve("f"), "x");
        Files.writeString(bd.resolve("plain"), "x");
        TestEnv.Result set = acl("set", bd.resolve("f"));
        assertEquals(0, set.status(), set.output());
        assertEquals("-rw-r-----+", TestEnv.lsMode(bd, "f"));

        Path ad = mounts.a().resolve("hidden");
        TestEnv.Result get = acl("get", ad.resolve("f"));
        assertEquals(1, get.status(), get.output());
        assertTrue(get.output().contains("Operation not supported"), get.output());
        assertEquals(1, acl("get", ad.resolve("plain")).status(), "EOPNOTSUPP for a file without one too");
        assertEquals("-rw-r-----", TestEnv.lsMode(ad, "f"), "no '+' through the noacl mount");

        TestEnv.Result setA = acl("set", ad.resolve("plain"));
        assertEquals(1, setA.status(), setA.output());
        assertTrue(setA.output().contains("Operation not supported"), setA.output());
        TestEnv.Result rmA = acl("rm", ad.resolve("f"));
        assertEquals(1, rmA.status(), rmA.output());
        assertTrue(rmA.output().contains("Operation not supported"), rmA.output());

        // Neither attempt reached the server: B still sees f's ACL and none on plain.
        assertEquals("acl", acl("get", bd.resolve("f")).output().trim());
        assertEquals("none", acl("get", bd.resolve("plain")).output().trim());
    }

    @Test
    void otherXattrsGoThroughAndListsLeaveTheAclOut() throws Exception {
        Path bd = Files.createDirectory(mounts.b().resolve("xattrs"));
        Path bf = Files.writeString(bd.resolve("f"), "x");
        assertEquals(0, acl("set", bf).status());
        Path af = mounts.a().resolve("xattrs/f");
        UserDefinedFileAttributeView a = Files.getFileAttributeView(af, UserDefinedFileAttributeView.class);
        a.write("color", StandardCharsets.UTF_8.encode("blue"));

        UserDefinedFileAttributeView b = Files.getFileAttributeView(bf, UserDefinedFileAttributeView.class);
        ByteBuffer value = ByteBuffer.allocate(16);
        b.read("color", value);
        assertEquals("blue", new String(value.array(), 0, value.position(), StandardCharsets.UTF_8));

        // The names listxattr(2) gives: B's include the ACL, A's the same but the ACL.
        TestEnv.Result onA = acl("list", af);
        TestEnv.Result onB = acl("list", bf);
        assertEquals(0, onA.status(), onA.output());
        assertEquals(0, onB.status(), onB.output());
        assertTrue(onB.output().lines().anyMatch(l -> l.equals("system.posix_acl_access")), onB.output());
        assertEquals(onB.output().lines().filter(l -> !l.startsWith("system.posix_acl_")).sorted().toList(),
                onA.output().lines().sorted().toList());
        assertTrue(onA.output().lines().anyMatch(l -> l.equals("user.color")), onA.output());
    }
}
