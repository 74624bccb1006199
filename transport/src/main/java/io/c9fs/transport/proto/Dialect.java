package io.c9fs.transport.proto;

/**
 * The 9P dialects c9fs speaks, named by the version string exchanged in Tversion/Rversion.
 * Which messages exist, and how Rerror, Tattach and the stat structure look, depends on it.
 */
public enum Dialect {
    /** Plain 9P2000 (Plan 9, Inferno): string errors, 9P2000 stat. */
    P9P2000("9P2000"),
    /** 9P2000.u (Unix extensions): numeric errno in Rerror, n_uname, extended stat. */
    P9P2000_U("9P2000.u"),
    /** 9P2000.L (Linux): Rlerror, getattr/setattr, lopen, readdir, locks, xattrs. */
    P9P2000_L("9P2000.L"),
    /** 9P2000.L with c9fs's leases and recalls (docs/protocol.md). */
    P9P2000_L_C9("9P2000.L.c9");

    private final String version;

    Dialect(String version) {
        this.version = version;
    }

    /** The version string on the wire. */
    public String version() {
        return version;
    }

    /** True for the dialects with the 9P2000.L message set (Rlerror, getattr, lopen, ...). */
    public boolean isLinux() {
        return this == P9P2000_L || this == P9P2000_L_C9;
    }

    /** True if the connection carries leases and recalls. */
    public boolean hasLeases() {
        return this == P9P2000_L_C9;
    }

    /** The dialect named exactly by {@code version}, or null if c9fs does not speak it. */
    public static Dialect of(String version) {
        for (Dialect d : values()) {
            if (d.version.equals(version)) {
                return d;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return version;
    }
}
