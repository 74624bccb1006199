package io.c9fs.fuse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The request decoder and reply encoder, without a mount: requests are built by hand and replies
 * are read from the other end of a SOCK_SEQPACKET pair that stands in for /dev/fuse.
 */
class RequestDispatcherTest {
    private static final int SOCK_SEQPACKET = 5;
    private final int[] sv = new int[2];
    private final Map<Long, InflightRequest> inflight = new ConcurrentHashMap<>();
    private final List<String> forgets = new ArrayList<>();
    private FuseDevice device;
    private RequestDispatcher dispatcher;
    private final CountDownLatch blocked = new CountDownLatch(1);

    private final FuseFilesystem fs = new FuseFilesystem() {
        @Override
        public EntryOut lookup(FuseRequest r, long parent, String name) throws FuseException {
            if (name.equals("boom")) {
                throw new IllegalStateException("a bug in the filesystem");
            }
            if (name.equals("slow")) {
                CountDownLatch interrupted = new CountDownLatch(1);
                r.onInterrupt(interrupted::countDown);
                blocked.countDown();
                try {
                    interrupted.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new FuseException(Errno.EIO); // replaced by EINTR: the request was interrupted
            }
            return new EntryOut(parent * 100, 7, 1_500_000_000L, 250L, attr(parent * 100));
        }

        @Override
        public void forget(long nodeid, long nlookup) {
            forgets.add(nodeid + ":" + nlookup);
        }

        @Override
        public AttrOut getattr(FuseRequest r, long nodeid, long fh) {
            return new AttrOut(0, attr(nodeid));
        }

        @Override
        public byte[] getxattr(FuseRequest r, long nodeid, String name) throws FuseException {
            if (!name.equals("user.k")) {
                throw new FuseException(MemFs.ENODATA);
            }
            return "value".getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public List<String> listxattr(FuseRequest r, long nodeid) {
            return List.of("user.a", "user.bc");
        }

        @Override
        public void readdir(FuseRequest r, long nodeid, long fh, long offset, DirFiller out) {
            for (long i = offset; i < 100; i++) {
                if (!out.add("entry-" + i, 10 + i, 8, i + 1)) {
                    return;
                }
            }
        }
    };

    private static Attr attr(long ino) {
        return new Attr(ino, 42, 1, 1, 2, 3, 4, 5, 6, 0100644, 1, 1000, 1000, 0, 4096);
    }

    @BeforeEach
    void pair() {
        assertEquals(0, Syscalls.LIBC.socketpair(Syscalls.AF_UNIX, SOCK_SEQPACKET, 0, sv));
        device = new FuseDevice(sv[0]);
        dispatcher = new RequestDispatcher(fs, device, inflight, () -> { }, 1 << 16);
    }

    @AfterEach
    void close() {
        device.close();
        Syscalls.LIBC.close(sv[1]);
    }

    private static ByteBuffer request(int opcode, long unique, long nodeid, ByteBuffer body) {
        ByteBuffer b = ByteBuffer.allocateDirect(8192).order(ByteOrder.LITTLE_ENDIAN);
        int len = FuseWire.IN_HEADER + body.remaining();
        b.putInt(len).putInt(opcode).putLong(unique).putLong(nodeid).putInt(1000).putInt(1000).putInt(4242)
                .putShort((short) 0).putShort((short) 0).put(body);
        return b;
    }

    private static ByteBuffer body(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static ByteBuffer name(ByteBuffer prefix, String name) {
        byte[] raw = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = body(prefix.remaining() + raw.length + 1);
        return b.put(prefix).put(raw).put((byte) 0).flip();
    }

    private void serve(ByteBuffer req) {
        dispatcher.serve(req, req.position());
    }

    private ByteBuffer reply() throws FuseException {
        assertTrue(Syscalls.awaitReadable(sv[1], 5000), "a reply was written");
        ByteBuffer b = ByteBuffer.allocateDirect(1 << 17).order(ByteOrder.LITTLE_ENDIAN);
        long n = Syscalls.LIBC.read(sv[1], b, b.capacity());
        b.limit((int) n);
        assertEquals(n, b.getInt(0), "header length is the message length");
        return b;
    }

    @Test
    void lookupReplyIsAnEntryOut() throws Exception {
        serve(request(Opcode.LOOKUP, 5, 3, name(body(0), "x")));
        ByteBuffer r = reply();
        assertEquals(FuseWire.OUT_HEADER + FuseWire.ENTRY_OUT_SIZE, r.limit());
        assertEquals(0, r.getInt(4));
        assertEquals(5, r.getLong(8));
        assertEquals(300, r.getLong(16), "nodeid");
        assertEquals(7, r.getLong(24), "generation");
        assertEquals(1, r.getLong(32), "entry_valid seconds");
        assertEquals(0, r.getLong(40), "attr_valid seconds");
        assertEquals(500_000_000, r.getInt(48), "entry_valid_nsec");
        assertEquals(250, r.getInt(52), "attr_valid_nsec");
        assertEquals(300, r.getLong(56), "attr.ino");
        assertEquals(0100644, r.getInt(56 + 60), "attr.mode");
        assertTrue(inflight.isEmpty());
    }

    @Test
    void xattrSizeProbeValueAndErange() throws Exception {
        ByteBuffer probe = body(8).putInt(0).putInt(0).flip();
        serve(request(Opcode.GETXATTR, 1, 2, name(probe, "user.k")));
        ByteBuffer r = reply();
        assertEquals(24, r.limit());
        assertEquals(5, r.getInt(16), "size probe answers the length");

        serve(request(Opcode.GETXATTR, 2, 2, name(body(8).putInt(3).putInt(0).flip(), "user.k")));
        assertEquals(-Errno.ERANGE, reply().getInt(4));

        serve(request(Opcode.GETXATTR, 3, 2, name(body(8).putInt(64).putInt(0).flip(), "user.k")));
        r = reply();
        byte[] v = new byte[r.limit() - 16];
        r.get(16, v);
        assertArrayEquals("value".getBytes(StandardCharsets.UTF_8), v);

        serve(request(Opcode.GETXATTR, 4, 2, name(body(8).putInt(64).putInt(0).flip(), "user.none")));
        assertEquals(-MemFs.ENODATA, reply().getInt(4));

        serve(request(Opcode.LISTXATTR, 5, 2, body(8).putInt(0).putInt(0).flip()));
        assertEquals(15, reply().getInt(16));
        serve(request(Opcode.LISTXATTR, 6, 2, body(8).putInt(100).putInt(0).flip()));
        r = reply();
        byte[] names = new byte[r.limit() - 16];
        r.get(16, names);
        assertEquals("user.a\0user.bc\0", new String(names, StandardCharsets.UTF_8));
    }

    @Test
    void unknownOpcodesIoctlAndBugs() throws Exception {
        serve(request(9999, 1, 1, body(0)));
        assertEquals(-Errno.ENOSYS, reply().getInt(4));
        serve(request(Opcode.IOCTL, 2, 1, body(32)));
        assertEquals(-Errno.ENOTTY, reply().getInt(4));
        serve(request(Opcode.LOOKUP, 3, 1, name(body(0), "boom")));
        assertEquals(-Errno.EIO, reply().getInt(4), "an escaping exception becomes EIO");
        serve(request(Opcode.GETATTR, 4, 9, body(16)));
        ByteBuffer r = reply();
        assertEquals(0, r.getInt(4), "the dispatcher still works after a failure");
        assertEquals(9, r.getLong(16 + 16), "attr.ino");
        serve(request(Opcode.READLINK, 5, 9, body(0)));
        assertEquals(-Errno.ENOSYS, reply().getInt(4), "default methods answer ENOSYS");
    }

    @Test
    void forgetsAreNotAnswered() throws Exception {
        serve(request(Opcode.FORGET, 1, 77, body(8).putLong(3).flip()));
        ByteBuffer batch = body(8 + 32).putInt(2).putInt(0).putLong(5).putLong(1).putLong(6).putLong(2).flip();
        serve(request(Opcode.BATCH_FORGET, 2, 0, batch));
        assertEquals(List.of("77:3", "5:1", "6:2"), forgets);
        assertFalse(Syscalls.awaitReadable(sv[1], 100), "no reply to FORGET / BATCH_FORGET");
    }

    @Test
    void interruptOfUnknownRequestIsEagain() throws Exception {
        serve(request(Opcode.INTERRUPT, 11, 0, body(8).putLong(12345).flip()));
        ByteBuffer r = reply();
        assertEquals(-Errno.EAGAIN, r.getInt(4));
        assertEquals(11, r.getLong(8));
    }

    @Test
    void interruptRunsTheActionAndTheFailureBecomesEintr() throws Exception {
        Thread worker = new Thread(() -> serve(request(Opcode.LOOKUP, 21, 1, name(body(0), "slow"))));
        worker.start();
        assertTrue(blocked.await(5, TimeUnit.SECONDS));
        assertTrue(inflight.containsKey(21L));
        RequestDispatcher other = new RequestDispatcher(fs, device, inflight, () -> { }, 4096);
        ByteBuffer interrupt = request(Opcode.INTERRUPT, 23, 0, body(8).putLong(21).flip());
        other.serve(interrupt, interrupt.position());
        worker.join(5000);
        assertFalse(worker.isAlive());
        ByteBuffer r = reply();
        assertEquals(21, r.getLong(8));
        assertEquals(-Errno.EINTR, r.getInt(4));
        assertTrue(inflight.isEmpty());
    }

    @Test
    void readdirPacksPaddedEntriesUntilFull() throws Exception {
        ByteBuffer in = body(40).putLong(1).putLong(0).putInt(200).putInt(0).putLong(0).putInt(0).putInt(0).flip();
        serve(request(Opcode.READDIR, 1, 1, in));
        ByteBuffer r = reply();
        int at = 16;
        long expect = 0;
        while (at < r.limit()) {
            int namelen = r.getInt(at + 16);
            assertEquals(10 + expect, r.getLong(at));
            assertEquals(expect + 1, r.getLong(at + 8), "next offset");
            assertEquals(8, r.getInt(at + 20), "DT_REG");
            assertEquals("entry-" + expect, FuseWire.string(r, at + 24, at + 24 + namelen));
            at += FuseWire.direntSize(namelen);
            expect++;
        }
        assertEquals(r.limit(), at, "entries are padded to 8 bytes");
        assertEquals(6, expect, "six 32-byte entries fit in 200 bytes");
    }
}
