package io.c9fs.mount;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP relay on 127.0.0.1 between a mount and its server, for tests that cut the link
 * ({@link #cut}) or slow the client's side of it (bytes per second, paced per read: the mount's
 * Twrites then stay in flight long enough for another client to look).
 */
final class TcpRelay implements AutoCloseable {
    private final ServerSocket listener;
    private final int upstream;
    private final int upBytesPerSecond;
    private final List<Socket> open = new CopyOnWriteArrayList<>();

    /** @param upBytesPerSecond the pace of client-to-server bytes; 0: as fast as they come */
    TcpRelay(int upstream, int upBytesPerSecond) throws IOException {
        this.upstream = upstream;
        this.upBytesPerSecond = upBytesPerSecond;
        this.listener = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::accept, "test-relay");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return listener.getLocalPort();
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket down = listener.accept();
                Socket up = new Socket();
                up.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), upstream), 5000);
                open.add(down);
                open.add(up);
                pump(down, up, upBytesPerSecond);
                pump(up, down, 0);
            } catch (IOException e) {
                // closed, or the server refused: the client redials
            }
        }
    }

    private static void pump(Socket from, Socket to, int bytesPerSecond) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[bytesPerSecond > 0 ? 32768 : 65536];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buf)) > 0; ) {
                    if (bytesPerSecond > 0) {
                        Thread.sleep(Math.max(1, n * 1000L / bytesPerSecond));
                    }
                    out.write(buf, 0, n);
                }
            } catch (IOException | InterruptedException e) {
                // cut or closed
            } finally {
                closeQuietly(from);
                closeQuietly(to);
            }
        }, "test-relay-pump");
        t.setDaemon(true);
        t.start();
    }

    /** Ends every relayed connection, both sides, without a word. */
    void cut() {
        for (Socket s : open) {
            closeQuietly(s);
        }
        open.clear();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() {
        try {
            listener.close();
        } catch (IOException ignored) {
            // already closed
        }
        cut();
    }
}
