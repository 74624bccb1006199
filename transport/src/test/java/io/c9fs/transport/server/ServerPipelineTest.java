package io.c9fs.transport.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.Errno;
import io.c9fs.transport.codec.Codec;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.testing.ScriptedServer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.util.EnumSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The server pipeline spoken to over a raw socket: version negotiation and protocol errors. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ServerPipelineTest {
    ScriptedServer server;
    Socket socket;

    @AfterEach
    void tearDown() throws IOException {
        if (socket != null) {
            socket.close();
        }
        if (server != null) {
            server.close();
        }
    }

    void start(EnumSet<Dialect> dialects) throws IOException {
        server = new ScriptedServer(dialects, 65536);
        socket = new Socket(server.address().host(), server.address().port());
        socket.setSoTimeout(10_000);
    }

    void send(Dialect d, Fcall f) throws IOException {
        ByteBuf b = Unpooled.buffer();
        Codec.of(d).encode(f, b);
        send(ByteBufUtil.getBytes(b));
        b.release();
    }

    void send(byte[] raw) throws IOException {
        socket.getOutputStream().write(raw);
        socket.getOutputStream().flush();
    }

    Fcall receive(Dialect d) throws IOException {
        DataInputStream in = new DataInputStream(socket.getInputStream());
        byte[] size = new byte[4];
        in.readFully(size);
        int n = Unpooled.wrappedBuffer(size).readIntLE();
        byte[] frame = new byte[n];
        System.arraycopy(size, 0, frame, 0, 4);
        in.readFully(frame, 4, n - 4);
        return Codec.of(d).decode(Unpooled.wrappedBuffer(frame));
    }

    void assertClosed() throws IOException {
        try {
            int b = socket.getInputStream().read();
            assertEquals(-1, b, "connection closed by the server");
        } catch (EOFException | java.net.SocketException closed) {
            // closed: what we want
        }
    }

    @Test
    void versionPicksTheDialectAndTheSmallerMsize() throws Exception {
        start(EnumSet.allOf(Dialect.class));
        send(Dialect.P9P2000, new Fcall(Message.NOTAG, new Tversion(1 << 20, "9P2000.L")));
        Rversion rv = assertInstanceOf(Rversion.class, receive(Dialect.P9P2000).message());
        assertEquals("9P2000.L", rv.version());
        assertEquals(65536, rv.msize());
        send(Dialect.P9P2000_L, new Fcall(4, new Tgetattr(1, 1)));
        ScriptedServer.Request r = server.next();
        assertEquals(Dialect.P9P2000_L, r.conn().dialect());
        assertEquals(65536, r.conn().msize());
        r.conn().error(r.tag(), Errno.ENOENT);
        assertEquals(new Fcall(4, new Rlerror(Errno.ENOENT)), receive(Dialect.P9P2000_L));
        // A second Tversion restarts the session: the handler is told to forget its fids.
        send(Dialect.P9P2000, new Fcall(Message.NOTAG, new Tversion(8192, "9P2000.u")));
        assertEquals(new Rversion(8192, "9P2000.u"), receive(Dialect.P9P2000).message());
        assertEquals(1, server.resets());
        send(Dialect.P9P2000_U, new Fcall(5, new Tstat(1)));
        r = server.next();
        r.conn().error(r.tag(), Errno.EACCES);
        assertEquals(new Fcall(5, new Rerror("permission denied", Errno.EACCES)), receive(Dialect.P9P2000_U));
    }

    @Test
    void unknownVersionAndPrefixFallback() throws Exception {
        start(EnumSet.of(Dialect.P9P2000));
        send(Dialect.P9P2000, new Fcall(Message.NOTAG, new Tversion(8192, "9P2000.L")));
        assertEquals(new Rversion(8192, "9P2000"), receive(Dialect.P9P2000).message());
        send(Dialect.P9P2000, new Fcall(Message.NOTAG, new Tversion(8192, "9P3000")));
        assertEquals(new Rversion(8192, "unknown"), receive(Dialect.P9P2000).message());
        send(Dialect.P9P2000, new Fcall(Message.NOTAG, new Tversion(100, "9P2000")));
        assertEquals("unknown", ((Rversion) receive(Dialect.P9P2000).message()).version(), "msize below minimum");
    }

    @Test
    void requestBeforeVersionIsAnsweredThenClosed() throws Exception {
        start(EnumSet.allOf(Dialect.class));
        send(Dialect.P9P2000, new Fcall(9, new Tclunk(1)));
        Rerror e = assertInstanceOf(Rerror.class, receive(Dialect.P9P2000).message());
        assertEquals(Errno.EPROTO, Errno.fromString(e.ename()), e.ename());
        assertClosed();
        assertTrue(server.poll(100) == null, "nothing reached the handler");
    }

    @Test
    void undecodableFrameIsAnsweredThenClosed() throws Exception {
        start(EnumSet.allOf(Dialect.class));
        send(Dialect.P9P2000, new Fcall(Message.NOTAG, new Tversion(8192, "9P2000.L")));
        receive(Dialect.P9P2000);
        // Twalk claiming 17 names, tag 0x0203
        send(ByteBufUtil.decodeHexDump("11000000" + "6e" + "0302" + "01000000" + "02000000" + "1100"));
        assertEquals(new Fcall(0x0203, new Rlerror(Errno.EBADMSG)), receive(Dialect.P9P2000_L));
        assertClosed();
    }

    @Test
    void frameAboveMsizeClosesWithoutBuffering() throws Exception {
        start(EnumSet.allOf(Dialect.class));
        send(Dialect.P9P2000, new Fcall(Message.NOTAG, new Tversion(8192, "9P2000.L")));
        receive(Dialect.P9P2000);
        send(ByteBufUtil.decodeHexDump("01200000" + "76" + "0700")); // 8193 bytes announced
        assertEquals(new Fcall(7, new Rlerror(Errno.EBADMSG)), receive(Dialect.P9P2000_L));
        assertClosed();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (server.disconnects() == 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(1, server.disconnects());
    }
}
