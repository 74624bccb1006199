package io.c9fs.server;

import io.c9fs.server.lease.LeaseManager;
import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Rattach;
import io.c9fs.transport.proto.Message.Rauth;
import io.c9fs.transport.proto.Message.Rclunk;
import io.c9fs.transport.proto.Message.Rlease;
import io.c9fs.transport.proto.Message.Rread;
import io.c9fs.transport.proto.Message.Rremove;
import io.c9fs.transport.proto.Message.Rwalk;
import io.c9fs.transport.proto.Message.Rwrite;
import io.c9fs.transport.proto.Message.Tattach;
import io.c9fs.transport.proto.Message.Tauth;
import io.c9fs.transport.proto.Message.Tclunk;
import io.c9fs.transport.proto.Message.Tlease;
import io.c9fs.transport.proto.Message.Tread;
import io.c9fs.transport.proto.Message.Tremove;
import io.c9fs.transport.proto.Message.Twalk;
import io.c9fs.transport.proto.Message.Twrite;
import io.c9fs.transport.proto.Qid;
import io.c9fs.transport.proto.Stat;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The file service of one 9P connection: its fid table and the requests every dialect shares
 * (auth, attach, walk, read, write, clunk, remove, and Tlease of 9P2000.L.c9). 9P2000.L requests
 * go on to {@link LinuxOps}, 9P2000 and 9P2000.u ones to {@link ClassicOps}. A request runs in
 * three steps, driven by {@link RequestQueue}: {@link #before} (the recalls it must wait for
 * before it is applied), {@link #execute} (applies it, returns the R-message or fails with the
 * errno to answer, and records what it changed) and {@link #after} (the recalls of what it
 * changed, before it is answered).
 *
 * <p>Leases: on a 9P2000.L.c9 connection ({@link #holder} not null) every fid is an implicit
 * read lease on its file: {@link #acquireNode}/{@link #releaseNode} count it with the lease
 * manager and watch the file's directory for changes by local processes.
 *
 * <p>Threading: {@link #execute} runs on worker threads, several at once for different fids;
 * {@link RequestQueue} guarantees one request at a time per primary fid, so the state of a fid is
 * only touched by its own request. The fid table and the {@code handle}/{@code node} fields of
 * every fid are guarded by the session's monitor, because other requests borrow them as secondary
 * fids (a Twalk's source, a Tlcreate's directory): {@link #borrow} retains the handle under the
 * lock. Lock order: session, then {@link FileNode}; nothing is called on the host while holding
 * the session lock, nor the lease manager or the local-change watcher (their monitors are leaves).
 */
final class Session {
    private static final int XATTR_SIZE_MAX = 65536;
    /** Only root may give files away (chown), so only then do created files get the client's ids. */
    private static final boolean ROOT = Posix.geteuid() == 0;

    final Export export;
    final Dialect dialect;
    final int msize;
    final ServerStats stats;
    /** The identity the {@link FileNode}s see for this connection. */
    final Object owner;
    /** This connection as a lease holder, or null when it did not negotiate 9P2000.L.c9. */
    final CallbackChannel holder;
    private final LeaseGate gate;
    private final ServerLimits limits;
    private final byte[] authToken;
    private final ByteBufAllocator alloc;
    private final Map<Integer, Fid> fids = new HashMap<>();
    private final LinuxOps linux;
    private final ClassicOps classic;
    private long authQidPath;
    /** An attach succeeded on this session: it may present a client token (Tclient). */
    private volatile boolean attached;

    Session(Export export, Dialect dialect, int msize, ServerLimits limits, byte[] authToken,
            ServerStats stats, ByteBufAllocator alloc, Object owner, LeaseGate gate,
            CallbackChannel holder) {
        this.export = export;
        this.gate = gate;
        this.holder = holder;
        this.dialect = dialect;
        this.msize = msize;
        this.limits = limits;
        this.authToken = authToken;
        this.stats = stats;
        this.alloc = alloc;
        this.owner = owner;
        this.linux = new LinuxOps(this);
        this.classic = new ClassicOps(this);
    }

    /** The fid a request names first: the unit of request ordering. NOFID when none. */
    static int primaryFid(Message m) {
        if (m instanceof Twalk w) {
            return w.fid();
        } else if (m instanceof Tread r) {
            return r.fid();
        } else if (m instanceof Twrite w) {
            return w.fid();
        } else if (m instanceof Tclunk c) {
            return c.fid();
        } else if (m instanceof Tremove r) {
            return r.fid();
        } else if (m instanceof Tattach a) {
            return a.fid();
        } else if (m instanceof Tauth a) {
            return a.afid();
        } else if (m instanceof Tlease l) {
            return l.fid();
        }
        return LinuxOps.primaryFid(m, ClassicOps.primaryFid(m));
    }

    /**
     * The largest Tread {@link #tryInline} serves on the event loop: a random read (a page fault,
     * a database's block) is served there, a bulk read whose copy would hold the loop from the
     * connection's other requests goes to a worker.
     */
    static final int INLINE_READ_MAX = 128 * 1024;

    /** Whether {@link #tryInline} may answer {@code t}; checked before the request is queued. */
    static boolean inlineCandidate(Message t) {
        return (t instanceof Tread r && r.count() > 0 && r.count() <= INLINE_READ_MAX)
                || t instanceof Message.Tgetattr
                || (t instanceof Message.Tunlinkat u && (u.flags() & Posix.AT_REMOVEDIR) == 0)
                || t instanceof Tclunk
                || t instanceof Tlease;
    }

    /**
     * The largest file {@link #tryInline} unlinks, or closes the last descriptor of, on the event
     * loop: freeing its few blocks takes no longer than the stat, while a large file's extents
     * could hold the loop from the connection's other requests.
     */
    static final long INLINE_FREE_MAX = 1024 * 1024;

    /**
     * Answers {@code t} on the calling thread, the connection's event loop, if that cannot wait for
     * the disk: a Tread of a regular file whose bytes the host's page cache holds in full
     * (preadv2 RWF_NOWAIT), a Tgetattr on a local disk file system, or there a Tunlinkat or
     * Tclunk of a small file ({@link #inlineUnlink}, {@link #inlineClunk}) or a Tlease granted
     * without a recall ({@link #inlineLease}). Saves the two thread hand-offs of a worker (loop to worker, worker
     * back to the loop), which cost more than the read itself on a small machine. Null when the
     * request must run on a worker as usual: not cached, short (end of file), not a plain file
     * read, or any error (the worker, doing it again, reports it). Called only when no other request of the
     * fid is queued or running, like {@link #execute}.
     */
    Message tryInline(Message t, Changes ch) {
        if (t instanceof Message.Tunlinkat u) {
            return inlineUnlink(u, ch);
        }
        if (t instanceof Tclunk c) {
            return inlineClunk(c, ch);
        }
        if (t instanceof Tlease l) {
            return inlineLease(l);
        }
        if (t instanceof Message.Tgetattr g) {
            // An fstat of the fid's O_PATH descriptor: the inode is held, so on a local disk file
            // system nothing is read.
            Fid f = peekFid(g.fid());
            if (f == null || f.kind != Fid.Kind.FILE || f.handle == null || !dialect.isLinux()
                    || !export.statNeverWaits(f.handle)) {
                return null;
            }
            try {
                return linux.execute(t, ch);
            } catch (ErrnoException | RuntimeException e) {
                return null;
            }
        }
        if (!(t instanceof Tread r)) {
            return null;
        }
        Fid f = peekFid(r.fid());
        if (f == null || f.kind != Fid.Kind.FILE || !f.readable() || f.dir != null || r.offset() < 0) {
            return null;
        }
        int count = Math.min(r.count(), msize - Message.IOHDRSZ);
        if (count <= 0) {
            return null;
        }
        // A Twrite of the file is in progress: the loop does not wait for it (a worker will).
        var shared = f.node.data.readLock();
        if (!shared.tryLock()) {
            return null;
        }
        ByteBuf buf = alloc.directBuffer(count);
        int n;
        try {
            n = buf.hasMemoryAddress() ? Posix.preadCached(f.ioFd, buf.memoryAddress(), count, r.offset()) : -1;
        } finally {
            shared.unlock();
        }
        if (n != count) {
            buf.release();
            return null;
        }
        buf.writerIndex(n);
        return new Rread(buf);
    }

    /**
     * A Tunlinkat of a small file in a directory on the local disk, on the event loop. Unlinking
     * is a directory change like the Tgetattr's stat: answered from the dentry and inode caches
     * (the kernel has just looked the name up to remove it), with the journal's work done later by
     * the kernel's own threads; on a worker the two hand-offs cost more than the unlink
     * (bench row d). Its recalls (phase 2) are waited for without the loop, as for any request.
     */
    private Message inlineUnlink(Message.Tunlinkat u, Changes ch) {
        Fid d = peekFid(u.dirfid());
        if (d == null || d.kind != Fid.Kind.FILE || d.handle == null || !dialect.isLinux()
                || !export.statNeverWaits(d.handle)) {
            return null;
        }
        try {
            HostStat st = Posix.fstatat(d.handle.fd(), u.name(), Posix.AT_SYMLINK_NOFOLLOW);
            if (st.isDir() || (st.nlink() <= 1 && st.size() > INLINE_FREE_MAX)) {
                return null;
            }
            return linux.execute(u, ch);
        } catch (ErrnoException | RuntimeException e) {
            return null;
        }
    }

    /**
     * A Tclunk of a small file's fid on the event loop (what a mount clunks when the kernel
     * forgets a node, or releases a file it wrote a little to): closing the descriptors frees
     * the inode only if this was its last name and descriptor, then as cheaply as an unlink of
     * a small file, and a close starts the write-back of a few pages at most. Fids reading a
     * directory, holding locks, committing an xattr or removing their file at clunk go to a worker, as do large files.
     */
    private Message inlineClunk(Tclunk c, Changes ch) {
        Fid f = peekFid(c.fid());
        if (f == null || f.kind != Fid.Kind.FILE || f.handle == null || f.dir != null
                || f.locks != null || f.removeOnClunk || !dialect.isLinux() || !export.statNeverWaits(f.handle)) {
            return null;
        }
        try {
            HostStat st = Posix.fstat(f.isOpen() ? f.ioFd : f.handle.fd());
            if (st.size() > INLINE_FREE_MAX && (st.nlink() == 0 || f.isOpen())) {
                return null;
            }
            return execute(c, ch);
        } catch (ErrnoException | RuntimeException e) {
            return null;
        }
    }

    /**
     * A Tlease whose grant needed no recall (it reached APPLY on the loop: a read lease, the
     * return of a write lease at a writer's release, a write lease nobody else held), on the event
     * loop: what is left is the fstat of the fid's held inode for the reply's qid. A mount's
     * release of a written file sends it with the Tclunk of the same fid, which then follows it
     * here instead of on a worker.
     */
    private Message inlineLease(Tlease l) {
        Fid f = peekFid(l.fid());
        if (holder == null || f == null || f.kind != Fid.Kind.FILE || f.handle == null
                || !export.statNeverWaits(f.handle)) {
            return null;
        }
        try {
            return lease(l);
        } catch (ErrnoException | RuntimeException e) {
            return null;
        }
    }

    /** The recalls to wait for before {@code t} is applied (phase 1, or a write lease's grant). */
    CompletableFuture<Void> before(Message t, Changes ch) throws ErrnoException {
        if (t instanceof Tlease l) {
            if (holder == null) {
                throw new ErrnoException(Errno.EOPNOTSUPP, "leases need 9P2000.L.c9");
            }
            int mode = l.mode() & ~Message.LEASE_SOLE;
            boolean askSole = (l.mode() & Message.LEASE_SOLE) != 0;
            if (mode < LeaseManager.NONE || mode > LeaseManager.WRITE || (askSole && mode != LeaseManager.WRITE)) {
                throw new ErrnoException(Errno.EINVAL, "lease mode " + l.mode());
            }
            Fid f = fileFid(l.fid());
            return gate.leases().grant(holder, f.node.qidPath(), mode, askSole).thenAccept(m -> { });
        }
        return gate.before(this, t, ch);
    }

    /** The lease table, for the requests that take or return leases without a fid (listings). */
    LeaseManager leases() {
        return gate.leases();
    }

    /** The recalls of what a request changed, to wait for before it is answered (phase 2). */
    CompletableFuture<Void> after(Changes changes) {
        return gate.after(this, changes);
    }

    /**
     * The changes of the request this thread is applying: a new fid on a file another client
     * writes behind adds the wait for that writer to them ({@link #acquireNode}).
     */
    private static final ThreadLocal<Changes> APPLYING = new ThreadLocal<>();

    Message execute(Message t, Changes ch) throws ErrnoException {
        Changes outer = APPLYING.get();
        APPLYING.set(ch);
        try {
            return apply(t, ch);
        } finally {
            APPLYING.set(outer);
        }
    }

    private Message apply(Message t, Changes ch) throws ErrnoException {
        if (t instanceof Twalk w) {
            return walk(w);
        } else if (t instanceof Tread r) {
            return read(r);
        } else if (t instanceof Twrite w) {
            return write(w, ch);
        } else if (t instanceof Tclunk c) {
            return clunk(c, ch);
        } else if (t instanceof Tremove r) {
            return remove(r, ch);
        } else if (t instanceof Tattach a) {
            return attach(a);
        } else if (t instanceof Tauth a) {
            return auth(a);
        } else if (t instanceof Tlease l) {
            return lease(l);
        } else if (t instanceof Message.Tclient c) {
            return client(c);
        } else if (t instanceof Message.Tunlist u) {
            return unlist(u);
        }
        Message r = dialect.isLinux() ? linux.execute(t, ch) : classic.execute(t, ch);
        if (r == null) {
            throw new ErrnoException(Errno.EOPNOTSUPP, "not in " + dialect + ": " + t.type());
        }
        return r;
    }

    // ------------------------------------------------------------------ fid table

    synchronized Fid fid(int id) throws ErrnoException {
        Fid f = fids.get(id);
        if (f == null) {
            throw new ErrnoException(Errno.EBADF, "unknown fid " + id);
        }
        return f;
    }

    /** The fid, or null if unknown. */
    synchronized Fid peekFid(int id) {
        return fids.get(id);
    }

    /** The fid as a file (not xattr or auth). */
    Fid fileFid(int id) throws ErrnoException {
        Fid f = fid(id);
        if (f.kind != Fid.Kind.FILE) {
            throw new ErrnoException(Errno.EBADF, "not a file fid");
        }
        return f;
    }

    /** A new reference to the handle of a file fid; the caller releases it. */
    synchronized PathHandle borrow(int id) throws ErrnoException {
        Fid f = fids.get(id);
        if (f == null || f.handle == null) {
            throw new ErrnoException(Errno.EBADF, "unknown fid " + id);
        }
        return f.handle.retain();
    }

    /** Installs {@code f}; the id must be free, or be {@code replacing}'s (which is then closed). */
    void install(Fid f, Fid replacing) throws ErrnoException {
        synchronized (this) {
            Fid old = fids.get(f.id);
            if (old != null && old != replacing) {
                throw new ErrnoException(Errno.EBADF, "fid in use " + f.id);
            }
            if (old == null && fids.size() >= limits.maxFids()) {
                throw new ErrnoException(Errno.EMFILE, "too many fids");
            }
            fids.put(f.id, f);
            if (old == null) {
                stats.fids.incrementAndGet();
            }
        }
        if (replacing != null) {
            release(replacing);
        }
    }

    /** Points {@code f} at another file; the fid's old handle and node are released. */
    void rebind(Fid f, PathHandle handle) {
        PathHandle oldHandle;
        FileNode oldNode;
        FileNode node = acquireNode(handle);
        synchronized (this) {
            oldHandle = f.handle;
            oldNode = f.node;
            f.handle = handle;
            f.node = node;
        }
        if (oldNode != null) {
            releaseNode(oldNode, oldHandle);
        }
        if (oldHandle != null) {
            oldHandle.release();
        }
    }

    /**
     * The node of the file {@code h} names, for a new fid on it: on a leased connection also an
     * implicit read lease, and a watch on the directory where local processes may change it.
     */
    FileNode acquireNode(PathHandle h) {
        FileNode node = export.nodes().acquire(export.qidPath(h.stat()));
        if (holder != null) {
            CompletableFuture<Void> shared = gate.leases().reference(holder, node.qidPath());
            if (shared != null) {
                Changes ch = APPLYING.get();
                if (ch != null) {
                    ch.await(shared);
                } else {
                    System.getLogger(Session.class.getName()).log(System.Logger.Level.WARNING,
                            "a fid on a sole writer's file outside a request");
                }
            }
            gate.watcher().watch(h);
        }
        return node;
    }

    /** Undoes {@link #acquireNode} for a fid that lets go of {@code h}'s file. */
    void releaseNode(FileNode node, PathHandle h) {
        if (holder != null) {
            gate.leases().unreference(holder, node.qidPath());
            gate.watcher().unwatch(h);
        }
        export.nodes().release(node);
    }

    private Fid unlink(int id) throws ErrnoException {
        synchronized (this) {
            Fid f = fids.remove(id);
            if (f == null) {
                throw new ErrnoException(Errno.EBADF, "unknown fid " + id);
            }
            stats.fids.decrementAndGet();
            return f;
        }
    }

    LockTable locks() {
        return gate.locks();
    }

    DiskSpace disk() {
        return gate.disk();
    }

    /** A lock request on {@code f} succeeded: its record of held ranges follows the kernel's. */
    void lockApplied(Fid f, LockTable.Range r) {
        if (f.locks == null) {
            f.locks = new LockTable.Held(owner);
            gate.locks().track(f.node.qidPath(), f.locks);
        }
        int before = f.locks.size();
        f.locks.apply(r);
        gate.locks().heldDelta(f.locks.size() - before);
    }

    /** Releases a fid that was made but never installed (or already unlinked from the table). */
    void releaseFid(Fid f) {
        release(f);
    }

    /** Removes an installed fid and releases it, as a clunk that commits nothing. */
    void dropFid(int id) throws ErrnoException {
        release(unlink(id));
    }

    /** Closes what a fid holds: its descriptor (dropping its OFD locks), node and handle. */
    private void release(Fid f) {
        if (f.locks != null) {
            gate.locks().untrack(f.node.qidPath(), f.locks);
            gate.locks().heldDelta(-f.locks.size());
            f.locks = null;
        }
        if (f.directFd >= 0) {
            Posix.close(f.directFd);
            f.directFd = -1;
        }
        if (f.ioFd >= 0) {
            Posix.close(f.ioFd);
            f.ioFd = -1;
            if (f.node != null) {
                f.node.closed(owner);
            }
        }
        if (f.node != null) {
            releaseNode(f.node, f.handle);
        }
        if (f.handle != null) {
            f.handle.release();
        }
    }

    /**
     * The client said goodbye or restarted the session, or its connection vanished: every fid is
     * clunked, locks dropped. The locks of a vanished connection are remembered
     * ({@link LockTable#vanished}) so that its owners' reclaims can be judged when it comes back.
     */
    void clunkAll(boolean vanished) {
        List<Fid> all;
        synchronized (this) {
            all = new ArrayList<>(fids.values());
            fids.clear();
            stats.fids.addAndGet(-all.size());
        }
        for (Fid f : all) {
            if (vanished && f.locks != null && f.locks.size() > 0 && f.node != null) {
                gate.locks().vanished(f.node.qidPath(), f.locks.ranges());
            }
        }
        for (Fid f : all) {
            try {
                // An ORCLOSE removal still recalls the other holders, but nobody waits for the
                // acknowledgements: the client that would be answered is gone.
                Changes ch = new Changes();
                finish(f, ch);
                after(ch);
            } catch (ErrnoException e) {
                // The client is gone or restarting: nobody is left to hear about a failed ORCLOSE.
            } finally {
                release(f);
            }
        }
    }

    // ------------------------------------------------------------------ shared requests

    private Message auth(Tauth t) throws ErrnoException {
        if (authToken == null) {
            // ENOENT, as diod answers: its clients (diodcat, diodls) then attach without an afid.
            throw new ErrnoException(Errno.ENOENT, "no authentication required");
        }
        Fid f = new Fid(t.afid(), Fid.Kind.AUTH, null, null, t.nUname());
        f.written = new ByteArrayOutputStream();
        long path;
        synchronized (this) {
            path = ++authQidPath;
        }
        install(f, null);
        return new Rauth(new Qid(Qid.QTAUTH, 0, path));
    }

    private Message attach(Tattach t) throws ErrnoException {
        if (authToken != null) {
            Fid af = t.afid() == Message.NOFID ? null : fid(t.afid());
            if (af == null || af.kind != Fid.Kind.AUTH || !tokenMatches(af.written.toByteArray())) {
                throw new ErrnoException(Errno.EACCES, "authentication failed");
            }
        }
        String aname = t.aname();
        if (!aname.isEmpty() && !aname.equals("/") && !aname.equals(export.dir().toString())) {
            throw new ErrnoException(Errno.ENOENT, "unknown aname " + aname);
        }
        PathHandle root = export.root();
        HostStat st;
        try {
            st = Posix.fstat(root.fd());
        } catch (ErrnoException e) {
            root.release();
            throw e;
        }
        Fid f = new Fid(t.fid(), Fid.Kind.FILE, root, acquireNode(root), t.nUname());
        installOrRelease(f);
        attached = true;
        return new Rattach(export.qid(st, f.node));
    }

    /** The token written to the afid, without a trailing newline, compared in constant time. */
    private boolean tokenMatches(byte[] written) {
        int n = written.length;
        while (n > 0 && (written[n - 1] == '\n' || written[n - 1] == '\r')) {
            n--;
        }
        byte[] given = java.util.Arrays.copyOf(written, n);
        return MessageDigest.isEqual(given, authToken);
    }

    /** Installs a new fid, releasing what it holds if the id cannot be used. */
    void installOrRelease(Fid f) throws ErrnoException {
        try {
            install(f, null);
        } catch (ErrnoException e) {
            release(f);
            throw e;
        }
    }

    private Message walk(Twalk t) throws ErrnoException {
        if (t.wnames().size() > Message.MAXWELEM) {
            throw new ErrnoException(Errno.EINVAL, "too many names");
        }
        Fid from = fileFid(t.fid());
        if (from.isOpen() && t.newfid() == t.fid()) {
            // The open descriptor would no longer be the file the fid names (walk(5)).
            throw new ErrnoException(Errno.EBADF, "walk of an open fid onto itself");
        }
        PathHandle cur = borrow(t.fid());
        List<Qid> qids = new ArrayList<>(t.wnames().size());
        try {
            for (String name : t.wnames()) {
                PathHandle next;
                try {
                    next = export.step(cur, name);
                } catch (ErrnoException e) {
                    if (qids.isEmpty()) {
                        throw e;
                    }
                    return new Rwalk(qids);
                }
                cur.release();
                cur = next;
                HostStat st = cur.stat();
                qids.add(export.qid(st, export.nodes().peek(export.qidPath(st))));
            }
            if (t.newfid() == t.fid()) {
                rebind(from, cur);
            } else {
                Fid f = new Fid(t.newfid(), Fid.Kind.FILE, cur, acquireNode(cur), from.uid);
                cur = null;
                installOrRelease(f);
            }
            cur = null;
            return new Rwalk(qids);
        } finally {
            if (cur != null) {
                cur.release();
            }
        }
    }

    private Message read(Tread t) throws ErrnoException {
        Fid f = fid(t.fid());
        int count = Math.min(t.count(), msize - Message.IOHDRSZ);
        if (count < 0 || t.offset() < 0) {
            throw new ErrnoException(Errno.EINVAL, "bad read");
        }
        if (f.kind == Fid.Kind.XATTR_READ) {
            long off = Math.min(t.offset(), f.xattrValue.length);
            int n = (int) Math.min(count, f.xattrValue.length - off);
            return new Rread(Unpooled.wrappedBuffer(f.xattrValue, (int) off, n));
        }
        if (f.kind != Fid.Kind.FILE || !f.readable()) {
            throw new ErrnoException(Errno.EBADF, "fid not open for reading");
        }
        if (f.dir != null) {
            if (dialect.isLinux()) {
                throw new ErrnoException(Errno.EISDIR, "read of a directory");
            }
            return classic.readDir(f, t.offset(), count);
        }
        var shared = f.node.data.readLock();
        shared.lock();
        try {
            ByteBuf around = readAround(f, t.offset(), count);
            if (around != null) {
                return new Rread(around);
            }
            ByteBuf buf = alloc.directBuffer(count);
            try {
                int n = count > 0 ? Posix.pread(f.ioFd, buf.nioBuffer(0, count), t.offset()) : 0;
                buf.writerIndex(n);
                Rread r = new Rread(buf);
                buf = null;
                return r;
            } finally {
                if (buf != null) {
                    buf.release();
                }
            }
        } finally {
            shared.unlock();
        }
    }

    /**
     * Reads of at least this many bytes may go around the host's page cache ({@link #readAround}):
     * what a client's sequential reader and its read-around ask for (up to the msize), not the
     * small reads of a random reader, for which the host's cache and readahead pay off.
     */
    static final int DIRECT_READ_MIN = 256 * 1024;

    /**
     * What O_DIRECT asks to be aligned: the offset, the length and the memory. A page covers every
     * logical block size up to it; a device with larger blocks refuses with EINVAL, and the fid
     * then reads buffered.
     */
    static final int DIRECT_ALIGN = 4096;

    /**
     * Whether a read of {@code count} bytes at {@code offset} should go around the page cache: the
     * export allows it for the fid's file ({@link Export#readsDirect}), the fid can, the read is
     * large and aligned, and the host's page cache holds only part of the range (up to the end of
     * the file) or none of it, none of it dirty or being written back (a direct read would first
     * wait for those to reach the disk). False whenever cachestat(2) cannot tell.
     */
    private boolean readsAround(Fid f, long offset, int count) throws ErrnoException {
        if (f.directFd == Fid.NO_DIRECT || f.handle == null || !export.readsDirect(f.handle)
                || count < DIRECT_READ_MIN || ((offset | count) & (DIRECT_ALIGN - 1)) != 0) {
            return false;
        }
        Posix.CachedPages pages = Posix.cachestat(f.ioFd, offset, count);
        if (pages == null || pages.dirty() != 0 || pages.writeback() != 0
                || pages.cached() >= count / DIRECT_ALIGN) {
            return false;
        }
        // Fewer pages than asked for may be all there is: the range may run past the end.
        long end = Math.min(offset + count, Posix.fstat(f.ioFd).size());
        return end > offset && pages.cached() < (end - offset + DIRECT_ALIGN - 1) / DIRECT_ALIGN;
    }

    /**
     * A large read of a range the host's page cache does not hold, with O_DIRECT into the reply's
     * buffer. On a cold sequential read the buffered path's work, filling the page cache
     * (allocating, reading ahead, accounting) and copying out of it, was half of the server's CPU,
     * for pages the client caches itself: without it a cold 1 GiB read through a mount cost the
     * server half the CPU and went 40% faster (docs/server.md). The price: what one client read
     * is not left in the host's page cache for the next, whose reads go to the disk again
     * (--no-direct-reads keeps every read buffered).
     *
     * <p>Called with the node's data lock shared, as a buffered read is: coherence is the buffered
     * path's, the lock holding off the server's own writes, and the kernel writing back any page
     * a local process dirtied before it reads around the cache (ranges with dirty pages are read
     * buffered anyway, {@link #readsAround}). Null when the read should be buffered, including
     * when the file system refuses O_DIRECT, after which the fid never tries again.
     */
    private ByteBuf readAround(Fid f, long offset, int count) throws ErrnoException {
        if (!readsAround(f, offset, count)) {
            return null;
        }
        if (f.directFd < 0) {
            try {
                f.directFd = Posix.reopenDirect(f.ioFd);
            } catch (ErrnoException e) {
                f.directFd = Fid.NO_DIRECT;
                return null;
            }
        }
        ByteBuf buf = alloc.directBuffer(count + DIRECT_ALIGN);
        if (!buf.hasMemoryAddress()) {
            buf.release();
            return null;
        }
        int at = (int) (-buf.memoryAddress() & (DIRECT_ALIGN - 1));
        int n;
        try {
            n = Posix.pread(f.directFd, buf.nioBuffer(at, count), offset);
        } catch (ErrnoException e) {
            buf.release();
            if (e.errno() != Errno.EINVAL) {
                throw e;
            }
            // Alignment this device does not take: buffered from now on.
            Posix.close(f.directFd);
            f.directFd = Fid.NO_DIRECT;
            return null;
        }
        buf.setIndex(at, at + n);
        stats.directReadBytes.addAndGet(n);
        return buf;
    }

    /** How far a fid writes on sequentially before its dirty pages are handed to write-back. */
    static final long WRITEBACK_RUN = 8L << 20;

    /**
     * A fid writing a file front to back (a copy, a download, a log) is going to have every page
     * written to the disk, by an fsync or by the kernel's flusher; a machine with gigabytes of
     * memory lets that wait until the fsync, which then writes them all while the client waits,
     * the disk idle until then. So every {@link #WRITEBACK_RUN} bytes of a sequential run the
     * server starts their write-back without waiting for it (sync_file_range WRITE), and the
     * disk works while the next bytes arrive. Random and rewriting writers are left to the
     * kernel: their pages may be written again before they would reach the disk.
     */
    private static void startWriteback(Fid f, long offset, int done) {
        if (done <= 0) {
            return;
        }
        if (offset != f.writeEnd) {
            f.writebackFrom = offset;
        }
        f.writeEnd = offset + done;
        if (f.writeEnd - f.writebackFrom >= WRITEBACK_RUN) {
            try {
                Posix.startWriteback(f.ioFd, f.writebackFrom, f.writeEnd - f.writebackFrom);
            } catch (ErrnoException e) {
                // An fsync reports what write-back could not do; this was only a head start.
            }
            f.writebackFrom = f.writeEnd;
        }
    }

    private Message write(Twrite t, Changes ch) throws ErrnoException {
        Fid f = fid(t.fid());
        ByteBuf data = t.data();
        int count = data.readableBytes();
        if (f.kind == Fid.Kind.AUTH || f.kind == Fid.Kind.XATTR_WRITE) {
            if (f.written.size() + (long) count > (f.kind == Fid.Kind.AUTH ? 4096 : f.xattrSize)) {
                throw new ErrnoException(Errno.ENOSPC, "more than announced");
            }
            f.written.writeBytes(toBytes(data));
            return new Rwrite(count);
        }
        if (f.kind != Fid.Kind.FILE || !f.writable()) {
            throw new ErrnoException(Errno.EBADF, "fid not open for writing");
        }
        export.checkWritable();
        // The payload is a slice of the socket reads it arrived in, several buffers for a large
        // Twrite: written from where it lies with one pwritev (gathering it into one array first
        // cost an allocation and two copies per byte, jnr-ffi copying heap arrays again; a
        // pwrite per buffer, sixteen system calls and inotify events per MiB).
        ByteBuffer[] srcs = data.nioBuffers();
        for (int i = 0; i < srcs.length; i++) {
            if (!srcs[i].isDirect()) {
                srcs[i] = ByteBuffer.allocateDirect(srcs[i].remaining()).put(srcs[i]).flip();
            }
        }
        long offset = t.offset();
        int done = 0;
        long size = -1;
        f.node.changing();
        var exclusive = f.node.data.writeLock();
        exclusive.lock();
        try {
            int i = 0;
            while (done < count) {
                long n = Posix.pwritev(f.ioFd, srcs, i, offset + done);
                if (n == 0) {
                    throw new ErrnoException(Errno.EIO, "pwritev wrote nothing");
                }
                done += (int) n;
                // Past the buffers written whole; into the one written in part.
                for (; i < srcs.length && n >= srcs[i].remaining(); i++) {
                    n -= srcs[i].remaining();
                }
                if (n > 0) {
                    srcs[i].position(srcs[i].position() + (int) n);
                }
            }
        } catch (ErrnoException e) {
            if (done == 0) {
                throw e;
            }
            // A short write is answered with what was written; the disk is still full.
            gate.disk().failed(e.errno(), "Twrite");
        } finally {
            exclusive.unlock();
            f.node.mutated(owner);
            size = changed(f.node, f.ioFd);
        }
        if (done == count && count > 0) {
            gate.disk().wrote();
        }
        startWriteback(f, offset, done);
        ch.data(f.node.qidPath(), offset, done);
        if (size >= 0 && offset + done >= size) {
            // The write reached the end of the file, so it may have moved it: the size is an
            // attribute, recalled as such (holders refresh it, mapped readers depend on it).
            ch.attr(f.node.qidPath());
        }
        return new Rwrite(done);
    }

    /**
     * Ends a change of {@code node}'s file that began with {@link FileNode#changing}: records the
     * qid.version it left, so the local-change watcher knows the inotify event for it as ours.
     */
    long changed(FileNode node, int fd) {
        HostStat st;
        try {
            st = Posix.fstat(fd);
        } catch (ErrnoException e) {
            node.changeFailed();
            return -1;
        }
        node.changed(export.qid(st, node).version());
        return st.size();
    }

    /** A host call made on behalf of a request. */
    @FunctionalInterface
    interface HostCall<T> {
        T call() throws ErrnoException;
    }

    /**
     * Runs {@code call}, which creates, removes or renames {@code name} in {@code dir}, as a change
     * of the directory by the server: bracketed on its node, so that the inotify event it causes
     * is known as ours, and recorded as an entry recall when it succeeds.
     */
    <T> T changeEntry(Changes ch, PathHandle dir, String name, HostCall<T> call) throws ErrnoException {
        return changeEntries(ch, List.of(dir), List.of(name), call);
    }

    /** As {@link #changeEntry} for a rename from {@code oldName} in {@code from} to {@code newName} in {@code to}. */
    <T> T changeEntries(Changes ch, PathHandle from, String oldName, PathHandle to, String newName,
                        HostCall<T> call) throws ErrnoException {
        return changeEntries(ch, List.of(from, to), List.of(oldName, newName), call);
    }

    private <T> T changeEntries(Changes ch, List<PathHandle> dirs, List<String> names, HostCall<T> call)
            throws ErrnoException {
        List<FileNode> nodes = new ArrayList<>(dirs.size());
        for (PathHandle d : dirs) {
            // Held for the call, so that a fid walking to the directory meanwhile sees the bracket.
            FileNode n = export.nodes().acquire(export.qidPath(d.stat()));
            n.changing();
            nodes.add(n);
        }
        boolean done = false;
        try {
            T result = call.call();
            done = true;
            return result;
        } finally {
            for (int i = 0; i < dirs.size(); i++) {
                FileNode n = nodes.get(i);
                if (done) {
                    n.mutated(owner);
                    changed(n, dirs.get(i).fd());
                    ch.entry(n.qidPath(), names.get(i));
                } else {
                    n.changeFailed();
                }
                export.nodes().release(n);
            }
        }
    }

    /** The attributes of the file {@code h} holds changed (nlink, ctime, mode...). */
    void attrChanged(PathHandle h, Changes ch) {
        long path = export.qidPath(h.stat());
        ch.attr(path);
        FileNode n = export.nodes().peek(path);
        if (n != null) {
            n.changing();
            n.mutated(owner);
            changed(n, h.fd());
        }
    }

    /** As {@link #attrChanged(PathHandle, Changes)} for a file known only by its stat before the change. */
    void attrChanged(HostStat st, Changes ch) {
        ch.attr(export.qidPath(st));
        mutated(st);
    }

    private Message lease(Tlease t) throws ErrnoException {
        Fid f = fileFid(t.fid());
        HostStat st = Posix.fstat(f.handle.fd());
        int mode = t.mode();
        if ((mode & Message.LEASE_SOLE) != 0 && !gate.leases().sole(holder, f.node.qidPath())) {
            mode &= ~Message.LEASE_SOLE;
        }
        return new Rlease(mode, gate.nextEpoch(), holder.termMs(), export.qid(st, f.node));
    }

    /** Tunlist: the client forgot files it knew from listings; their listing leases end. */
    private Message unlist(Message.Tunlist t) throws ErrnoException {
        if (holder == null) {
            throw new ErrnoException(Errno.EOPNOTSUPP, "listing leases need 9P2000.L.c9");
        }
        for (Message.Unlist u : t.entries()) {
            gate.leases().unlist(holder, u.path(), u.count());
        }
        return new Message.Runlist();
    }

    /**
     * Tclient: the mount's token, which settles the vanished connections that presented it
     * (LeaseManager#identify). Only after an attach, so that with --auth-token only a client that
     * authenticated can end anyone's leases; the token itself proves nothing more.
     */
    private Message client(Message.Tclient t) throws ErrnoException {
        if (holder == null) {
            throw new ErrnoException(Errno.EOPNOTSUPP, "client tokens need 9P2000.L.c9");
        }
        if (!attached) {
            throw new ErrnoException(Errno.EACCES, "Tclient before an attach");
        }
        int settled = gate.leases().identify(holder, new LeaseManager.Token(t.tokenHi(), t.tokenLo()));
        if (settled > 0) {
            stats.tokenSettled.addAndGet(settled);
        }
        return new Message.Rclient(settled);
    }

    private static byte[] toBytes(ByteBuf data) {
        byte[] b = new byte[data.readableBytes()];
        data.getBytes(data.readerIndex(), b);
        return b;
    }

    private Message clunk(Tclunk t, Changes ch) throws ErrnoException {
        Fid f = unlink(t.fid());
        try {
            finish(f, ch);
        } finally {
            release(f);
        }
        return new Rclunk();
    }

    /** What a clunk commits: an xattr write, a remove-on-close. */
    private void finish(Fid f, Changes ch) throws ErrnoException {
        if (f.kind == Fid.Kind.XATTR_WRITE) {
            String path = Posix.procPath(f.handle.fd());
            if (f.xattrSize == 0) {
                Posix.removexattr(path, f.xattrName);
            } else {
                byte[] v = f.written.toByteArray();
                if (v.length != f.xattrSize) {
                    throw new ErrnoException(Errno.EINVAL, "xattr shorter than announced");
                }
                ByteBuffer value = ByteBuffer.allocateDirect(v.length).put(v).flip();
                Posix.setxattr(path, f.xattrName, value, f.xattrFlags);
            }
            attrChanged(f.handle, ch);
        } else if (f.removeOnClunk) {
            unlinkName(f.handle, ch);
        }
    }

    private Message remove(Tremove t, Changes ch) throws ErrnoException {
        Fid f = unlink(t.fid());
        try {
            export.checkWritable();
            if (f.kind != Fid.Kind.FILE) {
                throw new ErrnoException(Errno.EBADF, "not a file fid");
            }
            unlinkName(f.handle, ch);
        } finally {
            release(f);
        }
        return new Rremove();
    }

    /** Removes the name a handle was reached by, if it still names the handle's file. */
    void unlinkName(PathHandle h, Changes ch) throws ErrnoException {
        h.checkName();
        changeEntry(ch, h.parent(), h.name(), () -> {
            Posix.unlinkat(h.parent().fd(), h.name(), h.stat().isDir() ? Posix.AT_REMOVEDIR : 0);
            return null;
        });
        attrChanged(h, ch);
    }

    /** Marks the file {@code st} describes as changed, if some fid refers to it. */
    void mutated(HostStat st) {
        FileNode n = export.nodes().peek(export.qidPath(st));
        if (n != null) {
            n.mutated(owner);
        }
    }

    /** Caps what a client asks of an xattr to what the kernel can hold. */
    static void checkXattrSize(long size) throws ErrnoException {
        if (size < 0 || size > XATTR_SIZE_MAX) {
            throw new ErrnoException(Errno.ERANGE, "xattr too large");
        }
    }

    /** The user id files are given when a fid attached as {@code uid} creates them; -1 keeps ours. */
    static int ownerFor(int uid) {
        return uid == Stat.NONUNAME || !ROOT ? -1 : uid;
    }
}
