package io.c9fs.server;

import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.proto.Dialect;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;

/**
 * How a {@link FileServer} runs: the directory exported, where it listens, whether it refuses
 * mutations, the token a client must present through Tauth (null: none), per-connection limits,
 * the number of worker threads doing file I/O, the dialects offered (9P2000.L.c9 among them
 * means leases are on), the lease term, and whether large reads of uncached data bypass the
 * host's page cache.
 */
public record ServerConfig(Path export, NinepAddress listen, boolean readOnly, byte[] authToken,
                           ServerLimits limits, int workers, Set<Dialect> dialects, Duration leaseTerm,
                           Robustness robustness, boolean directReads) {
    /** docs/protocol.md: a lease lives 10 s after its holder's last Tcallback. */
    public static final Duration DEFAULT_LEASE_TERM = Duration.ofSeconds(10);

    /**
     * How the server weathers restarts and bad clients (docs/server.md).
     *
     * @param grace         after a start, how long only lock reclaims are granted (zero: none)
     * @param stateDir      where the server notes whether locks were held, so that a start after
     *                      a clean stop with none skips the grace; null: no note, grace always
     * @param frameTimeout  a connection stalled mid-frame this long is closed (null: never)
     * @param keepAliveIdle TCP keepalive probes after this much silence (null: off)
     * @param statsEndpoint serve {@code c9fs stats --server} on a Unix socket
     */
    public record Robustness(Duration grace, Path stateDir, Duration frameTimeout, Duration keepAliveIdle,
                             boolean statsEndpoint) {
        public Robustness {
            Objects.requireNonNull(grace, "grace");
            if (grace.isNegative()) {
                throw new IllegalArgumentException("grace " + grace);
            }
        }

        /** For embedding: no grace, no state, a 30 s frame timeout, keepalive after 60 s, no stats socket. */
        public static Robustness defaults() {
            return new Robustness(Duration.ZERO, null, Duration.ofSeconds(30), Duration.ofSeconds(60), false);
        }
    }

    public ServerConfig {
        Objects.requireNonNull(robustness, "robustness");
        Objects.requireNonNull(export, "export");
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(leaseTerm, "leaseTerm");
        dialects = Set.copyOf(dialects);
        if (workers < 1) {
            throw new IllegalArgumentException("workers " + workers);
        }
        if (leaseTerm.toMillis() < 3 || leaseTerm.toMillis() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("lease term " + leaseTerm);
        }
    }

    /** Every dialect (leases on), default limits and term, read-write, no token, 8 workers, direct reads. */
    public static ServerConfig of(Path export, NinepAddress listen) {
        return new ServerConfig(export, listen, false, null, ServerLimits.defaults(), 8,
                EnumSet.allOf(Dialect.class), DEFAULT_LEASE_TERM, Robustness.defaults(), true);
    }

    public ServerConfig withReadOnly(boolean ro) {
        return new ServerConfig(export, listen, ro, authToken, limits, workers, dialects, leaseTerm, robustness, directReads);
    }

    public ServerConfig withAuthToken(byte[] token) {
        return new ServerConfig(export, listen, readOnly, token, limits, workers, dialects, leaseTerm, robustness, directReads);
    }

    public ServerConfig withLimits(ServerLimits l) {
        return new ServerConfig(export, listen, readOnly, authToken, l, workers, dialects, leaseTerm, robustness, directReads);
    }

    /**
     * Offers 9P2000.L.c9 or not. Without it a c9fs client falls back to 9P2000.L and runs without
     * leases; the server still never lets a plain client's change go unrecalled (there is simply
     * nobody holding leases).
     */
    public ServerConfig withLeases(boolean on) {
        Set<Dialect> d = new HashSet<>(dialects);
        if (on) {
            d.add(Dialect.P9P2000_L_C9);
        } else {
            d.remove(Dialect.P9P2000_L_C9);
        }
        return new ServerConfig(export, listen, readOnly, authToken, limits, workers, d, leaseTerm, robustness, directReads);
    }

    public ServerConfig withLeaseTerm(Duration term) {
        return new ServerConfig(export, listen, readOnly, authToken, limits, workers, dialects, term, robustness, directReads);
    }

    /**
     * Whether a large read of a range the host's page cache does not hold goes around the cache
     * (O_DIRECT), as c9fs-serve does unless started with --no-direct-reads (docs/server.md).
     */
    public ServerConfig withDirectReads(boolean on) {
        return new ServerConfig(export, listen, readOnly, authToken, limits, workers, dialects, leaseTerm, robustness, on);
    }

    public ServerConfig withRobustness(Robustness r) {
        return new ServerConfig(export, listen, readOnly, authToken, limits, workers, dialects, leaseTerm, r, directReads);
    }

    public ServerConfig withGrace(Duration grace) {
        Robustness r = robustness;
        return withRobustness(new Robustness(grace, r.stateDir(), r.frameTimeout(), r.keepAliveIdle(),
                r.statsEndpoint()));
    }

    public ServerConfig withFrameTimeout(Duration timeout) {
        Robustness r = robustness;
        return withRobustness(new Robustness(r.grace(), r.stateDir(), timeout, r.keepAliveIdle(),
                r.statsEndpoint()));
    }

    public ServerConfig withStatsEndpoint(boolean on) {
        Robustness r = robustness;
        return withRobustness(new Robustness(r.grace(), r.stateDir(), r.frameTimeout(), r.keepAliveIdle(), on));
    }

    public ServerConfig withStateDir(Path dir) {
        Robustness r = robustness;
        return withRobustness(new Robustness(r.grace(), dir, r.frameTimeout(), r.keepAliveIdle(),
                r.statsEndpoint()));
    }

    public boolean leases() {
        return dialects.contains(Dialect.P9P2000_L_C9);
    }
}
