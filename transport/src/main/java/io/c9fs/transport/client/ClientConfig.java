package io.c9fs.transport.client;

import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Stat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link NinepClient} connects: the msize and version proposed in Tversion, the bound on
 * connecting (TCP connect plus version exchange) and on every request, and the identity used by
 * {@link NinepClient#attach}.
 */
public record ClientConfig(int msize, String version, Duration connectTimeout, Duration requestTimeout,
                           String uname, int nUname, String aname) {
    public ClientConfig {
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(requestTimeout, "requestTimeout");
        Objects.requireNonNull(uname, "uname");
        Objects.requireNonNull(aname, "aname");
        if (msize < Message.IOHDRSZ + 256) {
            throw new IllegalArgumentException("msize " + msize + " too small");
        }
        if (connectTimeout.isNegative() || connectTimeout.isZero()
                || requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("timeouts must be positive");
        }
    }

    /** msize 1 MiB + IOHDRSZ, "9P2000.L", 5 s to connect, 30 s per request, this process's user. */
    public static ClientConfig defaults() {
        return new ClientConfig((1 << 20) + Message.IOHDRSZ, "9P2000.L", Duration.ofSeconds(5),
                Duration.ofSeconds(30), System.getProperty("user.name", "nobody"), processUid(), "");
    }

    public ClientConfig withMsize(int m) {
        return new ClientConfig(m, version, connectTimeout, requestTimeout, uname, nUname, aname);
    }

    public ClientConfig withVersion(String v) {
        return new ClientConfig(msize, v, connectTimeout, requestTimeout, uname, nUname, aname);
    }

    public ClientConfig withRequestTimeout(Duration t) {
        return new ClientConfig(msize, version, connectTimeout, t, uname, nUname, aname);
    }

    public ClientConfig withAname(String a) {
        return new ClientConfig(msize, version, connectTimeout, requestTimeout, uname, nUname, a);
    }

    /** The effective uid: the owner of /proc/self. NONUNAME where that cannot be read. */
    private static int processUid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (Exception e) {
            return Stat.NONUNAME;
        }
    }
}
