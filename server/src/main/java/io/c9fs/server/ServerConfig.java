package io.c9fs.server;

import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.proto.Dialect;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * How a {@link FileServer} runs: the directory exported, where it listens, whether it refuses
 * mutations, the token a client must present through Tauth (null: none), per-connection limits,
 * the number of worker threads doing file I/O and the dialects offered.
 */
public record ServerConfig(Path export, NinepAddress listen, boolean readOnly, byte[] authToken,
                           ServerLimits limits, int workers, Set<Dialect> dialects) {
    public ServerConfig {
        Objects.requireNonNull(export, "export");
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(limits, "limits");
        dialects = Set.copyOf(dialects);
        if (workers < 1) {
            throw new IllegalArgumentException("workers " + workers);
        }
    }

    /** Every dialect, default limits, read-write, no token, 8 workers. */
    public static ServerConfig of(Path export, NinepAddress listen) {
        return new ServerConfig(export, listen, false, null, ServerLimits.defaults(), 8,
                EnumSet.allOf(Dialect.class));
    }

    public ServerConfig withReadOnly(boolean ro) {
        return new ServerConfig(export, listen, ro, authToken, limits, workers, dialects);
    }

    public ServerConfig withAuthToken(byte[] token) {
        return new ServerConfig(export, listen, readOnly, token, limits, workers, dialects);
    }

    public ServerConfig withLimits(ServerLimits l) {
        return new ServerConfig(export, listen, readOnly, authToken, l, workers, dialects);
    }
}
