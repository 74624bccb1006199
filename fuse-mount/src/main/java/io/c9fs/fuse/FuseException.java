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

    public FuseException(int errno, String msg) {
        super(msg);
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
