package io.c9fs.server;

import static io.c9fs.server.ServedExport.clunk;
import static io.c9fs.server.ServedExport.walk;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.Errno;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.AttrDirent;
import io.c9fs.transport.proto.Message.Rgetattr;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Treaddirattr: the entries of Treaddir with the attributes Tgetattr would give, confined to the export. */
class ReaddirattrTest {
    private static final int O_RDONLY = 0;
    private ServedExport e;
    private NinepClient c;
    private final int root = 0;

    @BeforeEach
    void start() throws Exception {
        e = ServedExport.start();
        c = e.attached("9P2000.L.c9");
        assertEquals(Dialect.P9P2000_L_C9, c.dialect());
    }

    @AfterEach
    void stop() throws Exception {
        e.close();
    }

    private Map<String, AttrDirent> listAll(int dirFid, int count) throws Exception {
        Map<String, AttrDirent> all = new HashMap<>();
        long off = 0;
        while (true) {
            List<AttrDirent> r = c.call(new Message.Treaddirattr(dirFid, off, count),
                    Message.Rreaddirattr.class).entries();
            if (r.isEmpty()) {
                return all;
            }
            for (AttrDirent a : r) {
                assertEquals(null, all.put(a.dirent().name(), a), "listed twice: " + a.dirent().name());
            }
            off = r.get(r.size() - 1).dirent().offset();
        }
    }

    @Test
    void entriesCarryWhatGetattrSays() throws Exception {
        Path d = Files.createDirectory(e.dir.resolve("d"));
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            names.add("file-" + i);
            Files.writeString(d.resolve("file-" + i), "x".repeat(i));
        }
        Files.createDirectory(d.resolve("sub"));
        // A symlink out of the export: its own attributes, never its target's.
        Files.createSymbolicLink(d.resolve("out"), Path.of("/etc/passwd"));
        int dir = walk(c, root, "d");
        c.call(new Message.Tlopen(dir, O_RDONLY), Message.Rlopen.class);
        Map<String, AttrDirent> all = listAll(dir, 2000);
        assertEquals(300 + 2 + 2, all.size(), all.keySet().toString());
        for (int i = 0; i < 300; i += 37) {
            AttrDirent a = all.get("file-" + i);
            int f = walk(c, root, "d", "file-" + i);
            Rgetattr g = c.call(new Message.Tgetattr(f, Rgetattr.BASIC), Rgetattr.class);
            clunk(c, f);
            assertEquals(g, a.attr(), "file-" + i);
            assertEquals(i, a.attr().size());
            assertEquals(g.qid().path(), a.dirent().qid().path());
            assertEquals(8, a.dirent().type());
        }
        AttrDirent sub = all.get("sub");
        assertTrue(sub.attr().qid().isDir());
        assertEquals(040000, sub.attr().mode() & 0170000);
        AttrDirent out = all.get("out");
        assertEquals(0120000, out.attr().mode() & 0170000, "lstat, not stat");
        assertEquals("/etc/passwd".length(), out.attr().size());
        // Leased (a 9P2000.L.c9 connection), no ACL flags.
        assertEquals(AttrDirent.LEASED, out.flags());
        assertEquals(AttrDirent.LEASED, all.get("file-1").flags(), "no ACL on a fresh file");
        AttrDirent dot = all.get(".");
        assertNotNull(dot);
        assertTrue(dot.attr().qid().isDir());
        clunk(c, dir);
    }

    @Test
    void theRootsParentIsTheRoot() throws Exception {
        int dir = walk(c, root);
        c.call(new Message.Tlopen(dir, O_RDONLY), Message.Rlopen.class);
        Map<String, AttrDirent> all = listAll(dir, 8192);
        assertEquals(all.get(".").attr().qid().path(), all.get("..").attr().qid().path());
    }

    @Test
    void aClosedDirectoryFidIsRefusedAndPlain9P2000LCannotSendIt() throws Exception {
        int dir = walk(c, root);
        assertThrows(Exception.class, () -> c.call(new Message.Treaddirattr(dir, 0, 8192),
                Message.Rreaddirattr.class));
        NinepClient plain = e.attached("9P2000.L");
        assertThrows(Exception.class, () -> plain.call(new Message.Treaddirattr(0, 0, 8192),
                Message.Rreaddirattr.class));
    }

    @Test
    void aclFlagsFollowTheXattrs() throws Exception {
        Path f = Files.writeString(e.dir.resolve("acl"), "x");
        Path g = Files.writeString(e.dir.resolve("plain"), "x");
        // POSIX ACL xattr: version 2, then (tag, perm, id): USER_OBJ rw, USER 1234 r, GROUP_OBJ r, MASK r, OTHER r.
        ByteBuffer acl = ByteBuffer.allocateDirect(4 + 5 * 8).order(ByteOrder.LITTLE_ENDIAN);
        acl.putInt(2);
        int[][] entries = {{0x01, 6, -1}, {0x02, 4, 1234}, {0x04, 4, -1}, {0x10, 4, -1}, {0x20, 4, -1}};
        for (int[] en : entries) {
            acl.putShort((short) en[0]).putShort((short) en[1]).putInt(en[2]);
        }
        acl.flip();
        Path shared = Files.createDirectory(e.dir.resolve("shared"));
        Files.createDirectory(e.dir.resolve("private"));
        try {
            Posix.setxattr(f.toString(), "system.posix_acl_access", acl, 0);
            Posix.setxattr(shared.toString(), "system.posix_acl_default", acl.duplicate(), 0);
        } catch (ErrnoException x) {
            org.junit.jupiter.api.Assumptions.assumeTrue(false, "no POSIX ACLs on " + e.dir + ": " + x);
        }
        Files.createSymbolicLink(e.dir.resolve("link"), f.getFileName());
        // Every way of probing must agree: getxattrat(2) (Linux 6.13), lgetxattr through /proc,
        // and getxattrat refused as a seccomp filter refuses calls it does not know (EPERM),
        // after which the server probes through /proc for good.
        for (int way = 0; way < 3; way++) {
            boolean at = way != 1;
            Posix.probeXattrsAt(at);
            Posix.getxattratRefusal = way == 2 ? Errno.EPERM : 0;
            try {
                int dir = walk(c, root);
                c.call(new Message.Tlopen(dir, O_RDONLY), Message.Rlopen.class);
                Map<String, AttrDirent> all = listAll(dir, 8192);
                int acls = AttrDirent.HAS_ACL_ACCESS | AttrDirent.HAS_ACL_DEFAULT;
                assertEquals(AttrDirent.HAS_ACL_ACCESS, all.get("acl").flags() & acls, "way " + way);
                assertEquals(0, all.get("plain").flags() & acls, "way " + way);
                assertEquals(AttrDirent.HAS_ACL_DEFAULT, all.get("shared").flags() & acls, "way " + way);
                assertEquals(0, all.get("private").flags() & acls, "way " + way);
                // A symlink's ACL is never asked for (nor its target's, through it).
                assertEquals(0, all.get("link").flags() & acls, "way " + way);
                clunk(c, dir);
                if (way == 2) {
                    assertFalse(Posix.probesXattrsAt(), "getxattrat given up after an EPERM that /proc does not give");
                }
            } finally {
                Posix.probeXattrsAt(true);
                Posix.getxattratRefusal = 0;
            }
        }
        assertTrue(Files.exists(g));
    }
}
