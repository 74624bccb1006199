package io.c9fs.fuse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * FUSE_INIT: the first request on a new connection. Reads it (bounded wait), picks the protocol
 * minor and the capability flags, and replies. See docs/fuse.md for why each flag is (not) wanted.
 */
final class InitHandshake {
    static final int MAJOR = 7;
    /** Oldest kernel protocol accepted; it has MAX_PAGES (7.28) and EXPLICIT_INVAL_DATA (7.30). */
    static final int MIN_MINOR = 31;
    /** Newest protocol whose structures this code knows. */
    static final int MAX_MINOR = 45;
    static final int PAGE_SIZE = 4096;
    static final int MAX_READAHEAD = 1 << 20;

    static final long ASYNC_READ = 1L << 0;
    static final long POSIX_LOCKS = 1L << 1;
    static final long ATOMIC_O_TRUNC = 1L << 3;
    static final long BIG_WRITES = 1L << 5;
    static final long AUTO_INVAL_DATA = 1L << 12;
    static final long DO_READDIRPLUS = 1L << 13;
    static final long READDIRPLUS_AUTO = 1L << 14;
    static final long ASYNC_DIO = 1L << 15;
    static final long WRITEBACK_CACHE = 1L << 16;
    static final long PARALLEL_DIROPS = 1L << 18;
    static final long POSIX_ACL = 1L << 20;
    static final long MAX_PAGES = 1L << 22;
    static final long EXPLICIT_INVAL_DATA = 1L << 25;
    static final long HANDLE_KILLPRIV_V2 = 1L << 28;
    static final long INIT_EXT = 1L << 30;

    private static final int EPROTO = 71;
    private static final int INIT_TIMEOUT_MILLIS = 10_000;
    private static final int MAX_BACKGROUND = 32;
    private static final int CONGESTION_THRESHOLD = 24;

    /** What was agreed. */
    record Result(int minor, long flags, int maxWrite, int maxPages, int maxReadahead) {
    }

    private InitHandshake() {
    }

    /** Flags this layer asks for; the kernel grants the intersection with what it offers. */
    static long wanted(MountOptions options, boolean fsLocks) {
        return wanted(options, fsLocks, false);
    }

    /** As above; {@code acls}: the filesystem lets the kernel cache POSIX ACLs (FUSE_POSIX_ACL). */
    static long wanted(MountOptions options, boolean fsLocks, boolean acls) {
        return wanted(options, fsLocks, acls, false);
    }

    /**
     * As above; {@code killsSuidgid}: the filesystem clears setuid and setgid itself when the
     * kernel says so (FUSE_HANDLE_KILLPRIV_V2, see {@link FuseFilesystem#killsSuidgid}).
     */
    static long wanted(MountOptions options, boolean fsLocks, boolean acls, boolean killsSuidgid) {
        long want = ASYNC_READ | ATOMIC_O_TRUNC | BIG_WRITES | DO_READDIRPLUS | ASYNC_DIO
                | PARALLEL_DIROPS | MAX_PAGES | EXPLICIT_INVAL_DATA | INIT_EXT;
        if (fsLocks) {
            want |= POSIX_LOCKS;
        }
        if (options.writebackCache()) {
            want |= WRITEBACK_CACHE;
        }
        if (acls) {
            want |= POSIX_ACL;
        }
        if (killsSuidgid) {
            want |= HANDLE_KILLPRIV_V2;
        }
        return want;
    }

    static Result run(FuseDevice device, MountOptions options, boolean fsLocks, boolean acls, boolean killsSuidgid)
            throws FuseException {
        // FUSE_MIN_READ_BUFFER: the kernel refuses reads into anything smaller.
        ByteBuffer req = ByteBuffer.allocateDirect(8192 + PAGE_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        if (!device.awaitReadable(INIT_TIMEOUT_MILLIS)) {
            throw new FuseException(Errno.EIO, "no FUSE_INIT from the kernel within " + INIT_TIMEOUT_MILLIS + " ms");
        }
        long n = device.read(req);
        if (n < 0) {
            throw new FuseException((int) -n, "reading FUSE_INIT: " + Syscalls.strerror((int) -n));
        }
        int in = FuseWire.IN_HEADER;
        long unique = req.getLong(8);
        if (n < in + 16 || req.getInt(4) != Opcode.INIT) {
            throw new FuseException(Errno.EIO, "first request is opcode " + req.getInt(4) + ", not FUSE_INIT");
        }
        int major = req.getInt(in);
        int minor = req.getInt(in + 4);
        int kernelReadahead = req.getInt(in + 8);
        long offered = req.getInt(in + 12) & 0xffffffffL;
        if ((offered & INIT_EXT) != 0 && n >= in + 20) {
            offered |= (req.getInt(in + 16) & 0xffffffffL) << 32;
        }
        ByteBuffer out = ByteBuffer.allocateDirect(FuseWire.OUT_HEADER + 64).order(ByteOrder.LITTLE_ENDIAN);
        if (major != MAJOR || minor < MIN_MINOR) {
            out.putInt(FuseWire.OUT_HEADER).putInt(-EPROTO).putLong(unique).flip();
            device.write(out);
            throw new FuseException(EPROTO, "kernel FUSE protocol " + major + "." + minor + " is not supported (need "
                    + MAJOR + "." + MIN_MINOR + " or newer)");
        }
        int agreedMinor = Math.min(minor, MAX_MINOR);
        long flags = wanted(options, fsLocks, acls, killsSuidgid) & offered;
        int maxPages = (options.maxWrite() + PAGE_SIZE - 1) / PAGE_SIZE;
        // The kernel offers its bdi's read_ahead_kb (128 KiB) and keeps the smaller of the two;
        // the result is what FuseMount raises the bdi to afterwards.
        int readahead = MAX_READAHEAD;
        out.putInt(FuseWire.OUT_HEADER + 64).putInt(0).putLong(unique)
                .putInt(MAJOR).putInt(agreedMinor).putInt(readahead).putInt((int) flags)
                .putShort((short) MAX_BACKGROUND).putShort((short) CONGESTION_THRESHOLD)
                .putInt(options.maxWrite())
                .putInt(1) // time_gran: nanosecond timestamps
                .putShort((short) maxPages).putShort((short) 0)
                .putInt((int) (flags >>> 32));
        out.put(new byte[28]).flip();
        int rc = device.write(out);
        if (rc < 0) {
            throw new FuseException(-rc, "replying to FUSE_INIT: " + Syscalls.strerror(-rc));
        }
        return new Result(agreedMinor, flags, options.maxWrite(), maxPages, readahead);
    }
}
