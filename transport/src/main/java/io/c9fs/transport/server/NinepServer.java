package io.c9fs.transport.server;

import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.client.Sockets;
import io.c9fs.transport.codec.FrameDecoder;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.handler.flush.FlushConsolidationHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * A listening 9P endpoint: accepts connections, frames and decodes them, negotiates Tversion and
 * gives each connection its own {@link NinepHandler}. Replies written during a burst of reads
 * are flushed together (one writev instead of one per reply).
 *
 * <p>Threads: {@link #bind} and {@link #close} from any thread; each connection lives on one
 * event loop of the server's own group (one thread per core).
 */
public final class NinepServer implements AutoCloseable {
    private final NinepAddress address;
    private final EventLoopGroup group;
    private final Traffic traffic;
    private Channel listener;

    private NinepServer(NinepAddress address, EventLoopGroup group, Traffic traffic) {
        this.address = address;
        this.group = group;
        this.traffic = traffic;
    }

    /**
     * How connections are watched. {@code frameTimeout}: a connection that sends part of a frame
     * and then nothing for this long is closed (null: never); a peer that stalls mid-frame holds
     * a buffer and a connection slot and can never be answered. {@code keepAliveIdle}: TCP
     * keepalive probes start after this much silence, so a peer that vanished without a FIN or a
     * reset (power cut, partition) is noticed (null: keepalive off).
     */
    public record Options(Duration frameTimeout, Duration keepAliveIdle) {
        public static Options defaults() {
            return new Options(Duration.ofSeconds(30), Duration.ofSeconds(60));
        }

        public Options withFrameTimeout(Duration d) {
            return new Options(d, keepAliveIdle);
        }

        public Options withKeepAliveIdle(Duration d) {
            return new Options(frameTimeout, d);
        }
    }

    /** Bytes received and sent on all connections (frames, headers included). Thread-safe. */
    public static final class Traffic {
        final LongAdder in = new LongAdder();
        final LongAdder out = new LongAdder();

        public long bytesIn() {
            return in.sum();
        }

        public long bytesOut() {
            return out.sum();
        }
    }

    public static NinepServer bind(NinepAddress address, int maxMsize, Set<Dialect> dialects,
                                   Supplier<NinepHandler> handlerFactory) throws IOException {
        return bind(address, maxMsize, dialects, handlerFactory, Options.defaults());
    }

    /**
     * Binds TCP (host:port, tcp!host!port; port 0 picks a free one) or unix:/path (a stale socket
     * file at the path is replaced). {@code dialects} are those offered; the set's iteration order
     * is irrelevant since the client's proposal decides (version(5)).
     *
     * @param maxMsize the largest msize granted (at least 256)
     */
    public static NinepServer bind(NinepAddress address, int maxMsize, Set<Dialect> dialects,
                                   Supplier<NinepHandler> handlerFactory, Options options) throws IOException {
        if (maxMsize < ConnectionHandler.MIN_MSIZE || maxMsize < Message.IOHDRSZ + Message.HEADER) {
            throw new IllegalArgumentException("maxMsize " + maxMsize);
        }
        if (dialects.isEmpty()) {
            throw new IllegalArgumentException("no dialect offered");
        }
        List<Dialect> offered = List.copyOf(new ArrayList<>(dialects));
        if (address.isUnix()) {
            Files.deleteIfExists(Path.of(address.path()));
        }
        EventLoopGroup group = Sockets.newServerGroup("c9fs-9p-server", Runtime.getRuntime().availableProcessors());
        Traffic traffic = new Traffic();
        ServerBootstrap b = new ServerBootstrap()
                .group(group)
                .channel(Sockets.serverChannelClass(address))
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        FrameDecoder frames = new FrameDecoder(maxMsize);
                        ch.pipeline().addLast(new FlushConsolidationHandler(256, true), frames);
                        if (options.frameTimeout() != null) {
                            ch.pipeline().addLast(new FrameTimeout(frames, options.frameTimeout()));
                        }
                        ch.pipeline().addLast(new ConnectionHandler(frames, maxMsize, offered,
                                handlerFactory.get(), traffic));
                    }
                });
        if (!address.isUnix()) {
            b.option(ChannelOption.SO_REUSEADDR, true).childOption(ChannelOption.TCP_NODELAY, true);
            if (options.keepAliveIdle() != null) {
                b.childOption(ChannelOption.SO_KEEPALIVE, true);
                if (Epoll.isAvailable()) {
                    // The kernel's default waits two hours before the first probe.
                    int idle = (int) Math.max(1, options.keepAliveIdle().toSeconds());
                    b.childOption(EpollChannelOption.TCP_KEEPIDLE, idle)
                            .childOption(EpollChannelOption.TCP_KEEPINTVL, Math.max(1, idle / 4))
                            .childOption(EpollChannelOption.TCP_KEEPCNT, 4);
                }
            }
        }
        // Socket reads of up to a whole msize, as the client's: a 1 MiB Twrite otherwise arrived in
        // sixteen 64 KiB reads, each a system call and a buffer of the frame's composite.
        b.childOption(ChannelOption.RECVBUF_ALLOCATOR,
                new io.netty.channel.AdaptiveRecvByteBufAllocator(512, 64 * 1024, Math.max(64 * 1024, maxMsize)));
        // Reading pauses while this much reply data waits to be written (see ConnectionHandler):
        // a few full-msize replies, so that pipelined reads keep flowing.
        long low = Math.max(64 * 1024, 2L * maxMsize);
        b.childOption(ChannelOption.ALLOCATOR, Sockets.allocator());
        b.childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
                new WriteBufferWaterMark((int) Math.min(low, 1 << 28), (int) Math.min(4 * low, 1 << 30)));
        try {
            NinepServer server = new NinepServer(address, group, traffic);
            server.listener = b.bind(Sockets.socketAddress(address)).syncUninterruptibly().channel();
            return server;
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IOException("cannot listen on " + address + ": " + e.getMessage(), e);
        }
    }

    /** Bytes moved on every connection so far. */
    public Traffic traffic() {
        return traffic;
    }

    public SocketAddress localAddress() {
        return listener.localAddress();
    }

    /** The TCP port listened on (useful after binding port 0), or -1 for a unix socket. */
    public int port() {
        SocketAddress a = listener.localAddress();
        return a instanceof InetSocketAddress ? ((InetSocketAddress) a).getPort() : -1;
    }

    /** The address clients dial, with the actual port. */
    public NinepAddress address() {
        return address.isUnix() ? address : NinepAddress.tcp(address.host(), port());
    }

    /** Stops listening, closes every connection and waits (at most 5 s) for the event loops to end. */
    @Override
    public void close() {
        listener.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
