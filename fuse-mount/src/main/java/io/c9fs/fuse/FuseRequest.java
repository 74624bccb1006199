package io.c9fs.fuse;

/**
 * The header of one request read from /dev/fuse, as seen by a {@link FuseFilesystem} method.
 *
 * <p>Threads: the getters may be called from any thread. {@link #onInterrupt} may be called by the
 * worker serving the request; the action runs on the worker that read the matching FUSE_INTERRUPT,
 * or at once on the caller if the interrupt already arrived.
 */
public interface FuseRequest {
    /** The kernel's unique id of this request (what FUSE_INTERRUPT names). */
    long unique();

    /** Credentials of the calling process, as the kernel saw them. */
    int uid();

    int gid();

    int pid();

    /**
     * An OPEN or CREATE with O_TRUNC whose caller lacks CAP_FSETID, on a filesystem that
     * {@link FuseFilesystem#killsSuidgid kills setuid and setgid} (FUSE_OPEN_KILL_SUIDGID): the
     * truncation must clear them as a local truncation would.
     */
    default boolean killSuidgid() {
        return false;
    }

    /** True once a FUSE_INTERRUPT for this request has arrived. */
    boolean interrupted();

    /**
     * Registers the action that aborts this request (the 9P layer sends Tflush). It runs at most
     * once: on the thread that read the INTERRUPT, or immediately if the request is already
     * interrupted. A later registration replaces an earlier one that has not run.
     */
    void onInterrupt(Runnable action);
}
