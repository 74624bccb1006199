package io.c9fs.server;

import static io.c9fs.server.ServedExport.clunk;
import static io.c9fs.server.ServedExport.read;
import static io.c9fs.server.ServedExport.walk;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.Errno;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.client.NinepException;
import io.c9fs.transport.codec.Codec;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.proto.Stat;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Our client in 9P2000 and 9P2000.u against our server: open/create/stat/wstat semantics. */
class ClassicOpsTest {
    private static final int OREAD = 0, ORDWR = 2, OTRUNC = 0x10, ORCLOSE = 0x40;

    private ServedExport e;

    @BeforeEach
    void start() throws Exception {
        e = ServedExport.start();
    }

    @AfterEach
    void stop() throws Exception {
        e.close();
    }

    private static int errno(NinepClient c, Message t) {
        return assertThrows(NinepException.class, () -> c.call(t, Message.class)).errno();
    }

    /** The stat records of a directory read, decoded by the transport's own Rstat decoder. */
    private static Map<String, Stat> readDir(NinepClient c, int fid, Dialect d) throws Exception {
        Map<String, Stat> out = new HashMap<>();
        long off = 0;
        while (true) {
            byte[] b = read(c, fid, off, 300);
            if (b.length == 0) {
                return out;
            }
            off += b.length;
            ByteBuf in = Unpooled.wrappedBuffer(b);
            while (in.isReadable()) {
                int n = in.getUnsignedShortLE(in.readerIndex()) + 2;
                ByteBuf frame = Unpooled.buffer().writeIntLE(4 + 1 + 2 + 2 + n).writeByte(125)
                        .writeShortLE(1).writeShortLE(n).writeBytes(in, n);
                Stat st = ((Rstat) Codec.of(d).decode(frame).message()).stat();
                out.put(st.name(), st);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"9P2000", "9P2000.u"})
    void createWriteStatWstatReadDirRemove(String version) throws Exception {
        NinepClient c = e.attached(version);
        assertEquals(version, c.dialect().version());
        int f = walk(c, 0);
        Rcreate cr = c.call(new Tcreate(f, "file", 0644, ORDWR, ""), Rcreate.class);
        assertFalse(cr.qid().isDir());
        c.call(new Twrite(f, 0, Unpooled.copiedBuffer("plan 9", StandardCharsets.UTF_8)), Rwrite.class);
        assertEquals("plan 9", new String(read(c, f, 0, 100), StandardCharsets.UTF_8));
        Stat st = c.call(new Tstat(f), Rstat.class).stat();
        assertEquals("file", st.name());
        assertEquals(6, st.length());
        assertEquals(0644, st.mode() & 0777);
        assertEquals(Files.getAttribute(e.dir.resolve("file"), "unix:ino"), st.qid().path());
        clunk(c, f);
        assertEquals(Errno.EEXIST, errno(c, new Tcreate(walk(c, 0), "file", 0644, ORDWR, "")));

        // wstat: a new name renames within the directory; a length truncates; mode changes perms.
        int g = walk(c, 0, "file");
        Stat w = Stat.dontTouch();
        c.call(new Twstat(g, new Stat(w.type(), w.dev(), w.qid(), 0600, w.atime(), w.mtime(), 2L,
                "renamed", "", "", "", "", w.nUid(), w.nGid(), w.nMuid())), Rwstat.class);
        assertFalse(Files.exists(e.dir.resolve("file")));
        assertEquals("pl", Files.readString(e.dir.resolve("renamed")));
        assertEquals(0600, (Integer) Files.getAttribute(e.dir.resolve("renamed"), "unix:mode") & 0777);
        assertEquals("renamed", c.call(new Tstat(g), Rstat.class).stat().name());
        c.call(new Twstat(g, Stat.dontTouch()), Rwstat.class);

        // create DMDIR: a directory, opened for reading.
        int d = walk(c, 0);
        Rcreate dc = c.call(new Tcreate(d, "dir", Stat.DMDIR | 0755, OREAD, ""), Rcreate.class);
        assertTrue(dc.qid().isDir());
        assertTrue(Files.isDirectory(e.dir.resolve("dir")));
        for (int i = 0; i < 20; i++) {
            Files.writeString(e.dir.resolve("dir/f" + i), "x".repeat(i));
        }
        Map<String, Stat> listing = readDir(c, d, c.dialect());
        assertEquals(20, listing.size());
        assertEquals(7, listing.get("f7").length());
        assertEquals(Errno.EINVAL, errno(c, new Tread(d, 12345, 300)), "offsets are 0 or the last end");

        // OTRUNC and ORCLOSE.
        int t = walk(c, 0, "renamed");
        c.call(new Topen(t, ORDWR | OTRUNC | ORCLOSE), Ropen.class);
        assertEquals(0, Files.size(e.dir.resolve("renamed")));
        clunk(c, t);
        assertFalse(Files.exists(e.dir.resolve("renamed")), "ORCLOSE removed it");

        int r = walk(c, 0, "dir", "f3");
        c.call(new Tremove(r), Rremove.class);
        assertFalse(Files.exists(e.dir.resolve("dir/f3")));
        assertEquals(Errno.ENOENT, errno(c, new Twalk(0, c.allocFid(), java.util.List.of("nope"))));
        int full = walk(c, 0, "dir");
        assertEquals(Errno.ENOTEMPTY, errno(c, new Tremove(full)));
    }

    @Test
    void dotuSymlinksFifosAndNumericIds() throws Exception {
        NinepClient c = e.attached("9P2000.u");
        int l = walk(c, 0);
        c.call(new Tcreate(l, "ln", Stat.DMSYMLINK | 0777, OREAD, "/etc/passwd"), Rcreate.class);
        assertEquals("/etc/passwd", Files.readSymbolicLink(e.dir.resolve("ln")).toString());
        Stat st = c.call(new Tstat(l), Rstat.class).stat();
        assertTrue((st.mode() & Stat.DMSYMLINK) != 0);
        assertEquals("/etc/passwd", st.extension());
        assertEquals(Files.getAttribute(e.dir.resolve("ln"), "unix:uid"), st.nUid());
        int p = walk(c, 0);
        c.call(new Tcreate(p, "pipe", Stat.DMNAMEDPIPE | 0644, OREAD, ""), Rcreate.class);
        assertEquals(0010000, (Integer) Files.getAttribute(e.dir.resolve("pipe"), "unix:mode") & 0170000);
        assertEquals(Errno.EPERM, errno(c, new Tcreate(walk(c, 0), "dev", Stat.DMDEVICE | 0644, OREAD, "c 1 3")));
    }
}
