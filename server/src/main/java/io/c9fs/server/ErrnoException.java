package io.c9fs.server;

/**
 * A host system call failed with {@link #errno()}; the request that caused it is answered with
 * that errno (Rlerror in 9P2000.L, Rerror with the errno's text otherwise). Carries no stack trace:
 * it is an expected outcome of file operations, thrown on every ENOENT of every walk.
 */
public final class ErrnoException extends Exception {
    private final int errno;

    public ErrnoException(int errno, String what) {
        super(what + ": errno " + errno, null, false, false);
        this.errno = errno;
    }

    /** The Linux errno. */
    public int errno() {
        return errno;
    }
}
