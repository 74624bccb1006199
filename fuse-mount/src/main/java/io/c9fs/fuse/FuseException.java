package io.c9fs.fuse;

/**
 * A failed filesystem operation; the FUSE layer replies with {@code -errno}.
 * Errno values are Linux's (ENOENT 2, EIO 5, ENOSYS 38, ...).
 */
public final class FuseException extends Exception {
    private final int errno;

    public FuseException(int errno) {
        this(errno, "errno " + errno);
    }

    /**
     * Without a stack trace: most of these are answers, not faults (ENOENT of a lookup, ENODATA of
     * the ACL `ls -l` asks of every file), and filling in a stack per answer cost more than the
     * answer.
     */
    public FuseException(int errno, String msg) {
        super(msg, null, false, false);
        if (errno <= 0) {
            throw new IllegalArgumentException("errno must be positive: " + errno);
        }
        this.errno = errno;
    }

    /** The positive Linux errno. */
    public int errno() {
        return errno;
    }
}
