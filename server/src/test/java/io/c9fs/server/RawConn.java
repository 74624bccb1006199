package io.c9fs.server;

import io.c9fs.transport.codec.Codec;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Fcall;
import io.c9fs.transport.proto.Message;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * A 9P client on a plain blocking socket, for what NinepClient will not do: send Tversion on an
 * established session (a goodbye), pipeline requests without reading replies, send half a frame,
 * or reset the connection.
 */
final class RawConn implements AutoCloseable {
    final Socket socket;
    private final OutputStream out;
    private final DataInputStream in;
    private Codec codec = Codec.of(Dialect.P9P2000);

    RawConn(int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        socket.setSoTimeout(15000);
        out = socket.getOutputStream();
        in = new DataInputStream(socket.getInputStream());
    }

    static byte[] frame(Codec codec, int tag, Message m) {
        ByteBuf b = codec.encode(new Fcall(tag, m), ByteBufAllocator.DEFAULT);
        try {
            byte[] bytes = new byte[b.readableBytes()];
            b.readBytes(bytes);
            return bytes;
        } finally {
            b.release();
        }
    }

    byte[] frame(int tag, Message m) {
        return frame(codec, tag, m);
    }

    void send(int tag, Message m) throws IOException {
        out.write(frame(tag, m));
        out.flush();
    }

    void sendBytes(byte[] b) throws IOException {
        out.write(b);
        out.flush();
    }

    Fcall read() throws IOException {
        byte[] size = new byte[4];
        in.readFully(size);
        int n = (size[0] & 0xFF) | (size[1] & 0xFF) << 8 | (size[2] & 0xFF) << 16 | (size[3] & 0xFF) << 24;
        byte[] rest = new byte[n - 4];
        in.readFully(rest);
        ByteBuf f = Unpooled.wrappedBuffer(size, rest);
        try {
            return codec.decode(f);
        } finally {
            f.release();
        }
    }

    /** Reads the reply to {@code tag}, failing on another tag. */
    <R extends Message> R reply(int tag, Class<R> type) throws IOException {
        Fcall f = read();
        if (f.tag() != tag) {
            throw new IOException("reply for tag " + f.tag() + ", expected " + tag + ": " + f.message());
        }
        if (!type.isInstance(f.message())) {
            throw new IOException("expected " + type.getSimpleName() + ", got " + f.message());
        }
        return type.cast(f.message());
    }

    <R extends Message> R call(int tag, Message m, Class<R> type) throws IOException {
        send(tag, m);
        return reply(tag, type);
    }

    /** Tversion: the first one opens the session, any later one is a goodbye. */
    Message.Rversion version(String version, int msize) throws IOException {
        Message.Rversion r = call(Message.NOTAG, new Message.Tversion(msize, version), Message.Rversion.class);
        Dialect d = Dialect.of(r.version());
        if (d != null) {
            codec = Codec.of(d);
        }
        return r;
    }

    /** Closes with a TCP reset rather than a FIN: the client vanished. */
    void abort() throws IOException {
        socket.setSoLinger(true, 0);
        socket.close();
    }

    /** True once the server closed the connection (EOF within {@code ms}). */
    boolean closedByServer(int ms) throws IOException {
        socket.setSoTimeout(ms);
        try {
            InputStream s = socket.getInputStream();
            while (true) {
                if (s.read() < 0) {
                    return true;
                }
            }
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
