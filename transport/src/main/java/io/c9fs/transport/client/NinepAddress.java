package io.c9fs.transport.client;

import java.util.Objects;

/**
 * Where a 9P server listens: TCP {@code host:port} (also written {@code tcp!host!port}, the Plan 9
 * dial string, or {@code [v6addr]:port}) or a Unix domain socket {@code unix:/path}. For a Unix
 * socket {@code host} is null and {@code port} -1. {@code parse(a.toString()).equals(a)} holds.
 */
public record NinepAddress(String host, int port, String path) {
    /** The port assigned to 9P (9fs) by IANA. */
    public static final int DEFAULT_PORT = 564;

    public NinepAddress {
        if (path == null) {
            Objects.requireNonNull(host, "host");
            if (host.isEmpty() || port < 0 || port > 65535) {
                throw new IllegalArgumentException("bad TCP address " + host + " port " + port);
            }
        } else if (host != null || port != -1 || !path.startsWith("/")) {
            throw new IllegalArgumentException("a unix address has only an absolute path: " + path);
        }
    }

    public static NinepAddress tcp(String host, int port) {
        return new NinepAddress(host, port, null);
    }

    public static NinepAddress unix(String path) {
        return new NinepAddress(null, -1, path);
    }

    public boolean isUnix() {
        return path != null;
    }

    /**
     * Parses {@code host:port}, {@code host} (port 564), {@code [v6]:port}, {@code tcp!host!port}
     * or {@code unix:/path}.
     *
     * @throws IllegalArgumentException with the offending text if it is none of these
     */
    public static NinepAddress parse(String s) {
        try {
            if (s.startsWith("unix:")) {
                return unix(s.substring(5));
            }
            if (s.startsWith("unix!")) {
                return unix(s.substring(5));
            }
            if (s.startsWith("tcp!")) {
                String[] parts = s.split("!", -1);
                if (parts.length == 2) {
                    return tcp(parts[1], DEFAULT_PORT);
                }
                if (parts.length == 3) {
                    return tcp(parts[1], Integer.parseInt(parts[2]));
                }
                throw new IllegalArgumentException("dial string tcp!host!port");
            }
            if (s.startsWith("[")) {
                int close = s.indexOf(']');
                String host = s.substring(1, close);
                String rest = s.substring(close + 1);
                if (rest.isEmpty()) {
                    return tcp(host, DEFAULT_PORT);
                }
                if (!rest.startsWith(":")) {
                    throw new IllegalArgumentException("expected :port after ]");
                }
                return tcp(host, Integer.parseInt(rest.substring(1)));
            }
            int colon = s.lastIndexOf(':');
            if (colon < 0) {
                return tcp(s, DEFAULT_PORT);
            }
            if (s.indexOf(':') != colon) {
                throw new IllegalArgumentException("IPv6 addresses go in brackets: [addr]:port");
            }
            return tcp(s.substring(0, colon), Integer.parseInt(s.substring(colon + 1)));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("not a 9P address (host:port, tcp!host!port, unix:/path): '"
                    + s + "': " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        if (path != null) {
            return "unix:" + path;
        }
        return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
    }
}
