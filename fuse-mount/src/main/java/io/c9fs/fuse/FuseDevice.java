package io.c9fs.fuse;

import java.nio.ByteBuffer;

/**
 * One open /dev/fuse descriptor. It is closed only when no thread uses it any more, so the fd
 * number can never be reused under a worker or a notifier (closing the last reference to the
 * device also aborts the connection in the kernel).
 *
 * <p>Threads: {@link #enter}/{@link #exit} bracket every use; {@link #read} and {@link #write}
 * may run concurrently on any threads (each write(2) of one whole message is atomic on /dev/fuse,
 * so replies and notifications need no lock between them). Monitor: this object, held only briefly.
 */
final class FuseDevice {
    private final int fd;
    private int users;
    private boolean closing;
    private boolean closed;

    FuseDevice(int fd) {
        this.fd = fd;
    }

    int fd() {
        return fd;
    }

    /** Opens /dev/fuse. */
    static FuseDevice open() throws FuseException {
        int fd = Syscalls.LIBC.open("/dev/fuse", Syscalls.O_RDWR | Syscalls.O_CLOEXEC, 0);
        if (fd < 0) {
            int errno = Syscalls.errno();
            throw new FuseException(errno, "cannot open /dev/fuse: " + Syscalls.strerror(errno)
                    + (errno == Errno.ENOENT ? " (is the fuse module loaded?)" : ""));
        }
        return new FuseDevice(fd);
    }

    /** Registers a user; false if the device is already being closed. */
    synchronized boolean enter() {
        if (closing) {
            return false;
        }
        users++;
        return true;
    }

    synchronized void exit() {
        if (--users == 0 && closing) {
            closeNow();
        }
    }

    /** Closes as soon as the last user exits. */
    synchronized void close() {
        closing = true;
        if (users == 0) {
            closeNow();
        }
    }

    private void closeNow() {
        if (!closed) {
            closed = true;
            Syscalls.LIBC.close(fd);
        }
    }

    /** read(2) of one request into buf[position, limit); returns the length or {@code -errno}. */
    long read(ByteBuffer buf) {
        long n = Syscalls.LIBC.read(fd, buf, buf.remaining());
        return n >= 0 ? n : -Syscalls.errno();
    }

    /** write(2) of buf[position, limit) as one message; returns 0 or {@code -errno}. */
    int write(ByteBuffer buf) {
        long n = Syscalls.LIBC.write(fd, buf, buf.remaining());
        return n >= 0 ? 0 : -Syscalls.errno();
    }

    /** Waits until a request can be read; false on timeout. */
    boolean awaitReadable(int timeoutMillis) throws FuseException {
        return Syscalls.awaitReadable(fd, timeoutMillis);
    }
}
