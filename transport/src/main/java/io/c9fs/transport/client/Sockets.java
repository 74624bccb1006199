package io.c9fs.transport.client;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * The Netty socket machinery behind a {@link NinepAddress}: epoll when the native transport
 * loads (always on Linux x86-64), NIO for TCP otherwise; Unix sockets need epoll. Clients of one
 * JVM share one event loop group of daemon threads, created on first use and never shut down
 * (it dies with the JVM; its threads do not keep it alive). Servers own their groups.
 * Thread-safe.
 */
public final class Sockets {
    private static volatile EventLoopGroup clientGroup;

    private Sockets() {
    }

    private static IoHandlerFactory ioHandlers() {
        return Epoll.isAvailable() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    }

    /**
     * The buffer allocator of every 9P channel, client and server: Netty's pooled one. The default
     * (adaptive) allocator pools nothing larger than its size classes in a JVM whose heap is under
     * 512 MiB (c9fs-mount runs with 384 MiB), so each socket read of a large reply, and each Rread
     * a server with a small heap sends, would allocate, zero and later free a fresh direct buffer:
     * tens of microseconds on the event loop for every 64 KiB page-cache block a mount loads.
     */
    public static ByteBufAllocator allocator() {
        return PooledByteBufAllocator.DEFAULT;
    }

    /** The event loops all clients share. */
    public static EventLoopGroup clientGroup() {
        EventLoopGroup g = clientGroup;
        if (g == null) {
            synchronized (Sockets.class) {
                g = clientGroup;
                if (g == null) {
                    g = new MultiThreadIoEventLoopGroup(Runtime.getRuntime().availableProcessors(),
                            new DefaultThreadFactory("c9fs-9p-client", true), ioHandlers());
                    clientGroup = g;
                }
            }
        }
        return g;
    }

    /** A new group for a server (the caller shuts it down). */
    public static EventLoopGroup newServerGroup(String name, int threads) {
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), ioHandlers());
    }

    public static Class<? extends Channel> channelClass(NinepAddress a) {
        if (a.isUnix()) {
            requireEpoll(a);
            return EpollDomainSocketChannel.class;
        }
        return Epoll.isAvailable() ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    public static Class<? extends ServerChannel> serverChannelClass(NinepAddress a) {
        if (a.isUnix()) {
            requireEpoll(a);
            return EpollServerDomainSocketChannel.class;
        }
        return Epoll.isAvailable() ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    public static SocketAddress socketAddress(NinepAddress a) {
        return a.isUnix() ? new DomainSocketAddress(a.path()) : new InetSocketAddress(a.host(), a.port());
    }

    private static void requireEpoll(NinepAddress a) {
        if (!Epoll.isAvailable()) {
            throw new IllegalStateException("unix sockets need Netty's epoll transport, unavailable: "
                    + Epoll.unavailabilityCause() + " (" + a + ")");
        }
    }
}
