package io.c9fs.transport.server;

import io.c9fs.transport.proto.Fcall;

/**
 * A 9P file service's side of one connection; {@link NinepServer} creates one per connection
 * from its factory. The pipeline handles Tversion itself and hands over everything after it.
 *
 * <p>Threads: every method is called on the connection's event loop, one call at a time, so an
 * implementation needs no locking for per-connection state it touches only from these calls.
 * It may answer later from another thread through {@link ServerConnection#reply}.
 */
public interface NinepHandler {
    /**
     * Called for every request after a successful Tversion, Tflush included (the handler knows
     * what is in flight). Answer exactly once per tag via {@code conn.reply} or {@code conn.error}.
     * The handler owns the message: a Twrite's data must be released (replying does not do it).
     */
    void request(ServerConnection conn, Fcall tcall);

    /**
     * The session was (re)started by Tversion: forget all fids and abandon outstanding requests
     * (version(5)). Also called when the connection closes, just before {@link #disconnected}:
     * then {@code conn.channel().isActive()} is false. The two differ for a server that keeps
     * state for clients: a Tversion on an established session is a client's goodbye (it lets go
     * of everything), a close without one is a client that vanished (it may come back).
     */
    void reset(ServerConnection conn);

    /** The connection is gone; replies sent from now on are dropped (and their payloads released). */
    void disconnected(ServerConnection conn);
}
