package io.c9fs.mount;

import io.c9fs.cache.PageCache;
import io.c9fs.fuse.FuseException;
import io.c9fs.fuse.FuseRequest;
import io.c9fs.fuse.FuseSession;

/**
 * Every "is the kernel's cached view still valid" decision of the filesystem, in one place, so a
 * coherence layer (leases with server callbacks that invalidate through the FUSE notifier from a
 * thread of its own) can replace the default {@link CloseToOpenPolicy} without touching the
 * request paths.
 *
 * <p>Threads: called concurrently from FUSE workers; implementations must not call the FUSE
 * notifier from these methods (a worker must never notify), and only {@link #writerOpened} and
 * {@link #writerReleased} may wait on the network.
 */
public interface CachePolicy {
    /** How long the kernel may trust a name-to-inode binding. */
    long entryTimeoutNanos();

    /** How long the kernel may trust that a name does not exist (0: never cache ENOENT). */
    long negativeTimeoutNanos();

    /** How long the kernel may trust an inode's attributes. */
    long attrTimeoutNanos();

    /**
     * How long the kernel may trust attributes that no lease covers: those of a Treaddirattr
     * entry whose file this mount holds no fid on (docs/protocol.md), until a fid is walked.
     */
    default long unleasedAttrTimeoutNanos() {
        return attrTimeoutNanos();
    }

    /**
     * Called at every OPEN of a regular file with attributes fetched from the server during that
     * open. True lets the kernel keep the inode's cached pages (FOPEN_KEEP_CACHE); false makes it
     * drop them before the open returns.
     */
    boolean keepCacheOnOpen(long nodeid, FileStamp current);

    /** The kernel forgot the inode: its pages are gone with it. */
    void forget(long nodeid);

    /**
     * The mount is up: a policy kept by server callbacks starts the threads that carry them out
     * (they, not workers, send the FUSE notifications).
     */
    default void start(NodeTable nodes, FuseSession session) {
    }

    /** The mount is going away. */
    default void stop() {
    }

    /**
     * A handle that can write was opened: from now until {@link #writerReleased}, processes may
     * dirty its pages through a shared mapping without the daemon seeing a request
     * (FINDINGS.md: no notice of mmap or page_mkwrite). May call the server.
     */
    default void writerOpened(FuseRequest r, OpenHandle h) throws FuseException {
    }

    /**
     * True while the server recalls what this mount caches (leases honoured): a directory this
     * mount made and has seen no entry recall of since may answer lookups of absent names itself.
     */
    default boolean recalls() {
        return false;
    }

    /**
     * The write lease {@link #writerOpened} would take, asked without waiting for a file that a
     * create is making through {@code fid}: sent right behind the create, which the server serves
     * first (one fid's requests run in order). Null when this policy takes no lease; otherwise the
     * caller waits for the answer and passes it to {@link #writerCreated}.
     */
    default java.util.concurrent.CompletableFuture<io.c9fs.transport.proto.Message.Rlease> askWriteLease(int fid) {
        return null;
    }

    /** The lease {@link #askWriteLease} asked was answered: {@code h} holds it as after {@link #writerOpened}. */
    default void writerCreated(OpenHandle h, io.c9fs.transport.proto.Message.Rlease granted) {
    }

    /** That handle was released (RELEASE: the last mapping is gone too). May call the server. */
    default void writerReleased(OpenHandle h) {
    }

    /**
     * True if a WRITE through writer handle {@code h} may be answered before the server answers
     * its Twrites (write-behind): only while this mount holds a sole write lease of the file (no
     * other client holds any lease on it; the server recalls it before another client gets one),
     * and the recall is acknowledged only once the writes in flight are in (see
     * {@link #drainBeforeRecall}).
     */
    default boolean writeBehind(OpenHandle h) {
        return false;
    }

    /**
     * Called once before {@link #start}: {@code drain} ends the write-behind of a file (by
     * qid.path) and returns the future of its writes in flight, or null; a policy that
     * acknowledges recalls acknowledges each only once that future completes.
     */
    default void drainBeforeRecall(java.util.function.LongFunction<java.util.concurrent.CompletableFuture<Void>> drain) {
    }

    /**
     * The server refused a write through writer handle {@code h} with ESTALE (a lease policy's
     * fence: this mount let a recall of the file expire). Must not wait or notify: a policy that
     * can lift the fence does so from a thread of its own.
     */
    default void writeRefused(OpenHandle h) {
    }

    /**
     * The 9P connection was lost; called on the session's c9fs-redial thread. Whatever the server
     * promised this mount (leases) is void from now on.
     */
    default void connectionLost() {
    }

    /**
     * A new connection is up with every fid restored; called on the c9fs-redial thread, never a
     * worker, so it may notify the kernel. Nothing cached can be trusted (no recall reached us
     * while disconnected): drop every page and attribute the kernel holds; dirty pages are written
     * back (laundered) on the way, through the restored connection.
     */
    default void reconnected(io.c9fs.cache.KernelCache kernel) {
        try {
            kernel.dropAll();
        } catch (java.io.IOException | RuntimeException e) {
            System.getLogger(CachePolicy.class.getName()).log(System.Logger.Level.WARNING,
                    "dropping kernel caches after reconnecting: " + e.getMessage());
        }
    }

    /** Lines for {@code c9fs stats}: how the mount keeps its caches valid, and how that goes. */
    default String describe() {
        return "coherence: close-to-open (no leases)\n";
    }

    /** The page cache READs go through, or null to read from the server every time. */
    default PageCache pages() {
        return null;
    }
}
