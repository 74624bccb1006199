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
import io.netty.handler.flush.FlushConsolidationHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
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
    private final Channel listener;

    private NinepServer(NinepAddress address, EventLoopGroup group, Channel listener) {
        this.address = address;
        this.group = group;
        this.listener = listener;
    }

    /**
     * Binds TCP (host:port, tcp!host!port; port 0 picks a free one) or unix:/path (a stale socket
     * file at the path is replaced). {@code dialects} are those offered; the set's iteration order
     * is irrelevant since the client's proposal decides (version(5)).
     *
     * @param maxMsize the largest msize granted (at least 256)
     */
    public static NinepServer bind(NinepAddress address, int maxMsize, Set<Dialect> dialects,
                                   Supplier<NinepHandler> handlerFactory) throws IOException {
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
        ServerBootstrap b = new ServerBootstrap()
                .group(group)
                .channel(Sockets.serverChannelClass(address))
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        FrameDecoder frames = new FrameDecoder(maxMsize);
                        ch.pipeline().addLast(new FlushConsolidationHandler(256, true), frames,
                                new ConnectionHandler(frames, maxMsize, offered, handlerFactory.get()));
                    }
                });
        if (!address.isUnix()) {
            b.option(ChannelOption.SO_REUSEADDR, true).childOption(ChannelOption.TCP_NODELAY, true);
        }
        // Reading pauses while this much reply data waits to be written (see ConnectionHandler):
        // a few full-msize replies, so that pipelined reads keep flowing.
        long low = Math.max(64 * 1024, 2L * maxMsize);
        b.childOption(ChannelOption.WRITE_BUFFER_WATER_MARK,
                new WriteBufferWaterMark((int) Math.min(low, 1 << 28), (int) Math.min(4 * low, 1 << 30)));
        try {
            Channel listener = b.bind(Sockets.socketAddress(address)).syncUninterruptibly().channel();
            return new NinepServer(address, group, listener);
        } catch (RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IOException("cannot listen on " + address + ": " + e.getMessage(), e);
        }
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
