package io.c9fs.transport.client;

import io.c9fs.transport.Errno;

/**
 * A 9P request failed: the server answered Rlerror/Rerror, or the transport gave up (timeout,
 * lost connection, protocol violation). {@link #errno()} is the Linux errno to hand upwards
 * (for a FUSE reply, negated).
 */
public final class NinepException extends java.io.IOException {
    private final int errno;

    public NinepException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public NinepException(int errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }

    /** The errno's symbolic name, e.g. "ENOENT". */
    public String errnoName() {
        return Errno.name(errno);
    }
}
