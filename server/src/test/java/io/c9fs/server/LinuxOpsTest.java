package io.c9fs.server;

import static io.c9fs.server.ServedExport.clunk;
import static io.c9fs.server.ServedExport.walk;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.Errno;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.client.NinepException;
import io.c9fs.transport.proto.Dirent;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.proto.Qid;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Our 9P2000.L client against our server, one operation after another, checked on the host. */
class LinuxOpsTest {
    private static final int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_TRUNC = 01000,
            O_EXCL = 0200, O_APPEND = 02000;

    private ServedExport e;
    private NinepClient c;
    private final int root = 0;

    @BeforeEach
    void start() throws Exception {
        e = ServedExport.start();
        c = e.attached("9P2000.L");
    }

    @AfterEach
    void stop() throws Exception {
        e.close();
    }

    private int errno(Message t) {
        NinepException ex = assertThrows(NinepException.class, () -> c.call(t, Message.class));
        return ex.errno();
    }

    private byte[] read(int fid, long offset, int count) throws Exception {
        return ServedExport.read(c, fid, offset, count);
    }

    private int write(int fid, long offset, String s) throws Exception {
        return c.call(new Twrite(fid, offset, Unpooled.copiedBuffer(s, StandardCharsets.UTF_8)),
                Rwrite.class).count();
    }

    private Rgetattr getattr(int fid) throws Exception {
        return c.call(new Tgetattr(fid, Rgetattr.ALL), Rgetattr.class);
    }

    private int create(String name, int flags, int mode) throws Exception {
        int fid = walk(c, root);
        c.call(new Tlcreate(fid, name, flags, mode, 0), Rlcreate.class);
        return fid;
    }

    @Test
    void walkOpenReadGetattr() throws Exception {
        Files.createDirectories(e.dir.resolve("a/b"));
        Files.writeString(e.dir.resolve("a/b/f"), "hello, world");
        int f = walk(c, root, "a", "b", "f");
        Rgetattr a = getattr(f);
        assertEquals(12, a.size());
        assertEquals(0100000, a.mode() & 0170000);
        assertEquals(Files.getAttribute(e.dir.resolve("a/b/f"), "unix:ino"), a.qid().path());
        Rlopen o = c.call(new Tlopen(f, O_RDONLY), Rlopen.class);
        assertEquals(Qid.QTFILE, o.qid().type());
        assertEquals("hello, world", new String(read(f, 0, 100), StandardCharsets.UTF_8));
        assertEquals("world", new String(read(f, 7, 100), StandardCharsets.UTF_8));
        assertEquals(0, read(f, 100, 10).length);
        assertEquals(Errno.EBADF, errno(new Twrite(f, 0, Unpooled.wrappedBuffer(new byte[1]))));
        clunk(c, f);

        // A partial walk answers the qids of the names that exist; a first name that does not fails.
        int nf = c.allocFid();
        Rwalk w = c.call(new Twalk(root, nf, List.of("a", "nope", "x")), Rwalk.class);
        assertEquals(1, w.wqids().size());
        assertTrue(w.wqids().get(0).isDir());
        assertEquals(Errno.ENOENT, errno(new Twalk(root, nf, List.of("nope"))));
        assertEquals(Errno.EBADF, errno(new Tgetattr(nf, Rgetattr.BASIC)));
        assertEquals(0, e.server.stats().fids() - 1, "only the root fid is left");
    }

    @Test
    void createWriteTruncateAppend() throws Exception {
        int f = create("new", O_RDWR | O_EXCL, 0640);
        assertEquals(5, write(f, 0, "12345"));
        assertEquals(3, write(f, 5, "678"));
        assertEquals("12345678", Files.readString(e.dir.resolve("new")));
        assertEquals("rw-r-----", PosixFilePermissions.toString(
                Files.getPosixFilePermissions(e.dir.resolve("new"))));
        clunk(c, f);
        assertEquals(Errno.EEXIST, errno(new Tlcreate(walk(c, root), "new", O_RDWR | O_EXCL, 0644, 0)));

        int t = walk(c, root, "new");
        c.call(new Tlopen(t, O_WRONLY | O_TRUNC), Rlopen.class);
        assertEquals(0, Files.size(e.dir.resolve("new")));
        clunk(c, t);
        int ap = walk(c, root, "new");
        c.call(new Tlopen(ap, O_WRONLY | O_APPEND), Rlopen.class);
        write(ap, 0, "ab");
        write(ap, 0, "cd");
        assertEquals("abcd", Files.readString(e.dir.resolve("new")));
    }

    @Test
    void qidVersionChangesOnOurWritesAndOnLocalChanges() throws Exception {
        Path p = e.dir.resolve("v");
        Files.writeString(p, "one");
        int f = walk(c, root, "v");
        int v0 = getattr(f).qid().version();
        assertEquals(v0, getattr(f).qid().version(), "stable while unchanged");
        c.call(new Tlopen(f, O_RDWR), Rlopen.class);
        write(f, 0, "two");
        int v1 = getattr(f).qid().version();
        assertNotEquals(v0, v1, "same size, written through the server");
        Files.writeString(p, "six");
        int v2 = getattr(f).qid().version();
        assertNotEquals(v1, v2, "written by a local process");
        assertEquals(getattr(f).qid().path(), Files.getAttribute(p, "unix:ino"));
    }

    @Test
    void readdirOffsetsAreStableAcrossCalls() throws Exception {
        Set<String> names = new HashSet<>();
        for (int i = 0; i < 300; i++) {
            String n = "entry-with-a-longish-name-" + i;
            Files.writeString(e.dir.resolve(n), "");
            names.add(n);
        }
        Files.createDirectory(e.dir.resolve("sub"));
        names.add("sub");
        int d = walk(c, root);
        c.call(new Tlopen(d, O_RDONLY), Rlopen.class);
        List<Dirent> all = new ArrayList<>();
        long off = 0;
        int calls = 0;
        while (true) {
            Rreaddir r = c.call(new Treaddir(d, off, 500), Rreaddir.class);
            if (r.entries().isEmpty()) {
                break;
            }
            calls++;
            all.addAll(r.entries());
            off = r.entries().get(r.entries().size() - 1).offset();
        }
        assertTrue(calls > 10, "small counts take many calls: " + calls);
        Set<String> seen = new HashSet<>();
        for (Dirent de : all) {
            assertTrue(seen.add(de.name()), "listed twice: " + de.name());
            if (de.name().equals("sub")) {
                assertTrue(de.qid().isDir());
                assertEquals(4, de.type());
            }
        }
        assertTrue(seen.remove("."));
        assertTrue(seen.remove(".."));
        assertEquals(names, seen);

        // Re-reading from a cookie in the middle continues at the same entry.
        Dirent mid = all.get(all.size() / 2);
        Rreaddir again = c.call(new Treaddir(d, mid.offset(), 500), Rreaddir.class);
        assertEquals(all.get(all.size() / 2 + 1).name(), again.entries().get(0).name());
        assertEquals(Errno.EISDIR, errno(new Tread(d, 0, 100)));
    }

    @Test
    void mkdirSymlinkReadlinkMknodLink() throws Exception {
        Rmkdir m = c.call(new Tmkdir(root, "d", 0750, 0), Rmkdir.class);
        assertTrue(m.qid().isDir());
        assertTrue(Files.isDirectory(e.dir.resolve("d")));
        assertEquals(Errno.EEXIST, errno(new Tmkdir(root, "d", 0750, 0)));

        Rsymlink s = c.call(new Tsymlink(root, "ln", "d/target", 0), Rsymlink.class);
        assertTrue(s.qid().isSymlink());
        assertEquals("d/target", Files.readSymbolicLink(e.dir.resolve("ln")).toString());
        int l = walk(c, root, "ln");
        assertEquals("d/target", c.call(new Treadlink(l), Rreadlink.class).target());
        assertEquals(Errno.ELOOP, errno(new Tlopen(l, O_RDONLY)));

        c.call(new Tmknod(root, "fifo", 0010644, 0, 0, 0), Rmknod.class);
        assertEquals(0010000, (Integer) Files.getAttribute(e.dir.resolve("fifo"), "unix:mode") & 0170000);
        assertEquals(Errno.EPERM, errno(new Tmknod(root, "dev", 0020644, 1, 3, 0)));

        Files.writeString(e.dir.resolve("orig"), "data");
        int o = walk(c, root, "orig");
        c.call(new Tlink(root, o, "hard"), Rlink.class);
        assertEquals(2, Files.getAttribute(e.dir.resolve("orig"), "unix:nlink"));
        assertEquals("data", Files.readString(e.dir.resolve("hard")));
    }

    @Test
    void renameRenameatUnlinkat() throws Exception {
        Files.createDirectory(e.dir.resolve("d1"));
        Files.createDirectory(e.dir.resolve("d2"));
        Files.writeString(e.dir.resolve("d1/f"), "x");
        int d1 = walk(c, root, "d1");
        int d2 = walk(c, root, "d2");
        c.call(new Trenameat(d1, "f", d2, "g"), Rrenameat.class);
        assertTrue(Files.exists(e.dir.resolve("d2/g")));
        assertEquals(Errno.ENOENT, errno(new Trenameat(d1, "f", d2, "g")));

        int g = walk(c, d2, "g");
        c.call(new Trename(g, d1, "h"), Rrename.class);
        assertEquals("x", Files.readString(e.dir.resolve("d1/h")));
        // The fid follows the file: a second rename and a getattr still work.
        c.call(new Trename(g, root, "top"), Rrename.class);
        assertEquals(1, getattr(g).size());
        assertTrue(Files.exists(e.dir.resolve("top")));

        Files.writeString(e.dir.resolve("d2/x"), "");
        assertEquals(Errno.ENOTEMPTY, errno(new Tunlinkat(root, "d2", Tunlinkat.AT_REMOVEDIR)));
        c.call(new Tunlinkat(d2, "x", 0), Runlinkat.class);
        c.call(new Tunlinkat(root, "d2", Tunlinkat.AT_REMOVEDIR), Runlinkat.class);
        assertFalse(Files.exists(e.dir.resolve("d2")));
        assertEquals(Errno.ENOENT, errno(new Tunlinkat(root, "d2", 0)));

        // Tremove removes the file and clunks the fid, even if the name was renamed meanwhile.
        int top = walk(c, root, "top");
        Files.move(e.dir.resolve("top"), e.dir.resolve("moved"));
        Files.writeString(e.dir.resolve("top"), "another file now has the name");
        assertEquals(Errno.ENOENT, errno(new Tremove(top)));
        assertTrue(Files.exists(e.dir.resolve("top")), "a stale name removes nothing");
        assertEquals(Errno.EBADF, errno(new Tgetattr(top, Rgetattr.BASIC)));
    }

    @Test
    void setattrStatfsFsync() throws Exception {
        Path p = e.dir.resolve("s");
        Files.writeString(p, "0123456789");
        int f = walk(c, root, "s");
        c.call(new Tsetattr(f, Tsetattr.SIZE, 0, 0, 0, 4, 0, 0, 0, 0), Rsetattr.class);
        assertEquals("0123", Files.readString(p));
        c.call(new Tsetattr(f, Tsetattr.MODE, 0600, 0, 0, 0, 0, 0, 0, 0), Rsetattr.class);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)));
        c.call(new Tsetattr(f, Tsetattr.MTIME | Tsetattr.MTIME_SET, 0, 0, 0, 0, 0, 0,
                1_000_000_000L, 5), Rsetattr.class);
        assertEquals(Instant.ofEpochSecond(1_000_000_000L, 5), Files.getLastModifiedTime(p).toInstant());
        Rgetattr a = getattr(f);
        assertEquals(1_000_000_000L, a.mtimeSec());
        assertEquals(5, a.mtimeNsec());

        Rstatfs st = c.call(new Tstatfs(root), Rstatfs.class);
        assertTrue(st.bsize() > 0 && st.blocks() > 0 && st.namelen() == 255);
        c.call(new Tlopen(f, O_RDWR), Rlopen.class);
        c.call(new Tfsync(f, 0), Rfsync.class);
        c.call(new Tfsync(root, 1), Rfsync.class);
    }

    @Test
    void xattrsRoundTrip() throws Exception {
        Files.writeString(e.dir.resolve("x"), "");
        int f = walk(c, root, "x");
        int w = walk(c, f);
        byte[] value = "a value".getBytes(StandardCharsets.UTF_8);
        c.call(new Txattrcreate(w, "user.c9fs", value.length, 0), Rxattrcreate.class);
        c.call(new Twrite(w, 0, Unpooled.wrappedBuffer(value)), Rwrite.class);
        clunk(c, w);
        assertArrayEquals(value, (byte[]) Files.getAttribute(e.dir.resolve("x"), "user:c9fs"));

        int r = c.allocFid();
        assertEquals(value.length, c.call(new Txattrwalk(f, r, "user.c9fs"), Rxattrwalk.class).size());
        assertArrayEquals(value, read(r, 0, 100));
        clunk(c, r);
        int list = c.allocFid();
        c.call(new Txattrwalk(f, list, ""), Rxattrwalk.class);
        assertTrue(new String(read(list, 0, 1000), StandardCharsets.UTF_8).contains("user.c9fs\0"));
        clunk(c, list);
        int rm = walk(c, f);
        c.call(new Txattrcreate(rm, "user.c9fs", 0, 0), Rxattrcreate.class);
        clunk(c, rm);
        assertEquals(Errno.ENODATA, errno(new Txattrwalk(f, c.allocFid(), "user.c9fs")));
    }

    @Test
    void locksConflictAcrossClientsAndDieWithTheConnection() throws Exception {
        Files.writeString(e.dir.resolve("l"), "lock me");
        int f = walk(c, root, "l");
        c.call(new Tlopen(f, O_RDWR), Rlopen.class);
        NinepClient other = e.attached("9P2000.L");
        int g = walk(other, 0, "l");
        other.call(new Tlopen(g, O_RDWR), Rlopen.class);

        Tlock wr = new Tlock(f, Tlock.WRLCK, 0, 0, 10, 1, "a");
        assertEquals(Rlock.SUCCESS, c.call(wr, Rlock.class).status());
        Tlock theirs = new Tlock(g, Tlock.WRLCK, Tlock.FLAGS_BLOCK, 5, 1, 2, "b");
        assertEquals(Rlock.BLOCKED, other.call(theirs, Rlock.class).status());
        assertEquals(Rlock.SUCCESS, other.call(new Tlock(g, Tlock.RDLCK, 0, 20, 0, 2, "b"),
                Rlock.class).status(), "a disjoint range is free");
        Rgetlock held = other.call(new Tgetlock(g, Tlock.WRLCK, 0, 1, 2, "b"), Rgetlock.class);
        assertEquals(Tlock.WRLCK, held.lockType());
        assertEquals(0, held.start());
        assertEquals(10, held.length());

        FileNode node = e.server.export().nodes().peek(getattr(f).qid().path());
        assertEquals(2, node.openerCount(), "both connections have the file open");
        c.call(new Tlock(f, Tlock.UNLCK, 0, 0, 10, 1, "a"), Rlock.class);
        assertEquals(Rlock.SUCCESS, other.call(theirs, Rlock.class).status());
        assertEquals(Rlock.BLOCKED, c.call(wr, Rlock.class).status());
        other.close();
        long deadline = System.nanoTime() + 5_000_000_000L;
        int status;
        do {
            status = c.call(wr, Rlock.class).status();
        } while (status != Rlock.SUCCESS && System.nanoTime() < deadline);
        assertEquals(Rlock.SUCCESS, status, "the departed client's locks are gone");
        assertEquals(1, node.openerCount());
    }

    /** The dirty pages of {@code file} in the host's page cache, or -1 where the kernel cannot tell. */
    private static long dirtyPages(Path file) throws Exception {
        int fd = Posix.openat(Posix.AT_FDCWD, file.toString(), Posix.O_RDONLY, 0);
        try {
            Posix.CachedPages p = Posix.cachestat(fd, 0, 0);
            return p == null ? -1 : p.dirty();
        } finally {
            Posix.close(fd);
        }
    }

    /**
     * A fid writing a file front to back has its pages handed to write-back every 8 MiB, so an
     * fsync at the end does not write them all while the client waits: after 16 MiB in order
     * hardly any page is still dirty.
     */
    @Test
    void aSequentialWriterHasItsPagesWrittenBackAsItGoes() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(Files.getFileStore(e.dir).type().equals("tmpfs"),
                "the export is on tmpfs, which never writes back: nothing to see");
        byte[] chunk = new byte[256 << 10];
        new java.util.Random(43).nextBytes(chunk);
        int f = create("stream", O_RDWR, 0644);
        for (int k = 0; k < 64; k++) {
            c.call(new Twrite(f, (long) k * chunk.length, Unpooled.wrappedBuffer(chunk)), Rwrite.class);
        }
        long dirty = dirtyPages(e.dir.resolve("stream"));
        org.junit.jupiter.api.Assumptions.assumeTrue(dirty >= 0, "no cachestat(2) in this kernel to count dirty pages");
        assertTrue(dirty < 1024, dirty + " of 4096 pages still dirty after a 16 MiB sequential write");
        clunk(c, f);
    }

    /**
     * A Twrite of the whole msize arrives in many socket reads, its payload a composite of their
     * buffers: each lands in the file in order, and reads give it back.
     */
    @Test
    void aMegabyteTwriteSpanningSocketReadsLandsWhole() throws Exception {
        byte[] data = new byte[1 << 20];
        new java.util.Random(41).nextBytes(data);
        int f = create("big", O_RDWR, 0644);
        assertEquals(data.length, c.call(new Twrite(f, 4096, Unpooled.wrappedBuffer(data)), Rwrite.class).count());
        byte[] onDisk = Files.readAllBytes(e.dir.resolve("big"));
        assertEquals(4096 + data.length, onDisk.length);
        assertArrayEquals(data, java.util.Arrays.copyOfRange(onDisk, 4096, onDisk.length));
        assertArrayEquals(java.util.Arrays.copyOfRange(data, 0, 1 << 19), read(f, 4096, 1 << 19));
        clunk(c, f);
    }

    @Test
    void perConnectionLimits() throws Exception {
        assertEquals((1 << 20) + Message.IOHDRSZ, c.msize(), "msize capped at 1 MiB of data");
        e.close();
        ServerLimits d = ServerLimits.defaults();
        e = ServedExport.start(cfg -> cfg.withLimits(new ServerLimits(4, d.maxInFlight(), 8192 + 24)));
        c = e.attached("9P2000.L");
        assertEquals(8192 + 24, c.msize());
        Files.write(e.dir.resolve("big"), new byte[100_000]);
        int f = walk(c, root, "big");
        c.call(new Tlopen(f, O_RDONLY), Rlopen.class);
        assertEquals(8192, read(f, 0, 100_000).length, "a read is capped by the msize");
        walk(c, root);
        walk(c, root);
        assertEquals(Errno.EMFILE, errno(new Twalk(root, c.allocFid(), List.of())), "the fifth fid");
        NinepClient other = e.attached("9P2000.L");
        walk(other, 0);
        assertEquals(6, e.server.stats().fids(), "the limit is per connection");
    }

    @Test
    void readOnlyExportRefusesEveryChange() throws Exception {
        e.close();
        e = ServedExport.start(cfg -> cfg.withReadOnly(true));
        c = e.attached("9P2000.L");
        Files.writeString(e.dir.resolve("r"), "ro");
        int f = walk(c, root, "r");
        assertEquals(Errno.EROFS, errno(new Tlopen(f, O_RDWR)));
        assertEquals(Errno.EROFS, errno(new Tlopen(f, O_RDONLY | O_TRUNC)));
        assertEquals(Errno.EROFS, errno(new Tsetattr(f, Tsetattr.MODE, 0777, 0, 0, 0, 0, 0, 0, 0)));
        assertEquals(Errno.EROFS, errno(new Tmkdir(root, "d", 0755, 0)));
        assertEquals(Errno.EROFS, errno(new Tlcreate(walk(c, root), "n", O_RDWR, 0644, 0)));
        assertEquals(Errno.EROFS, errno(new Tunlinkat(root, "r", 0)));
        assertEquals(Errno.EROFS, errno(new Trenameat(root, "r", root, "s")));
        assertEquals(Errno.EROFS, errno(new Tsymlink(root, "l", "r", 0)));
        assertEquals(Errno.EROFS, errno(new Tlink(root, f, "h")));
        assertEquals(Errno.EROFS, errno(new Txattrcreate(walk(c, f), "user.x", 1, 0)));
        assertEquals(Errno.EROFS, errno(new Tremove(walk(c, f))));
        c.call(new Tlopen(f, O_RDONLY), Rlopen.class);
        assertEquals("ro", new String(read(f, 0, 10), StandardCharsets.UTF_8));
        assertEquals("ro", Files.readString(e.dir.resolve("r")));
    }
}
