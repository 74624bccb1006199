package io.c9fs.mount;

import io.c9fs.cache.BlockLoader;
import io.c9fs.cache.PageCache;
import io.c9fs.fuse.Attr;
import io.c9fs.fuse.AttrOut;
import io.c9fs.fuse.CreateOut;
import io.c9fs.fuse.DirFiller;
import io.c9fs.fuse.DirPlusFiller;
import io.c9fs.fuse.EntryOut;
import io.c9fs.fuse.FileLock;
import io.c9fs.fuse.FuseException;
import io.c9fs.fuse.FuseFilesystem;
import io.c9fs.fuse.FuseRequest;
import io.c9fs.fuse.FuseSession;
import io.c9fs.fuse.OpenOut;
import io.c9fs.fuse.SetattrIn;
import io.c9fs.fuse.StatfsOut;
import io.c9fs.transport.Errno;
import io.c9fs.transport.client.NinepException;
import io.c9fs.transport.client.NinepSession;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Dirent;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Rgetattr;
import io.c9fs.transport.proto.Message.Rlopen;
import io.c9fs.transport.proto.Message.Rread;
import io.c9fs.transport.proto.Message.Rwalk;
import io.c9fs.transport.proto.Message.Rwrite;
import io.c9fs.transport.proto.Qid;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A FUSE filesystem whose files live on a 9P2000.L server: each kernel request becomes the 9P
 * exchanges that implement it.
 *
 * <p>Identity: a nodeid stands for one server file (one qid.path) and owns a walked, never opened
 * fid ({@link NodeTable}); inode numbers are qid.path. Every FUSE handle opens a clone of that fid
 * ({@link OpenHandle}), so handles never share 9P open state. Caching decisions (entry, attribute
 * and negative timeouts, keep-cache at open) are the {@link CachePolicy}'s.
 *
 * <p>Errors: a server errno reaches the program unchanged; a dead or silent server yields EIO within
 * the request timeout; a FUSE_INTERRUPT flushes the pending 9P request and yields EINTR.
 *
 * <p>Locks: POSIX record locks travel through one open fid per (inode, lock owner), see
 * {@link LockOwners}; SETLKW polls the server with back-off rather than parking it.
 *
 * <p>Threads: every method may run concurrently on FUSE workers; 9P replies complete on the
 * client's event loop, where only non-blocking continuations run (READDIRPLUS lookups). Locks, in
 * the only order they may nest: an {@link OpenHandle}'s monitor (directory cursor), then the
 * {@link NodeTable} monitor; neither is held across a 9P round trip. The handle and lock-owner
 * tables are concurrent maps. The {@link FidReaper} thread only sends clunks. Nothing here calls
 * the FUSE notifier.
 */
public final class NinepFilesystem implements FuseFilesystem {
    /** -o listattr: READDIRPLUS through Treaddirattr. */
    private final boolean listAttrs;
    /** See {@link #cacheAcls}; set before the mount, read once at INIT. */
    private volatile boolean aclCache;
    /** See {@link #hideAcls}; set before the mount. */
    private volatile boolean aclsHidden;
    /**
     * Bumped by this mount's unlink, rmdir, rename and link: each changes some file's link count
     * or ctime, a file {@link Node#cachedAttrs} may hold without this mount knowing its node.
     */
    private final AtomicLong nameChanges = new AtomicLong();
    /** CREATE through Tlcreateattr; cleared when the server does not know it. */
    private volatile boolean lcreateattr = true;
    private static final System.Logger LOG = System.getLogger(NinepFilesystem.class.getName());

    // open(2) flags, Linux generic values (9P2000.L uses the same numbers).
    private static final int O_ACCMODE = 03;
    private static final int O_RDONLY = 0;
    private static final int O_RDWR = 2;
    private static final int O_CREAT = 0100;
    private static final int O_EXCL = 0200;
    private static final int O_TRUNC = 01000;
    private static final int O_APPEND = 02000;
    private static final int O_DSYNC = 010000;
    private static final int O_LARGEFILE = 0100000;
    private static final int O_DIRECTORY = 0200000;
    private static final int O_NOFOLLOW = 0400000;
    private static final int O_NOATIME = 01000000;
    private static final int O_SYNC = 04010000;
    /**
     * Flags that mean the same on the server's open. O_DIRECT is not among them: the kernel's page
     * cache sits in front of us anyway, and the server would demand aligned buffers.
     */
    private static final int SERVER_OPEN_FLAGS = O_ACCMODE | O_TRUNC | O_APPEND | O_DSYNC | O_SYNC
            | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME;

    private static final int S_IFMT = 0170000;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFREG = 0100000;
    private static final int S_ISUID = 04000;
    private static final int S_ISGID = 02000;
    private static final int S_IXGRP = 010;
    private static final int R_OK = 4;
    private static final int W_OK = 2;
    private static final int X_OK = 1;
    private static final int XATTR_REPLACE = 2;
    private static final int F_UNLCK = 2;
    /** The kernel's "to end of file" lock end (OFFSET_MAX). */
    private static final long OFFSET_MAX = Long.MAX_VALUE;

    /** Rreaddir header: size[4] type[1] tag[2] count[4]. */
    private static final int RREADDIR_HEADER = 11;
    /** Entries fetched per Treaddir: several kernel READDIRs' worth, bounded so a batch is cheap to drop. */
    private static final int READDIR_BYTES = 32 * 1024;
    /**
     * Most entries resolved (walk + getattr) concurrently per step of a READDIRPLUS; fewer when
     * fewer fit in the kernel's buffer (a 32 KiB getdents holds ~200 short names).
     */
    private static final int READDIRPLUS_GROUP = 256;
    /**
     * The xattrs `ls -l` asks of every entry (coreutils' ACL check; the default ACL of
     * directories only): READDIRPLUS learns which are absent along with the attributes.
     */
    private static final String ACL_ACCESS = "system.posix_acl_access";
    private static final String ACL_DEFAULT = "system.posix_acl_default";
    /**
     * Shortest attribute timeout for which READDIRPLUS asks for the ACLs: the GETXATTRs of a
     * listing come after all its READDIRPLUS, and an absence that expires before is a wasted message.
     */
    private static final long ACL_PREFETCH_MIN_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** Back-off between Tlock retries while a SETLKW waits: from 10 ms doubling to 500 ms. */
    private static final long LOCK_RETRY_MIN_MS = 10;
    private static final long LOCK_RETRY_MAX_MS = 500;

    private final NinepSession client;
    private final Rpc rpc;
    /** st_blksize of every file: {@link Attrs#ioBlksize} of the connection's iounit. */
    private final int blksize;
    private final NodeTable nodes;
    /**
     * Largest Tread/Twrite this mount sends even when msize allows more. c9fs-serve runs the
     * requests of one fid one after another, so pieces of a kernel request never ran in
     * parallel there; 128 KiB pieces cost a quarter more CPU on both sides for a sequential
     * write than whole 1 MiB requests (measured), and the page cache keeps several loads in
     * flight for overlap.
     */
    private static final int PIECE = 1 << 20;

    private final CachePolicy policy;
    private final Duration requestTimeout;
    private final ConcurrentMap<Long, OpenHandle> handles = new ConcurrentHashMap<>();
    private final LockOwners locks = new LockOwners();
    /**
     * WRITEs answered before their Twrites (write-behind): at most 8 MiB of one file in flight,
     * eight 1 MiB WRITEs, enough to keep both daemons and the link busy while dd waits for none.
     */
    private final WriteBehind behind = new WriteBehind(8 << 20);
    /** WRITEs below this size, and below a chunk, are gathered (WriteGather); larger ones go as they come. */
    private static final int GATHER_BELOW = 256 * 1024;
    /** The longest gathered bytes wait for more before they are sent. */
    private static final long GATHER_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(5);
    private final WriteGather gather = new WriteGather(this::sendBehind, GATHER_NANOS);
    private final AtomicLong writebackErrors = new AtomicLong();
    private final AtomicLong writtenBehind = new AtomicLong();
    private final int rootFid;
    /**
     * The root's attributes and the file system's statfs as last fetched (first at INIT),
     * answered while the server is away: umount(8) stats the mount point and fstatfs()es it
     * before it unmounts, and on a hard mount both waited for the server, so a plain `umount`
     * (and `df`) hung for the whole outage.
     */
    private volatile Rgetattr rootAttrs;
    private volatile Message.Rstatfs lastStatfs;
    private volatile FuseSession session;
    private final AtomicLong nextFh = new AtomicLong(1);
    private final FidReaper reaper;
    /** Permits for SETLKW requests waiting at once (each holds a FUSE worker while it waits). */
    private final Semaphore lockWaiters;
    /** Names this client to the server's lock manager (Tlock client_id). */
    private final String lockClient;

    /**
     * A filesystem over an attached 9P2000.L connection.
     *
     * @param client         connected, with {@code rootFid} attached
     * @param rootFid        the attach fid; it becomes the root node's fid
     * @param rootQid        the attach qid
     * @param policy         the cache decisions
     * @param requestTimeout how long one 9P exchange may take before the call fails with EIO
     * @param lockWaiters    how many SETLKW may wait at once: fewer than the FUSE workers, so that
     *                       the unlock that ends a wait always finds a worker (more get EDEADLK)
     */
    public NinepFilesystem(NinepSession client, int rootFid, Qid rootQid, CachePolicy policy,
                           Duration requestTimeout, int lockWaiters) {
        this(client, rootFid, rootQid, policy, requestTimeout, lockWaiters, false);
    }

    /**
     * As above; {@code listAttrs} (-o listattr) answers READDIRPLUS from Treaddirattr on a
     * 9P2000.L.c9 connection. It is a choice, not the default: a listed file gets no fid and so no
     * lease, and its attributes are trusted for the attribute timeout instead of until a recall
     * (docs/coherence.md, clause 5).
     */
    public NinepFilesystem(NinepSession client, int rootFid, Qid rootQid, CachePolicy policy,
                           Duration requestTimeout, int lockWaiters, boolean listAttrs) {
        this.listAttrs = listAttrs;
        if (!client.dialect().isLinux()) {
            throw new IllegalArgumentException("needs a 9P2000.L connection, not " + client.dialect());
        }
        this.client = client;
        this.rootFid = rootFid;
        this.rpc = new Rpc(client, requestTimeout);
        this.requestTimeout = requestTimeout;
        this.reaper = new FidReaper(rpc, requestTimeout);
        this.nodes = new NodeTable(rootQid, rootFid, rpc::clunk, reaper::retire);
        this.blksize = Attrs.ioBlksize(client.iounit());
        behind.sendsGathered(gather::flush);
        if (client.dialect() == Dialect.P9P2000_L_C9) {
            nodes.onUnlisted(this::unlisted);
        }
        this.policy = policy;
        policy.drainBeforeRecall(path -> behind.recalled(rpc, path));
        this.lockWaiters = new Semaphore(Math.max(1, lockWaiters));
        this.lockClient = "c9fs-" + ProcessHandle.current().pid();
    }

    /** Nodes the kernel currently holds references to, root included (for tests and diagnostics). */
    public int nodeCount() {
        return nodes.size();
    }

    /** Open FUSE handles (for tests and diagnostics). */
    public int handleCount() {
        return handles.size();
    }

    @Override
    public void init(FuseSession session) {
        this.session = session;
        try {
            rootAttrs = client.call(new Message.Tgetattr(rootFid, Rgetattr.BASIC), Rgetattr.class);
            lastStatfs = client.call(new Message.Tstatfs(rootFid), Message.Rstatfs.class);
        } catch (NinepException | RuntimeException e) {
            // Learnt at the first GETATTR of the root and the first STATFS instead.
        }
        policy.start(nodes, session);
    }

    @Override
    public void destroy() {
        behind.drainAll(rpc);
        gather.close();
        policy.stop();
        reaper.close();
        for (LockOwners.Holder l : locks.clear()) {
            rpc.clunk(l.fid());
        }
        for (OpenHandle h : handles.values()) {
            if (handles.remove(h.fh, h)) {
                rpc.clunk(h.fid);
            }
        }
        nodes.clear();
    }

    // ------------------------------------------------------------------ names

    @Override
    public EntryOut lookup(FuseRequest r, long parent, String name) throws FuseException {
        Node dir = nodes.get(parent);
        if (dir.knownAbsent(name) && policy.recalls()) {
            // A directory this mount made and knows whole: an entry recall would have said
            // otherwise (the create of every new file looks its name up first). No attributes
            // in the answer, so no write behind to wait for.
            return new EntryOut(0, 0, policy.negativeTimeoutNanos(), 0, emptyAttr(0, 0));
        }
        behind.drainEvery(rpc, r);
        try {
            return fresh(r, () -> walk(r, dir, name), dir);
        } catch (FuseException e) {
            if (e.errno() == Errno.ENOENT && policy.negativeTimeoutNanos() > 0) {
                return new EntryOut(0, 0, policy.negativeTimeoutNanos(), 0, emptyAttr(0, 0));
            }
            throw e;
        }
    }

    @Override
    public void forget(long nodeid, long nlookup) {
        if (nodes.forget(nodeid, nlookup)) {
            policy.forget(nodeid);
        }
    }

    @Override
    public AttrOut getattr(FuseRequest r, long nodeid, long fh) throws FuseException {
        Node node = nodes.get(nodeid);
        behind.drain(rpc, r, node.qidPath);
        if (policy.recalls()) {
            Rgetattr known = node.cachedAttrs(System.nanoTime(), nameChanges.get());
            if (known != null) {
                return new AttrOut(policy.attrTimeoutNanos(), Attrs.of(known, blksize));
            }
        }
        boolean root = nodeid == NodeTable.ROOT;
        Rgetattr last = rootAttrs;
        if (root && last != null && !client.isOpen()) {
            return new AttrOut(0, Attrs.of(last, blksize)); // not kept: asked again once the server is back
        }
        OpenHandle h = fh == -1 ? null : handles.get(fh);
        Rgetattr a = fresh(r, () -> rpc.call(r, new Message.Tgetattr(h != null && h.node == node ? h.fid : fid(r, node),
                Rgetattr.BASIC), Rgetattr.class), node);
        if (root) {
            rootAttrs = a;
        }
        return new AttrOut(policy.attrTimeoutNanos(), Attrs.of(a, blksize));
    }

    @Override
    public AttrOut setattr(FuseRequest r, long nodeid, SetattrIn in) throws FuseException {
        Node node = nodes.get(nodeid);
        behind.drain(rpc, r, node.qidPath);
        OpenHandle h = in.has(SetattrIn.FATTR_FH) ? handles.get(in.fh()) : null;
        int valid = 0;
        if (in.has(SetattrIn.FATTR_MODE)) {
            valid |= Message.Tsetattr.MODE;
        }
        if (in.has(SetattrIn.FATTR_UID)) {
            valid |= Message.Tsetattr.UID;
        }
        if (in.has(SetattrIn.FATTR_GID)) {
            valid |= Message.Tsetattr.GID;
        }
        if (in.has(SetattrIn.FATTR_SIZE)) {
            valid |= Message.Tsetattr.SIZE;
        }
        // The kernel sends ATIME together with ATIME_NOW for "now"; 9P2000.L says "now" by
        // leaving ATIME_SET clear.
        if (in.has(SetattrIn.FATTR_ATIME)) {
            valid |= Message.Tsetattr.ATIME | (in.has(SetattrIn.FATTR_ATIME_NOW) ? 0 : Message.Tsetattr.ATIME_SET);
        } else if (in.has(SetattrIn.FATTR_ATIME_NOW)) {
            valid |= Message.Tsetattr.ATIME;
        }
        if (in.has(SetattrIn.FATTR_MTIME)) {
            valid |= Message.Tsetattr.MTIME | (in.has(SetattrIn.FATTR_MTIME_NOW) ? 0 : Message.Tsetattr.MTIME_SET);
        } else if (in.has(SetattrIn.FATTR_MTIME_NOW)) {
            valid |= Message.Tsetattr.MTIME;
        }
        if (in.has(SetattrIn.FATTR_CTIME)) {
            valid |= Message.Tsetattr.CTIME;
        }
        int tvalid = valid;
        // FATTR_KILL_SUIDGID: a truncation by a caller without CAP_FSETID, or a new owner; an
        // explicit mode in the same request is the caller's own choice.
        boolean kill = in.has(SetattrIn.FATTR_KILL_SUIDGID) && !in.has(SetattrIn.FATTR_MODE);
        node.attrsChanged();
        node.modeMayHaveChanged();
        Rgetattr a = fresh(r, () -> {
            // ftruncate on an unlinked file only works through the open fid.
            int fid = h != null && h.node == node ? h.fid : fid(r, node);
            if (tvalid != 0) {
                rpc.call(r, new Message.Tsetattr(fid, tvalid, in.mode() & 07777, in.uid(), in.gid(), in.size(),
                        in.atimeSec(), in.atimeNsec(), in.mtimeSec(), in.mtimeNsec()), Message.Rsetattr.class);
            }
            Rgetattr now = rpc.call(r, new Message.Tgetattr(fid, Rgetattr.BASIC), Rgetattr.class);
            int bits = kill ? sxidToKill(now.mode()) : 0;
            if (bits == 0) {
                return now;
            }
            rpc.call(r, new Message.Tsetattr(fid, Message.Tsetattr.MODE, now.mode() & 07777 & ~bits, 0, 0, 0,
                    0, 0, 0, 0), Message.Rsetattr.class);
            return rpc.call(r, new Message.Tgetattr(fid, Rgetattr.BASIC), Rgetattr.class);
        }, node);
        node.attrsChanged();
        node.modeMayHaveChanged();
        PageCache pages = policy.pages();
        if (pages != null && in.has(SetattrIn.FATTR_SIZE)) {
            pages.invalidate(node.qidPath, in.size(), 0);
        }
        return new AttrOut(policy.attrTimeoutNanos(), Attrs.of(a, blksize));
    }

    @Override
    public String readlink(FuseRequest r, long nodeid) throws FuseException {
        Node node = nodes.get(nodeid);
        return fresh(r, () -> rpc.call(r, new Message.Treadlink(fid(r, node)), Message.Rreadlink.class), node).target();
    }

    @Override
    public EntryOut symlink(FuseRequest r, long parent, String name, String target) throws FuseException {
        Node dir = nodes.get(parent);
        naming(dir, name, () -> fresh(r, () -> rpc.call(r, new Message.Tsymlink(fid(r, dir), name, target, r.gid()),
                Message.Rsymlink.class), dir));
        return walk(r, dir, name);
    }

    @Override
    public EntryOut mknod(FuseRequest r, long parent, String name, int mode, int rdev, int umask)
            throws FuseException {
        Node dir = nodes.get(parent);
        int m = (mode & S_IFMT) | (mode & 07777 & ~umask);
        naming(dir, name, () -> fresh(r, () -> rpc.call(r, new Message.Tmknod(fid(r, dir), name, m, Attrs.major(rdev),
                Attrs.minor(rdev), r.gid()), Message.Rmknod.class), dir));
        return walk(r, dir, name);
    }

    @Override
    public EntryOut mkdir(FuseRequest r, long parent, String name, int mode, int umask) throws FuseException {
        Node dir = nodes.get(parent);
        Message.Rmkdir made = naming(dir, name, () -> fresh(r, () -> rpc.call(r, new Message.Tmkdir(fid(r, dir), name,
                mode & 07777 & ~umask, r.gid()), Message.Rmkdir.class), dir));
        Looked l = walkNode(r, dir, name);
        // The same version as made means nothing entered it before its lease began (the walk's
        // fid; the getattr came after it): this mount knows every name it will have.
        if (made.qid().version() == l.attrs.qid().version() && made.qid().path() == l.node.qidPath
                && policy.recalls()) {
            l.node.knowEmpty();
        }
        return entry(l.node, l.attrs);
    }

    /**
     * Runs a change that makes {@code name} in {@code dir}, keeping the directory's known names
     * (see {@link Node#knownAbsent}): added once the server made it, unknown if it failed
     * (interrupted, or the server disagreed with what this mount thought it knew).
     */
    private static <T> T naming(Node dir, String name, FidOp<T> op) throws FuseException {
        try {
            T t = op.run();
            dir.named(name);
            return t;
        } catch (FuseException | RuntimeException e) {
            dir.namesUnknown();
            throw e;
        }
    }

    /** As {@link #naming}, for a change that removes {@code name} from {@code dir}. */
    private <T> T unnaming(Node dir, String name, FidOp<T> op) throws FuseException {
        // Before and after: attributes asked while the change runs may predate it.
        nameChanges.incrementAndGet();
        try {
            T t = op.run();
            dir.unnamed(name);
            return t;
        } catch (FuseException | RuntimeException e) {
            dir.namesUnknown();
            throw e;
        } finally {
            nameChanges.incrementAndGet();
        }
    }

    @Override
    public void unlink(FuseRequest r, long parent, String name) throws FuseException {
        Node dir = nodes.get(parent);
        unnaming(dir, name, () -> fresh(r, () -> remove(r, dir, name, 0), dir));
    }

    @Override
    public void rmdir(FuseRequest r, long parent, String name) throws FuseException {
        Node dir = nodes.get(parent);
        unnaming(dir, name, () -> fresh(r, () -> remove(r, dir, name, Message.Tunlinkat.AT_REMOVEDIR), dir));
    }

    private Void remove(FuseRequest r, Node dir, String name, int flags) throws FuseException {
        try {
            rpc.call(r, new Message.Tunlinkat(fid(r, dir), name, flags), Message.Runlinkat.class);
        } catch (FuseException e) {
            if (!unsupported(e)) {
                throw e;
            }
            // Tremove clunks the fid whatever the outcome (remove(5)).
            int fid = rpc.walk(r, fid(r, dir), name);
            try {
                rpc.call(r, new Message.Tremove(fid), Message.Rremove.class);
            } catch (FuseException removeFailed) {
                rpc.abandon(fid, removeFailed);
                throw removeFailed;
            }
            client.freeFid(fid);
        }
        return null;
    }

    @Override
    public void rename(FuseRequest r, long parent, String name, long newParent, String newName, int flags)
            throws FuseException {
        if ((flags & RENAME_EXCHANGE) != 0) {
            // 9P2000.L has no atomic exchange, and two renames are not one.
            throw new FuseException(Errno.EINVAL, "RENAME_EXCHANGE is not in 9P2000.L");
        }
        Node dir = nodes.get(parent);
        Node newDir = nodes.get(newParent);
        if ((flags & RENAME_NOREPLACE) != 0 && fresh(r, () -> rpc.exists(r, fid(r, newDir), newName), newDir)) {
            // Emulated: a check and a rename, not atomic against other clients.
            throw new FuseException(Errno.EEXIST);
        }
        nameChanges.incrementAndGet();
        try {
            fresh(r, () -> renameOnServer(r, dir, name, newDir, newName), dir, newDir);
        } catch (FuseException | RuntimeException e) {
            dir.namesUnknown();
            newDir.namesUnknown();
            throw e;
        } finally {
            nameChanges.incrementAndGet();
        }
        dir.unnamed(name);
        newDir.named(newName);
        rewalkRenamed(r, newDir, newName);
    }

    private Void renameOnServer(FuseRequest r, Node dir, String name, Node newDir, String newName)
            throws FuseException {
        try {
            rpc.call(r, new Message.Trenameat(fid(r, dir), name, fid(r, newDir), newName), Message.Rrenameat.class);
        } catch (FuseException e) {
            if (!unsupported(e)) {
                throw e;
            }
            int fid = rpc.walk(r, fid(r, dir), name);
            try {
                rpc.call(r, new Message.Trename(fid, fid(r, newDir), newName), Message.Rrename.class);
            } finally {
                rpc.clunk(fid);
            }
        }
        return null;
    }

    /**
     * Path-based servers (diod) bind a fid to the path it was walked to, so the renamed node's fid
     * may now name nothing: give the node a fid walked to the new name. A renamed directory makes
     * every fid below it suspect: see {@link #fresh}.
     */
    private void rewalkRenamed(FuseRequest r, Node newDir, String newName) {
        long epoch = nodes.epoch();
        int dirFid;
        try {
            dirFid = fid(r, newDir);
        } catch (FuseException e) {
            return;
        }
        int fid = client.allocFid();
        Rwalk w;
        try {
            w = rpc.call(r, new Message.Twalk(dirFid, fid, List.of(newName)), Rwalk.class);
        } catch (FuseException e) {
            rpc.abandon(fid, e);
            return;
        }
        if (w.wqids().size() == 1) {
            Qid qid = w.wqids().get(0);
            if (qid.isDir()) {
                nodes.renamedDirectory();
            }
            nodes.refresh(qid, fid, epoch, newDir.nodeid, newName);
        } else {
            client.freeFid(fid);
        }
    }


    @Override
    public EntryOut link(FuseRequest r, long nodeid, long newParent, String newName) throws FuseException {
        Node node = nodes.get(nodeid);
        Node newDir = nodes.get(newParent);
        nameChanges.incrementAndGet();
        node.attrsChanged();
        try {
            naming(newDir, newName, () -> fresh(r, () -> rpc.call(r, new Message.Tlink(fid(r, newDir), fid(r, node),
                    newName), Message.Rlink.class), node, newDir));
        } finally {
            node.attrsChanged();
            nameChanges.incrementAndGet();
        }
        return walk(r, newDir, newName);
    }

    // ------------------------------------------------------------------ files

    @Override
    public OpenOut open(FuseRequest r, long nodeid, int flags) throws FuseException {
        Node node = nodes.get(nodeid);
        if ((flags & O_TRUNC) != 0) {
            node.attrsChanged();
        }
        long modeGeneration = node.modeGeneration();
        OpenHandle h = fresh(r, () -> openFid(r, node, flags & SERVER_OPEN_FLAGS), node);
        Rgetattr a;
        try {
            a = rpc.call(r, new Message.Tgetattr(h.fid, Rgetattr.BASIC), Rgetattr.class);
            if (r.killSuidgid() && (flags & O_TRUNC) != 0) {
                // FUSE_OPEN_KILL_SUIDGID: truncated by a caller without CAP_FSETID.
                clearSxid(r, node, h.fid, a.mode(), modeGeneration);
            } else if (sxidToKill(a.mode()) == 0) {
                // Known now, so that this handle's writes need not ask.
                node.sxidFree(modeGeneration, System.nanoTime() + policy.attrTimeoutNanos());
            }
        } catch (FuseException e) {
            close(h);
            throw e;
        }
        if (writable(flags)) {
            takeWriteLease(r, h);
        }
        boolean keep = policy.keepCacheOnOpen(nodeid, FileStamp.of(a));
        PageCache pages = policy.pages();
        if (!keep && pages != null) {
            pages.invalidateFile(node.qidPath);
        }
        return new OpenOut(h.fh, keep ? OpenOut.FOPEN_KEEP_CACHE : 0);
    }

    private static boolean writable(int flags) {
        return (flags & O_ACCMODE) != O_RDONLY;
    }

    /** Takes the write lease for a handle that can write, or closes the handle and fails the open. */
    private void takeWriteLease(FuseRequest r, OpenHandle h) throws FuseException {
        long mark = behind.mark();
        try {
            policy.writerOpened(r, h);
        } catch (FuseException e) {
            close(h);
            throw e;
        }
        behind.opened(h.node.qidPath, mark);
        h.node.writers.incrementAndGet();
        h.node.attrsChanged();
        h.writer = true;
    }

    @Override
    public CreateOut create(FuseRequest r, long parent, String name, int flags, int mode, int umask)
            throws FuseException {
        Node dir = nodes.get(parent);
        int lflags = (flags & SERVER_OPEN_FLAGS) | O_CREAT | (flags & O_EXCL);
        if (lcreateattr && client.dialect() == Dialect.P9P2000_L_C9) {
            try {
                return naming(dir, name, () -> fresh(r, () -> createInOne(r, dir, name, flags, lflags,
                        mode & 07777 & ~umask), dir));
            } catch (FuseException e) {
                if (e.errno() != Errno.EBADMSG && !unsupported(e)) {
                    throw e;
                }
                // A c9fs-serve from before Tlcreateattr: the four-step create from now on.
                lcreateattr = false;
                LOG.log(System.Logger.Level.INFO, "the server does not know Tlcreateattr: " + e.getMessage());
            }
        }
        int fid = fresh(r, () -> rpc.clone(r, fid(r, dir)), dir);
        Message.Rlcreate c;
        Looked looked;
        try {
            c = naming(dir, name, () -> rpc.call(r, new Message.Tlcreate(fid, name, lflags, mode & 07777 & ~umask,
                    r.gid()), Message.Rlcreate.class));
            // Tlcreate turned the clone into the open file; the node needs a walked fid of its own.
            looked = walkNode(r, dir, name);
        } catch (FuseException e) {
            rpc.clunk(fid);
            throw e;
        }
        OpenHandle h = register(looked.node, fid, c.iounit());
        if (writable(flags)) {
            takeWriteLease(r, h);
        }
        killOnCreate(r, looked.node, h, flags, mode & 07777 & ~umask, looked.attrs.mode());
        policy.keepCacheOnOpen(looked.node.nodeid, FileStamp.of(looked.attrs));
        return new CreateOut(entry(looked.node, looked.attrs), new OpenOut(h.fh, 0));
    }

    /**
     * CREATE in one round trip (9P2000.L.c9): Tlcreateattr makes the open fid, the node's walked
     * fid and the attributes of the reply, and a writer's Tlease goes right behind it on the new
     * fid, which the server serves after the create. Both fids are new numbers on every attempt.
     */
    private CreateOut createInOne(FuseRequest r, Node dir, String name, int flags, int lflags, int mode)
            throws FuseException {
        int dfid = fid(r, dir);
        long epoch = nodes.epoch();
        long mark = behind.mark();
        int fid = client.allocFid();
        int nodeFid = client.allocFid();
        CompletableFuture<Message.Rlcreateattr> made = rpc.send(
                new Message.Tlcreateattr(dfid, fid, nodeFid, name, lflags, mode, r.gid()), Message.Rlcreateattr.class);
        CompletableFuture<Message.Rlease> lease = writable(flags) ? policy.askWriteLease(fid) : null;
        Message.Rlcreateattr c;
        try {
            c = rpc.await(r, made);
        } catch (FuseException e) {
            if (lease != null) {
                // The fid numbers are reused only once the Tlease behind the create is answered:
                // it must not meet another file's fid of the same number.
                try {
                    rpc.await(null, lease);
                } catch (FuseException ignored) {
                    // EBADF: no fid, as expected after a failed create.
                }
            }
            rpc.abandon(fid, e);
            rpc.abandon(nodeFid, e);
            throw e;
        }
        Node node = nodes.link(dir.nodeid, name, c.attr().qid(), nodeFid, epoch);
        OpenHandle h = register(node, fid, c.iounit());
        if (lease != null) {
            try {
                policy.writerCreated(h, rpc.await(r, lease));
            } catch (FuseException e) {
                close(h);
                forget(node.nodeid, 1);
                throw e;
            }
            behind.opened(node.qidPath, mark);
            node.writers.incrementAndGet();
            node.attrsChanged();
            h.writer = true;
        }
        killOnCreate(r, node, h, flags, mode, c.attr().mode());
        policy.keepCacheOnOpen(node.nodeid, FileStamp.of(c.attr()));
        return new CreateOut(entry(node, c.attr()), new OpenOut(h.fh, 0));
    }

    @Override
    public int read(FuseRequest r, long nodeid, long fh, long offset, int size, ByteBuffer dst)
            throws FuseException {
        OpenHandle h = handle(fh);
        behind.drain(rpc, r, h.node.qidPath);
        PageCache pages = policy.pages();
        if (pages == null) {
            return DataPath.read(rpc, r, h.fid, h.chunk, offset, size, dst);
        }
        BlockLoader loader = (path, at, into) -> DataPath.readAsync(rpc, h.fid, h.chunk, at, into);
        try {
            return pages.read(h.node.qidPath, offset, dst, loader, requestTimeout.toNanos());
        } catch (ExecutionException e) {
            if (e.getCause() instanceof FuseException) {
                throw (FuseException) e.getCause();
            }
            throw new FuseException(Errno.EIO, "read of " + h.node + ": " + e.getCause());
        } catch (TimeoutException e) {
            throw new FuseException(Errno.EIO, "read of " + h.node + " timed out");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FuseException(Errno.EINTR, "interrupted");
        }
    }

    /**
     * CREATE with O_TRUNC by a caller without CAP_FSETID (FUSE_OPEN_KILL_SUIDGID): if it opened
     * and truncated an existing file, that file's setuid and setgid go as with OPEN. The server
     * does not say whether the file existed: one whose mode has a bit the creator did not ask for
     * did. Without O_EXCL only; a write by such a caller clears them anyway.
     */
    private void killOnCreate(FuseRequest r, Node node, OpenHandle h, int flags, int askedMode, int mode)
            throws FuseException {
        if (r.killSuidgid() && (flags & (O_TRUNC | O_EXCL)) == O_TRUNC && (sxidToKill(mode) & ~askedMode) != 0) {
            try {
                clearSxid(r, node, h.fid, mode, node.modeGeneration());
            } catch (FuseException e) {
                close(h);
                forget(node.nodeid, 1);
                throw e;
            }
        }
    }

    /**
     * Writes pass through to the server. A laundering WRITE (FUSE_WRITE_CACHE: the kernel writing
     * back a dirty page, at msync, munmap, syncfs or inside a recall's notification) is never
     * failed: the kernel would drop the page anyway and the store would be lost without a trace
     * (FINDINGS.md Q2). Its failure is kept and reported by the next FSYNC or FLUSH of the file.
     */
    @Override
    public int write(FuseRequest r, long nodeid, long fh, long offset, ByteBuffer src, int writeFlags)
            throws FuseException {
        OpenHandle h = handle(fh);
        int size = src.remaining();
        if ((writeFlags & (FUSE_WRITE_KILL_SUIDGID | FUSE_WRITE_CACHE)) == FUSE_WRITE_KILL_SUIDGID) {
            killSuidgid(r, h.node, h.fid);
        }
        if ((writeFlags & FUSE_WRITE_CACHE) == 0 && policy.writeBehind(h)) {
            int behindCount = writeBehind(r, h, offset, src);
            if (behindCount >= 0) {
                return behindCount;
            }
        }
        // After every write(2) answered before it: a Twrite through another fid may overtake them.
        behind.drain(rpc, r, h.node.qidPath);
        int n;
        try {
            n = DataPath.write(rpc, r, h.fid, h.chunk, offset, src);
        } catch (FuseException e) {
            if (e.errno() == Errno.ESTALE && h.writer) {
                // Fenced (or the file is gone): this write fails, later ones may work again.
                policy.writeRefused(h);
            }
            if ((writeFlags & FUSE_WRITE_CACHE) == 0) {
                throw e;
            }
            LOG.log(System.Logger.Level.WARNING, "writing back " + size + " bytes of " + h.node + " at " + offset
                    + " failed: " + e.getMessage() + "; reported at the next fsync or close");
            h.node.wbErrno = e.errno();
            h.node.wbErrSeq.incrementAndGet();
            writebackErrors.incrementAndGet();
            n = size;
        }
        PageCache pages = policy.pages();
        if (pages != null) {
            pages.invalidate(h.node.qidPath, offset, size);
        }
        return n;
    }

    /**
     * Write-behind (docs/coherence.md): the file is held under this mount's write lease, so no one
     * else reads or stats it without a recall, whose acknowledgement waits for these Twrites. The
     * WRITE is answered with its full count once they are sent, or for a small one, once its bytes
     * are gathered with the ones before it ({@link WriteGather}); a failure or short count is kept
     * as a write-back error (errseq) and reported at the next FSYNC or FLUSH of the file.
     */
    private int writeBehind(FuseRequest r, OpenHandle h, long offset, ByteBuffer src) throws FuseException {
        // -1: the file was recalled since its write lease was taken; written through instead.
        int size = src.remaining();
        long path = h.node.qidPath;
        behind.room(rpc, r, path, h.fid, size);
        CompletableFuture<Void> done = new CompletableFuture<>();
        // Recorded before the Twrites go: a drain that starts now must not miss them.
        if (!behind.started(path, h.fid, size, done)) {
            return -1;
        }
        writtenBehind.incrementAndGet();
        PageCache pages = policy.pages();
        if (pages != null) {
            pages.invalidate(path, offset, size);
        }
        boolean small = size < Math.min(GATHER_BELOW, h.chunk);
        if (small && gather.add(path, h, offset, src, done)) {
            return size;
        }
        if (!small) {
            // Whatever is gathered first: one fid's Twrites are served in order. (A small WRITE
            // that add() declined found it sent already.)
            gather.flush(path);
        }
        sendBehind(h, offset, src, List.of(done));
        return size;
    }

    /**
     * Sends {@code src} at {@code offset} through {@code h} as written behind and, once answered,
     * completes {@code dones}; a failure or short count is kept as the file's write-back error.
     * Never throws: a send that cannot even start fails the same way.
     */
    private void sendBehind(OpenHandle h, long offset, ByteBuffer src, List<CompletableFuture<Void>> dones) {
        int size = src.remaining();
        long path = h.node.qidPath;
        CompletableFuture<Integer> sent;
        try {
            sent = rpc.bounded(DataPath.writeAsync(rpc, h.fid, h.chunk, offset, src));
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(new FuseException(Errno.EIO, "write of " + h.node + ": " + e));
        }
        sent.whenComplete((n, err) -> {
            try {
                if (err != null || n < size) {
                    FuseException e = err != null ? Rpc.error(err) : new FuseException(Errno.EIO, "short write");
                    if (e.errno() == Errno.ESTALE) {
                        policy.writeRefused(h);
                    }
                    LOG.log(System.Logger.Level.WARNING, "writing " + size + " bytes of " + h.node + " at " + offset
                            + " behind failed: " + e.getMessage() + "; reported at the next fsync or close");
                    h.node.wbErrno = e.errno() == Errno.EINTR ? Errno.EIO : e.errno();
                    h.node.wbErrSeq.incrementAndGet();
                    writebackErrors.incrementAndGet();
                }
                // Again once written: a load of the page cache may have read the range meanwhile.
                PageCache p = policy.pages();
                if (p != null) {
                    p.invalidate(path, offset, size);
                }
            } finally {
                dones.forEach(d -> d.complete(null));
            }
        });
    }

    /**
     * Writes went through to the server as they happened (no writeback cache), or are waited for
     * here (write-behind), unless the file is still under this mount's sole write lease: then, as
     * the Linux NFS client closes a file it holds a write delegation for (nfs4_file_flush), close
     * does not wait for them. Nobody else can see the file until a recall, which waits for them
     * (as RELEASE, fsync, a stat or a read here do); a failure from then on is logged and counted,
     * and reported to the next FLUSH or FSYNC of a handle still open (docs/coherence.md).
     * But a close(2) releases all of the closing process's POSIX locks on the file, and the kernel
     * leaves that to FLUSH when the filesystem handles locks.
     */
    @Override
    public void flush(FuseRequest r, long nodeid, long fh, long lockOwner) throws FuseException {
        OpenHandle fhHandle = handles.get(fh);
        if (fhHandle != null && !behind.sole(fhHandle.node.qidPath)) {
            behind.drain(rpc, r, fhHandle.node.qidPath);
        } else if (fhHandle != null) {
            // Not waited for, but sent before close(2) returns, as ungathered WRITEs are: a
            // program on the server machine that reads the file next finds the bytes there.
            gather.flush(fhHandle.node.qidPath);
        }
        LockOwners.Holder mine = locks.remove(nodeid, lockOwner);
        if (mine != null) {
            clunkNow(mine.fid());
        }
        OpenHandle h = handles.get(fh);
        if (h != null) {
            reportLostWrite(h);
        }
    }

    /** A written-back page that could not be written since this handle last reported: tell the application, once. */
    private static void reportLostWrite(OpenHandle h) throws FuseException {
        int errno = h.takeWritebackError();
        if (errno != 0) {
            throw new FuseException(errno, "a write-back (mapped page or write-behind) of " + h.node + " failed");
        }
    }

    /** Written-back pages that could not be written (server refusal, soft timeout, stale file). */
    /** WRITEs answered before their Twrites (write-behind). */
    public long writtenBehind() {
        return writtenBehind.get();
    }

    public long writebackErrors() {
        return writebackErrors.get();
    }

    /**
     * The connection was restored: the kernel's view of every inode may be out of date (another
     * client may have changed anything meanwhile, and no recall could reach us). Runs on the
     * session's c9fs-redial thread, never a worker: dropping launders dirty pages through WRITEs
     * that workers answer (FINDINGS.md Q4).
     */
    public void reconnected() {
        FuseSession s = session;
        if (s != null) {
            policy.reconnected(new KernelNotifications(nodes, s));
        }
    }

    /** The connection was lost (redial thread). */
    public void connectionLost() {
        policy.connectionLost();
    }

    @Override
    public void release(FuseRequest r, long nodeid, long fh, int flags, long lockOwner) {
        OpenHandle h = handles.remove(fh);
        if (h != null) {
            // Before the write lease goes back and the fid is clunked (a failure after FLUSH has
            // no one left to report it to but the log and the count).
            behind.drainQuietly(rpc, h.node.qidPath);
            if (h.writer) {
                policy.writerReleased(h);
            }
            // The kernel sends RELEASE once the handle's last WRITE is answered (and the writes
            // behind are drained above), so the attributes are final now: asked for beside the
            // lease's return and the clunk, not after the clunk's answer (the server answers all
            // three on its event loop, one wake-up).
            if (h.writer && h.node.writers.decrementAndGet() == 0) {
                prefetchAttrs(h.node);
            }
            close(h);
            if (h.writer) {
                behind.closed(h.node.qidPath);
            }
        }
    }

    /**
     * The last writer of a file closed: its attributes are fetched now, without waiting, so that
     * the stat that commonly follows (make, cp -p, rsync, the meta benchmark) is answered here.
     * The node's fid holds the file's read lease, so any change by another client is recalled,
     * which voids what is kept (see {@link Node#cachedAttrs}).
     */
    private void prefetchAttrs(Node node) {
        int fid = node.fid;
        if (fid == Message.NOFID || !policy.recalls()) {
            return;
        }
        long generation = node.attrGeneration();
        long names = nameChanges.get();
        long until = System.nanoTime() + policy.attrTimeoutNanos();
        rpc.send(new Message.Tgetattr(fid, Rgetattr.BASIC), Rgetattr.class).whenComplete((a, err) -> {
            if (err == null && a.qid().path() == node.qidPath) {
                node.rememberAttrs(a, generation, names, until);
            }
        });
    }

    @Override
    public void fsync(FuseRequest r, long nodeid, long fh, boolean datasync) throws FuseException {
        OpenHandle h = handle(fh);
        behind.drain(rpc, r, h.node.qidPath);
        FuseException failed = null;
        try {
            rpc.call(r, new Message.Tfsync(h.fid, datasync ? 1 : 0), Message.Rfsync.class);
        } catch (FuseException e) {
            failed = e;
        }
        // errseq: a failed fsync reports the lost write-back too; this descriptor has seen it.
        int lost = h.takeWritebackError();
        if (failed != null) {
            throw failed;
        }
        if (lost != 0) {
            throw new FuseException(lost, "a page written back from a mapping of " + h.node + " was not written");
        }
    }

    // ------------------------------------------------------------------ directories

    @Override
    public OpenOut opendir(FuseRequest r, long nodeid, int flags) throws FuseException {
        Node node = nodes.get(nodeid);
        OpenHandle h = fresh(r, () -> openFid(r, node, O_RDONLY), node);
        if (!policy.recalls()) {
            return new OpenOut(h.fh, 0);
        }
        // While the server recalls this mount's names, the kernel may keep a listing it read and
        // serve the next one itself (no READDIRPLUS, no Treaddirattr: the server lists and stats
        // nothing). Another client's change of a name here is recalled as an entry recall, which
        // drops the cached listing (KernelNotifications); this mount's own changes the kernel sees
        // itself (a changed directory's cache is reset at the next listing).
        int open = OpenOut.FOPEN_CACHE_DIR;
        if (node.listingOpened(h.fh)) {
            open |= OpenOut.FOPEN_KEEP_CACHE;
        }
        return new OpenOut(h.fh, open);
    }

    @Override
    public void readdir(FuseRequest r, long nodeid, long fh, long offset, DirFiller out) throws FuseException {
        OpenHandle h = handle(fh);
        long cookie = offset;
        List<Dirent> batch = h.pending(offset);
        while (true) {
            if (batch == null) {
                batch = fetch(r, h, cookie);
                if (batch.isEmpty()) {
                    return;
                }
            }
            for (int i = 0; i < batch.size(); i++) {
                Dirent d = batch.get(i);
                if (!out.add(d.name(), d.qid().path(), d.type(), d.offset())) {
                    h.keep(cookie, batch.subList(i, batch.size()));
                    return;
                }
                cookie = d.offset();
            }
            batch = null;
        }
    }

    @Override
    public void readdirplus(FuseRequest r, long nodeid, long fh, long offset, DirPlusFiller out)
            throws FuseException {
        OpenHandle h = handle(fh);
        behind.drainEvery(rpc, r);
        if (listAttrs && client.dialect() == Dialect.P9P2000_L_C9) {
            readdirattr(r, h, offset, out);
            return;
        }
        Node dir = h.node;
        long cookie = offset;
        List<Dirent> batch = h.pending(offset);
        while (true) {
            if (batch == null) {
                batch = fetch(r, h, cookie);
                if (batch.isEmpty()) {
                    return;
                }
            }
            int from = 0;
            while (from < batch.size()) {
                int to = from + fitting(out.room(), batch, from);
                List<Dirent> group = batch.subList(from, to);
                List<EntryOut> entries = resolve(r, dir, group);
                for (int i = 0; i < entries.size(); i++) {
                    Dirent d = group.get(i);
                    if (!out.add(d.name(), entries.get(i), d.offset())) {
                        // This entry and the rest took references the kernel will never return.
                        for (int j = i; j < entries.size(); j++) {
                            forget(entries.get(j).nodeid(), 1);
                        }
                        h.keep(cookie, batch.subList(from + i, batch.size()));
                        return;
                    }
                    cookie = d.offset();
                }
                from = to;
            }
            batch = null;
        }
    }

    /**
     * How many entries from {@code batch[from]} on to resolve in one step: those that fit in
     * {@code room} bytes (the rest would only be resolved to be given back), at least one, at most
     * {@link #READDIRPLUS_GROUP}.
     */
    private static int fitting(int room, List<Dirent> batch, int from) {
        int n = 0;
        for (int i = from; i < batch.size() && n < READDIRPLUS_GROUP; i++) {
            room -= DirPlusFiller.size(batch.get(i).name());
            if (room < 0) {
                break;
            }
            n++;
        }
        return Math.max(1, n);
    }

    /**
     * Entries for a group of names, looked up concurrently, each holding one reference. A name that
     * vanished in between, and "." and "..", get a nodeid-0 entry: listed, no reference. The
     * lookups are not flushed on interrupt (each is short and holds a reference once done): the
     * group finishes, then an interrupted request gives its references back and fails.
     */
    private List<EntryOut> resolve(FuseRequest r, Node dir, List<Dirent> group) throws FuseException {
        List<CompletableFuture<EntryOut>> pending = new ArrayList<>(group.size());
        long now = System.nanoTime();
        for (Dirent d : group) {
            if (d.name().equals(".") || d.name().equals("..")) {
                pending.add(CompletableFuture.completedFuture(null));
                continue;
            }
            Node held = nodes.heldSamePath(dir.nodeid, d.name(), d.qid().path());
            if (held != null && held.kernelEntryUntil - now > ACL_PREFETCH_MIN_NANOS) {
                // The kernel has this name and its attributes, valid for a while yet under the
                // lease: listed without attributes (nodeid 0), it keeps what it has, and a
                // second `ls -l` costs no Tgetattr per entry. Should it have dropped them, it asks.
                pending.add(CompletableFuture.completedFuture(null));
                continue;
            }
            Node known = nodes.refSamePath(dir.nodeid, d.name(), d.qid().path());
            pending.add(known != null ? refreshAsync(known) : walkAsync(dir, d.name()));
        }
        List<EntryOut> entries = new ArrayList<>(group.size());
        FuseException failure = null;
        for (int i = 0; i < group.size(); i++) {
            EntryOut e = null;
            try {
                e = rpc.await(null, pending.get(i));
            } catch (FuseException x) {
                failure = failure == null ? x : failure;
            }
            if (e == null) {
                Dirent d = group.get(i);
                e = new EntryOut(0, 0, 0, 0, emptyAttr(d.qid().path(), dtypeToMode(d.type())));
            }
            entries.add(e);
        }
        if (failure == null && r.interrupted()) {
            failure = new FuseException(Errno.EINTR);
        }
        if (failure != null) {
            for (EntryOut e : entries) {
                forget(e.nodeid(), 1);
            }
            throw failure;
        }
        return entries;
    }

    /**
     * READDIRPLUS on a 9P2000.L.c9 connection: one Treaddirattr per ~170 entries instead of a
     * Twalk, a Tgetattr and a Txattrwalk per entry. A listed file gets a node without a fid (one
     * kernel reference per entry, as for any READDIRPLUS entry). The server leases each file it
     * lists (flag LEASED; the node counts them and returns them with Tunlist when it goes), so its
     * attributes, and its ACL absence, are trusted as a walked file's are, until a recall. An entry
     * the server did not lease (a c9fs-serve from before listing leases, a file this mount is
     * fenced on), or from a listing a recall may have overtaken (any recall of data or attributes
     * since it was sent: the node it meant may not have existed yet), is trusted for
     * {@link CachePolicy#unleasedAttrTimeoutNanos} only. The name is covered by the directory's lease.
     */
    private void readdirattr(FuseRequest r, OpenHandle h, long offset, DirPlusFiller out) throws FuseException {
        Node dir = h.node;
        long cookie = offset;
        OpenHandle.AttrBatch batch = h.pendingAttr(offset);
        while (true) {
            if (batch == null) {
                batch = fetchAttr(r, h, cookie);
                if (batch.entries().isEmpty()) {
                    return;
                }
                // The next batch is read by the server while the kernel and the lister use this one.
                List<Message.AttrDirent> got = batch.entries();
                long next = got.get(got.size() - 1).dirent().offset();
                long epochAhead = nodes.recallEpoch();
                h.prefetch(new OpenHandle.AttrPrefetch(next, System.nanoTime(), epochAhead, rpc.send(
                        new Message.Treaddirattr(h.fid, next, readdirCount()), Message.Rreaddirattr.class)));
            }
            List<Message.AttrDirent> entries = batch.entries();
            long epoch = nodes.epoch();
            long unleased = Math.min(policy.unleasedAttrTimeoutNanos(), policy.attrTimeoutNanos());
            long leased = policy.attrTimeoutNanos();
            long entryNanos = policy.entryTimeoutNanos();
            boolean untouched = nodes.recallEpoch() == batch.recallEpoch();
            for (int i = 0; i < entries.size(); i++) {
                Message.AttrDirent a = entries.get(i);
                Dirent d = a.dirent();
                EntryOut e;
                Node node = null;
                if (d.name().equals(".") || d.name().equals("..")) {
                    e = new EntryOut(0, 0, 0, 0, emptyAttr(d.qid().path(), dtypeToMode(d.type())));
                } else {
                    boolean spent = i == 0 && batch.firstSpent();
                    if (DirPlusFiller.size(d.name()) > out.room()) {
                        h.keepAttr(cookie, new OpenHandle.AttrBatch(entries.subList(i, entries.size()), batch.sentAt(),
                                batch.recallEpoch(), spent));
                        return;
                    }
                    boolean lease = (a.flags() & Message.AttrDirent.LEASED) != 0 && !spent;
                    Node held = nodes.heldSamePath(dir.nodeid, d.name(), a.attr().qid().path());
                    if (held != null && untouched && held.kernelEntryUntil - System.nanoTime() > ACL_PREFETCH_MIN_NANOS
                            && (!lease || nodes.countListing(held))) {
                        // The kernel has this name and its attributes, valid under the lease for
                        // a while yet: listed without attributes (nodeid 0), it keeps what it has,
                        // and a second `ls -l` costs it and us no work per entry. The listing's
                        // lease is the held node's to return.
                        e = new EntryOut(0, 0, 0, 0, emptyAttr(d.qid().path(), dtypeToMode(d.type())));
                        if (!out.add(d.name(), e, d.offset())) {
                            h.keepAttr(cookie, new OpenHandle.AttrBatch(entries.subList(i, entries.size()),
                                    batch.sentAt(), batch.recallEpoch(), lease || spent));
                            return;
                        }
                        cookie = d.offset();
                        continue;
                    }
                    node = nodes.linkListed(dir.nodeid, d.name(), a.attr().qid(), epoch, lease);
                    // A node the kernel already had from a leased listing is leased still.
                    long attrNanos = untouched && (lease || node.listed > 0) ? leased : unleased;
                    // Counted from the Treaddirattr's sending: the attributes are at least that old.
                    long until = batch.sentAt() + attrNanos;
                    long generation = node.xattrGeneration();
                    if ((a.flags() & Message.AttrDirent.HAS_ACL_ACCESS) == 0) {
                        node.rememberXattrAbsent(ACL_ACCESS, generation, until);
                    }
                    if (a.attr().qid().isDir() && (a.flags() & Message.AttrDirent.HAS_ACL_DEFAULT) == 0) {
                        node.rememberXattrAbsent(ACL_DEFAULT, generation, until);
                    }
                    long valid = Math.max(0, until - System.nanoTime());
                    node.kernelEntryUntil = batch.sentAt() + Math.min(entryNanos, attrNanos);
                    e = new EntryOut(node.nodeid, 0, entryNanos, valid, Attrs.of(a.attr(), blksize));
                }
                if (!out.add(d.name(), e, d.offset())) {
                    if (node != null) {
                        // The lease this entry carried is the node's now (returned if this
                        // forgets it): the entry handed out again must not count it twice.
                        forget(node.nodeid, 1);
                    }
                    h.keepAttr(cookie, new OpenHandle.AttrBatch(entries.subList(i, entries.size()), batch.sentAt(),
                            batch.recallEpoch(), node != null || (i == 0 && batch.firstSpent())));
                    return;
                }
                cookie = d.offset();
            }
            batch = null;
        }
    }

    /** Listing leases of forgotten nodes, returned together (Tunlist) shortly after. */
    private final java.util.concurrent.ConcurrentLinkedQueue<Message.Unlist> unlisted =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final java.util.concurrent.atomic.AtomicBoolean unlistScheduled = new java.util.concurrent.atomic.AtomicBoolean();
    /** Files per Tunlist: 12 bytes each, well inside any msize. */
    private static final int UNLIST_BATCH = 512;

    private void unlisted(long path, int count) {
        unlisted.add(new Message.Unlist(path, count));
        if (unlistScheduled.compareAndSet(false, true)) {
            // A FORGET storm (BATCH_FORGET, memory pressure) becomes a few messages.
            CompletableFuture.runAsync(this::sendUnlisted,
                    CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS));
        }
    }

    private void sendUnlisted() {
        unlistScheduled.set(false);
        List<Message.Unlist> batch = new ArrayList<>();
        for (Message.Unlist u; (u = unlisted.poll()) != null; ) {
            batch.add(u);
            if (batch.size() == UNLIST_BATCH || unlisted.isEmpty()) {
                rpc.send(new Message.Tunlist(batch), Message.Runlist.class).whenComplete((ok, err) -> {
                    if (err != null) {
                        // Lost with the connection (whose leases went with it) or refused: a
                        // lease the server still holds only costs it a recall now and then.
                        LOG.log(System.Logger.Level.DEBUG, "Tunlist: " + err);
                    }
                });
                batch = new ArrayList<>();
            }
        }
    }

    private int readdirCount() {
        return Math.min(READDIR_BYTES, client.msize() - RREADDIR_HEADER);
    }

    /** The entries after {@code cookie}: those sent ahead for it if there are, else a Treaddirattr now. */
    private OpenHandle.AttrBatch fetchAttr(FuseRequest r, OpenHandle h, long cookie) throws FuseException {
        OpenHandle.AttrPrefetch ahead = h.takePrefetch(cookie);
        if (ahead != null) {
            try {
                return new OpenHandle.AttrBatch(rpc.await(r, ahead.reply()).entries(), ahead.sentAt(),
                        ahead.recallEpoch(), false);
            } catch (FuseException e) {
                if (e.errno() == Errno.EINTR) {
                    throw e;
                }
                // Whatever failed it, a request of our own says whether it still does.
            }
        }
        long sentAt = System.nanoTime();
        long recallEpoch = nodes.recallEpoch();
        return new OpenHandle.AttrBatch(rpc.call(r, new Message.Treaddirattr(h.fid, cookie, readdirCount()),
                Message.Rreaddirattr.class).entries(), sentAt, recallEpoch, false);
    }

    private List<Dirent> fetch(FuseRequest r, OpenHandle h, long cookie) throws FuseException {
        int count = Math.min(READDIR_BYTES, client.msize() - RREADDIR_HEADER);
        return rpc.call(r, new Message.Treaddir(h.fid, cookie, count), Message.Rreaddir.class).entries();
    }

    @Override
    public void releasedir(FuseRequest r, long nodeid, long fh) {
        OpenHandle h = handles.get(fh);
        if (h != null) {
            h.node.listingReleased(fh);
        }
        release(r, nodeid, fh, 0, 0);
    }

    @Override
    public void fsyncdir(FuseRequest r, long nodeid, long fh, boolean datasync) throws FuseException {
        fsync(r, nodeid, fh, datasync);
    }

    // ------------------------------------------------------------------ the rest

    @Override
    public StatfsOut statfs(FuseRequest r, long nodeid) throws FuseException {
        Node node = nodes.get(nodeid);
        Message.Rstatfs s = lastStatfs;
        if (s == null || client.isOpen()) {
            s = fresh(r, () -> rpc.call(r, new Message.Tstatfs(fid(r, node)), Message.Rstatfs.class), node);
            lastStatfs = s;
        }
        return new StatfsOut(s.blocks(), s.bfree(), s.bavail(), s.files(), s.ffree(), s.bsize(), s.namelen(),
                s.bsize());
    }

    /**
     * 9P2000.L has no access check of its own: decide from fresh mode bits and the caller's ids, as
     * the kernel would (the server still enforces its own rules on the operation itself).
     */
    @Override
    public void access(FuseRequest r, long nodeid, int mask) throws FuseException {
        Node node = nodes.get(nodeid);
        Rgetattr a = fresh(r, () -> rpc.call(r, new Message.Tgetattr(fid(r, node), Rgetattr.BASIC), Rgetattr.class),
                node);
        if (mask == 0) {
            return;
        }
        int mode = a.mode();
        boolean dir = (mode & S_IFMT) == S_IFDIR;
        if (r.uid() == 0) {
            if ((mask & X_OK) != 0 && !dir && (mode & 0111) == 0) {
                throw new FuseException(Errno.EACCES);
            }
            return;
        }
        int granted;
        if (r.uid() == a.uid()) {
            granted = (mode >> 6) & 7;
        } else if (r.gid() == a.gid()) {
            granted = (mode >> 3) & 7;
        } else {
            granted = mode & 7;
        }
        if ((mask & (R_OK | W_OK | X_OK) & ~granted) != 0) {
            throw new FuseException(Errno.EACCES);
        }
    }

    @Override
    public byte[] getxattr(FuseRequest r, long nodeid, String name) throws FuseException {
        localOnly(name);
        shown(name);
        Node node = nodes.get(nodeid);
        long asked = System.nanoTime();
        if (node.xattrKnownAbsent(name, asked)) {
            throw new FuseException(Errno.ENODATA);
        }
        long generation = node.xattrGeneration();
        long ttl = policy.attrTimeoutNanos();
        try {
            return fresh(r, () -> readXattr(r, node, name), node);
        } catch (FuseException e) {
            if (e.errno() == Errno.ENODATA && ttl > 0) {
                node.rememberXattrAbsent(name, generation, asked + ttl);
            }
            throw e;
        }
    }

    /**
     * -o aclcache, before mounting: under leases the kernel may keep ACLs (`ls -l` asks every
     * file for one; kept, a second listing asks nothing). Another client's or the server
     * machine's change of an ACL is an xattr change, recalled as an attribute recall, whose
     * FUSE_NOTIFY_INVAL_INODE drops the kernel's ACLs with the attributes; without leases nothing
     * would drop them in time, so the kernel keeps none. Not the default, for its price:
     * FUSE_POSIX_ACL implies default_permissions, so the kernel checks permissions itself (the
     * answers {@link #access} gives, now for every operation: other users under allow_other no
     * longer act with the attached user's rights), and it fetches a directory's attributes
     * before the next permission check whenever a create or unlink there dropped them: a GETATTR,
     * a Tgetattr, per create and per unlink (unlinks/s halved in the meta benchmark).
     */
    void cacheAcls() {
        aclCache = true;
    }

    @Override
    public boolean cachesAcls() {
        return aclCache && policy instanceof LeasePolicy;
    }

    /**
     * FUSE_HANDLE_KILLPRIV_V2: without it the kernel asks for security.capability, a GETXATTR
     * round trip, before every write(2) (FUSE sets SB_NOSEC only for filesystems that take this
     * on), which halved the rate of 4 KiB writes. The kernel then leaves the clearing of setuid
     * and setgid to us ({@link #killSuidgid}). A server's own write cannot be relied on to clear
     * them: c9fs-serve, and diod as root, write with CAP_FSETID. Capabilities need nothing here:
     * the server's host clears security.capability on any write, privileged or not.
     */
    @Override
    public boolean killsSuidgid() {
        return true;
    }

    /**
     * What a write or truncation by a caller without CAP_FSETID clears from a regular file's mode
     * (Linux's should_remove_suid): setuid, and setgid if group-executable (without group execute
     * it marks mandatory locking, not a privilege).
     */
    static int sxidToKill(int mode) {
        if ((mode & S_IFMT) != S_IFREG) {
            return 0;
        }
        int kill = mode & S_ISUID;
        if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)) {
            kill |= S_ISGID;
        }
        return kill;
    }

    /**
     * Clears the file's setuid and group-executable setgid bits through {@code fid} before a write
     * by a caller the kernel found without CAP_FSETID (FUSE_WRITE_KILL_SUIDGID). The server is
     * asked for the mode only when this mount does not know the file to have neither: once per
     * attribute timeout at most, and after anything that may have changed the mode.
     */
    private void killSuidgid(FuseRequest r, Node node, int fid) throws FuseException {
        if (node.knownSxidFree(System.nanoTime())) {
            return;
        }
        long generation = node.modeGeneration();
        Rgetattr a = rpc.call(r, new Message.Tgetattr(fid, Rgetattr.BASIC), Rgetattr.class);
        clearSxid(r, node, fid, a.mode(), generation);
    }

    /**
     * Clears {@link #sxidToKill} of {@code mode}, the mode the server gave at mode generation
     * {@code generation}, through {@code fid}; then the file is known clean until a mode change.
     */
    private void clearSxid(FuseRequest r, Node node, int fid, int mode, long generation) throws FuseException {
        int kill = sxidToKill(mode);
        if (kill != 0) {
            node.attrsChanged();
            node.modeMayHaveChanged();
            generation = node.modeGeneration();
            rpc.call(r, new Message.Tsetattr(fid, Message.Tsetattr.MODE, mode & 07777 & ~kill, 0, 0, 0, 0, 0, 0, 0),
                    Message.Rsetattr.class);
        }
        node.sxidFree(generation, System.nanoTime() + policy.attrTimeoutNanos());
    }

    /**
     * -o noacl, before mounting: POSIX ACLs are not shown, as with NFS's noacl. Reading or
     * setting one fails with EOPNOTSUPP and listxattr leaves them out; the server still enforces
     * them. Why a user would: `ls -l` asks every file for its ACL, a FUSE round trip each, until
     * a file system answers EOPNOTSUPP, after which coreutils asks nothing more of that device.
     */
    void hideAcls() {
        aclsHidden = true;
    }

    private boolean hidden(String name) {
        return aclsHidden && (name.equals(ACL_ACCESS) || name.equals(ACL_DEFAULT));
    }

    /** Refuses an xattr this mount does not show ({@link #hideAcls}). */
    private void shown(String name) throws FuseException {
        if (hidden(name)) {
            throw new FuseException(Errno.EOPNOTSUPP, name + " is not shown on this mount (-o noacl)");
        }
    }

    @Override
    public List<String> listxattr(FuseRequest r, long nodeid) throws FuseException {
        Node node = nodes.get(nodeid);
        byte[] raw = fresh(r, () -> readXattr(r, node, ""), node);
        List<String> names = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == 0) {
                if (i > start) {
                    String name = new String(raw, start, i - start, StandardCharsets.UTF_8);
                    if (!hidden(name)) {
                        names.add(name);
                    }
                }
                start = i + 1;
            }
        }
        return names;
    }

    /** Txattrwalk gives a fid whose reads return the value (or the name list, for ""). */
    private byte[] readXattr(FuseRequest r, Node node, String name) throws FuseException {
        int fid = client.allocFid();
        Message.Rxattrwalk x;
        try {
            x = rpc.call(r, new Message.Txattrwalk(fid(r, node), fid, name), Message.Rxattrwalk.class);
        } catch (FuseException e) {
            rpc.abandon(fid, e);
            throw e;
        }
        try {
            if (x.size() > Integer.MAX_VALUE - 8) {
                throw new FuseException(Errno.EIO, "xattr too large");
            }
            byte[] value = new byte[(int) x.size()];
            int chunk = client.msize() - Message.IOHDRSZ;
            int off = 0;
            while (off < value.length) {
                Rread rr = rpc.call(r, new Message.Tread(fid, off, Math.min(chunk, value.length - off)), Rread.class);
                try {
                    int n = Math.min(rr.data().readableBytes(), value.length - off);
                    if (n == 0) {
                        break;
                    }
                    rr.data().getBytes(rr.data().readerIndex(), value, off, n);
                    off += n;
                } finally {
                    rr.release();
                }
            }
            return off == value.length ? value : java.util.Arrays.copyOf(value, off);
        } finally {
            rpc.clunk(fid);
        }
    }

    @Override
    public void setxattr(FuseRequest r, long nodeid, String name, byte[] value, int flags) throws FuseException {
        localOnly(name);
        shown(name);
        Node node = nodes.get(nodeid);
        try {
            fresh(r, () -> writeXattr(r, node, name, value, flags), node);
        } finally {
            node.xattrsChanged();
            node.attrsChanged();
        }
    }

    @Override
    public void removexattr(FuseRequest r, long nodeid, String name) throws FuseException {
        localOnly(name);
        shown(name);
        // 9P2000.L removes an attribute by creating it empty with XATTR_REPLACE (as Linux v9fs does).
        Node node = nodes.get(nodeid);
        try {
            fresh(r, () -> writeXattr(r, node, name, new byte[0], XATTR_REPLACE), node);
        } finally {
            node.xattrsChanged();
            node.attrsChanged();
        }
    }

    /**
     * The security.* namespace (SELinux and SMACK labels, capabilities) is not forwarded, as NFS
     * does not forward it without labeled NFS: a label means something only to the kernel that
     * enforces it, which is the server's. The answer is NFS's too, EOPNOTSUPP: the mount has no
     * labels, not a file without one. coreutils' ls takes that answer (not ENODATA) as "this
     * device has none" and stops asking, which spares `ls -l` a FUSE round trip per entry.
     */
    private static void localOnly(String name) throws FuseException {
        if (name.startsWith("security.")) {
            throw new FuseException(Errno.EOPNOTSUPP, name + " is not forwarded to the server");
        }
    }

    /** Txattrcreate turns a fid into the value's sink; the value is set when that fid is clunked. */
    private Void writeXattr(FuseRequest r, Node node, String name, byte[] value, int flags) throws FuseException {
        int fid = rpc.clone(r, fid(r, node));
        boolean clunked = false;
        try {
            rpc.call(r, new Message.Txattrcreate(fid, name, value.length, flags), Message.Rxattrcreate.class);
            int chunk = client.msize() - Message.IOHDRSZ;
            for (int off = 0; off < value.length; ) {
                int n = Math.min(chunk, value.length - off);
                ByteBuf data = PooledByteBufAllocator.DEFAULT.directBuffer(n).writeBytes(value, off, n);
                off += rpc.call(r, new Message.Twrite(fid, off, data), Rwrite.class).count();
            }
            clunked = true;
            // The value is set when the fid is clunked: this clunk's answer is the operation's.
            try {
                rpc.await(null, rpc.send(new Message.Tclunk(fid), Message.Rclunk.class));
            } catch (FuseException e) {
                rpc.abandon(fid, e);
                throw e;
            }
            client.freeFid(fid);
            return null;
        } finally {
            if (!clunked) {
                rpc.clunk(fid);
            }
        }
    }

    @Override
    public FileLock getlk(FuseRequest r, long nodeid, long fh, long owner, FileLock lock) throws FuseException {
        OpenHandle h = handle(fh);
        behind.drain(rpc, r, h.node.qidPath);
        // Asked through the owner's own lock fid, the server ignores the owner's own locks, as
        // F_GETLK must; an owner without one holds no locks, and the handle's fid holds none.
        LockOwners.Holder mine = locks.get(nodeid, owner);
        int fid = mine != null ? mine.fid() : h.fid;
        Message.Rgetlock g = rpc.call(r, new Message.Tgetlock(fid, lock.type(), lock.start(), length(lock),
                lock.pid(), lockClient), Message.Rgetlock.class);
        if (g.lockType() == F_UNLCK) {
            return new FileLock(lock.start(), lock.end(), F_UNLCK, 0);
        }
        long end = g.length() == 0 ? OFFSET_MAX : g.start() + g.length() - 1;
        int local = locks.otherPid(nodeid, owner);
        int pid = local != 0 ? local : g.procId() == lock.pid() ? 0 : g.procId();
        return new FileLock(g.start(), end, g.lockType(), pid);
    }

    @Override
    public void setlk(FuseRequest r, long nodeid, long fh, long owner, FileLock lock, boolean sleep)
            throws FuseException {
        OpenHandle h = handle(fh);
        // A lock hand-over orders writes between machines: what was written under it lands first.
        behind.drain(rpc, r, h.node.qidPath);
        if (lock.type() == F_UNLCK) {
            LockOwners.Holder mine = locks.get(nodeid, owner);
            if (mine != null) {
                rpc.call(r, new Message.Tlock(mine.fid(), Message.Tlock.UNLCK, 0, lock.start(), length(lock),
                        lock.pid(), lockClient), Message.Rlock.class);
            }
            return;
        }
        LockOwners.Holder mine = lockFid(r, h, owner, lock.pid());
        if (tryLock(r, mine, lock)) {
            return;
        }
        if (!sleep) {
            throw new FuseException(Errno.EAGAIN);
        }
        // A waiting SETLKW holds a FUSE worker. Were every worker waiting, the unlock that would
        // release them could never be served: refuse the wait that would take the last ones.
        if (!lockWaiters.tryAcquire()) {
            throw new FuseException(Errno.EDEADLK, "too many lock waiters on this mount");
        }
        try {
            // Never ask the server to block (it would park a server thread, and our worker, without
            // bound): poll with back-off instead, which an interrupt stops between attempts.
            CountDownLatch interrupted = new CountDownLatch(1);
            long backoff = LOCK_RETRY_MIN_MS;
            while (true) {
                r.onInterrupt(interrupted::countDown);
                try {
                    if (interrupted.await(backoff, TimeUnit.MILLISECONDS)) {
                        throw new FuseException(Errno.EINTR);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new FuseException(Errno.EINTR);
                }
                if (tryLock(r, mine, lock)) {
                    return;
                }
                backoff = Math.min(LOCK_RETRY_MAX_MS, backoff * 2);
            }
        } finally {
            lockWaiters.release();
        }
    }

    /** One non-blocking Tlock through the owner's lock fid: true if granted, false if held elsewhere. */
    private boolean tryLock(FuseRequest r, LockOwners.Holder mine, FileLock lock) throws FuseException {
        Message.Rlock l = rpc.call(r, new Message.Tlock(mine.fid(), lock.type(), 0, lock.start(), length(lock),
                lock.pid(), lockClient), Message.Rlock.class);
        switch (l.status()) {
            case Message.Rlock.SUCCESS:
                return true;
            case Message.Rlock.BLOCKED:
            case Message.Rlock.GRACE:
                return false;
            default:
                throw new FuseException(Errno.ENOLCK, "the server could not lock");
        }
    }

    /** The owner's lock fid on the handle's inode, opened on first use (see {@link LockOwners}). */
    private LockOwners.Holder lockFid(FuseRequest r, OpenHandle h, long owner, int pid) throws FuseException {
        LockOwners.Holder mine = locks.get(h.node.nodeid, owner);
        if (mine != null) {
            return mine;
        }
        int fid = rpc.clone(r, fid(r, h.node));
        try {
            try {
                // Write locks need a descriptor open for writing on the server.
                rpc.call(r, new Message.Tlopen(fid, O_RDWR), Rlopen.class);
            } catch (FuseException e) {
                if (e.errno() == Errno.EINTR) {
                    throw e;
                }
                rpc.call(r, new Message.Tlopen(fid, O_RDONLY), Rlopen.class);
            }
        } catch (FuseException e) {
            rpc.clunk(fid);
            throw e;
        }
        LockOwners.Holder made = new LockOwners.Holder(fid, pid);
        LockOwners.Holder inForce = locks.putIfAbsent(h.node.nodeid, owner, made);
        if (inForce != made) {
            rpc.clunk(fid);
        }
        return inForce;
    }

    /** 9P lock length: 0 means "to end of file", as OFFSET_MAX does for the kernel. */
    private static long length(FileLock lock) {
        return lock.end() == OFFSET_MAX ? 0 : lock.end() - lock.start() + 1;
    }

    @Override
    public long lseek(FuseRequest r, long nodeid, long fh, long offset, int whence) throws FuseException {
        behind.drain(rpc, r, handle(fh).node.qidPath);
        // 9P2000.L has no SEEK_DATA/SEEK_HOLE; ENOSYS makes the kernel use its generic answer.
        throw new FuseException(Errno.ENOSYS);
    }

    @Override
    public void fallocate(FuseRequest r, long nodeid, long fh, long offset, long length, int mode)
            throws FuseException {
        behind.drain(rpc, r, handle(fh).node.qidPath);
        throw new FuseException(Errno.EOPNOTSUPP, "9P2000.L has no fallocate");
    }

    // ------------------------------------------------------------------ fids and handles

    /** One step of a request that uses node fids; may run twice (see {@link #fresh}). */
    private interface FidOp<T> {
        T run() throws FuseException;
    }

    /**
     * Runs {@code op}; if it fails with ENOENT while one of the {@code involved} nodes holds a fid
     * walked before the last directory rename (on a path-based server that fid may name a path
     * that no longer exists), re-walks those nodes from the root by their names and runs
     * {@code op} once more.
     */
    private <T> T fresh(FuseRequest r, FidOp<T> op, Node... involved) throws FuseException {
        try {
            return op.run();
        } catch (FuseException e) {
            if (e.errno() != Errno.ENOENT) {
                throw e;
            }
            boolean rewalked = false;
            for (Node n : involved) {
                if (nodes.suspect(n) && rewalk(r, n)) {
                    rewalked = true;
                }
            }
            if (!rewalked) {
                throw e;
            }
            return op.run();
        }
    }

    /**
     * The node's fid, walked now if the node was made from a Treaddirattr listing and has none
     * yet: from its parent's fid by its name, or from the root by its names when a directory was
     * renamed since the listing. A name that now leads to another file (or to none) is ESTALE:
     * the kernel drops the inode and looks the name up again.
     */
    private int fid(FuseRequest r, Node node) throws FuseException {
        int fid = node.fid;
        if (fid != Message.NOFID) {
            return fid;
        }
        if (nodes.suspect(node)) {
            if (rewalk(r, node)) {
                return node.fid;
            }
            throw new FuseException(Errno.ESTALE, "listed " + node + " is gone");
        }
        Node parent;
        try {
            parent = nodes.get(node.parent);
        } catch (FuseException e) {
            throw new FuseException(Errno.ESTALE, "parent of listed " + node + " is gone");
        }
        int from = fid(r, parent);
        long epoch = nodes.epoch();
        int walked = client.allocFid();
        Rwalk w;
        try {
            w = rpc.call(r, new Message.Twalk(from, walked, List.of(node.name)), Rwalk.class);
        } catch (FuseException e) {
            rpc.abandon(walked, e);
            throw e.errno() == Errno.ENOENT ? new FuseException(Errno.ESTALE, node + " is gone") : e;
        }
        if (w.wqids().size() != 1) {
            client.freeFid(walked);
            throw new FuseException(Errno.ESTALE, node + " is gone");
        }
        if (w.wqids().get(0).path() != node.qidPath) {
            rpc.clunk(walked);
            throw new FuseException(Errno.ESTALE, node.name + " now names another file than " + node);
        }
        if (!nodes.install(node, walked, epoch)) {
            // Another request gave it a fid meanwhile (or the kernel forgot it): use that one.
            rpc.clunk(walked);
            if (node.fid == Message.NOFID) {
                throw new FuseException(Errno.ESTALE, node + " was forgotten");
            }
        }
        return node.fid;
    }

    /** Walks a new fid from the root along the node's names; true if it reached the node's file. */
    private boolean rewalk(FuseRequest r, Node node) {
        List<String> path = nodes.pathOf(node);
        if (path == null || path.isEmpty()) {
            return false;
        }
        long epoch = nodes.epoch();
        int fid = client.allocFid();
        boolean walked = false;
        Qid last = null;
        FuseException failure = null;
        try {
            for (int i = 0; i < path.size(); i += Message.MAXWELEM) {
                List<String> part = path.subList(i, Math.min(path.size(), i + Message.MAXWELEM));
                Rwalk w = rpc.call(r, new Message.Twalk(walked ? fid : nodes.root().fid, fid, part), Rwalk.class);
                if (w.wqids().size() != part.size()) {
                    last = null;
                    break;
                }
                walked = true;
                last = w.wqids().get(part.size() - 1);
            }
        } catch (FuseException e) {
            last = null;
            failure = e;
        }
        boolean reached = last != null && last.path() == node.qidPath && nodes.swap(node, fid, epoch);
        if (!reached) {
            if (walked) {
                rpc.clunk(fid);
            } else if (failure != null) {
                rpc.abandon(fid, failure);
            } else {
                client.freeFid(fid);
            }
        }
        return reached;
    }

    /** A node that just took one kernel reference, with the attributes fetched for the reply. */
    private record Looked(Node node, Rgetattr attrs) {
    }

    /** Walks one name from {@code dir}, fetches its attributes and takes one reference on its node. */
    private EntryOut walk(FuseRequest r, Node dir, String name) throws FuseException {
        Looked l = walkNode(r, dir, name);
        return entry(l.node, l.attrs);
    }

    private Looked walkNode(FuseRequest r, Node dir, String name) throws FuseException {
        long epoch = nodes.epoch();
        int fid = rpc.walk(r, fid(r, dir), name);
        Rgetattr a;
        try {
            a = rpc.call(r, new Message.Tgetattr(fid, Rgetattr.BASIC), Rgetattr.class);
        } catch (FuseException e) {
            rpc.clunk(fid);
            throw e;
        }
        return new Looked(nodes.link(dir.nodeid, name, a.qid(), fid, epoch), a);
    }

    /**
     * Fresh attributes for a node that already holds the reference READDIRPLUS hands out; on
     * failure the reference is given back and the entry is listed without attributes (null).
     */
    private CompletableFuture<EntryOut> refreshAsync(Node node) {
        long asked = System.nanoTime();
        long ttl = policy.attrTimeoutNanos();
        long generation = node.xattrGeneration();
        CompletableFuture<List<String>> absent = absentAcls(node.fid, node.qid.isDir(), node, asked, ttl);
        return rpc.send(new Message.Tgetattr(node.fid, Rgetattr.BASIC), Rgetattr.class)
                .handle((a, err) -> err != null ? null : a)
                .thenCombine(absent, (a, gone) -> {
                    if (a == null || a.qid().path() != node.qidPath) {
                        forget(node.nodeid, 1);
                        return null;
                    }
                    rememberAbsent(node, gone, generation, asked + ttl);
                    return entry(node, a);
                });
    }

    /** {@link #walk} without blocking, for READDIRPLUS; null if the name vanished. */
    private CompletableFuture<EntryOut> walkAsync(Node dir, String name) {
        long epoch = nodes.epoch();
        int fid = client.allocFid();
        return rpc.send(new Message.Twalk(dir.fid, fid, List.of(name)), Rwalk.class)
                .<CompletableFuture<EntryOut>>handle((w, err) -> {
                    if (err != null) {
                        rpc.abandon(fid, Rpc.error(err));
                        return CompletableFuture.<EntryOut>completedFuture(null);
                    }
                    if (w.wqids().size() != 1) {
                        client.freeFid(fid);
                        return CompletableFuture.<EntryOut>completedFuture(null);
                    }
                    Qid qid = w.wqids().get(0);
                    // A node of this file made meanwhile starts at generation 0, so an absence
                    // learnt now is kept only if no recall reached the file's node since.
                    Node known = nodes.byQidPath(qid.path());
                    long generation = known != null ? known.xattrGeneration() : 0;
                    long asked = System.nanoTime();
                    long ttl = policy.attrTimeoutNanos();
                    CompletableFuture<List<String>> absent = absentAcls(fid, qid.isDir(), null, asked, ttl);
                    return rpc.send(new Message.Tgetattr(fid, Rgetattr.BASIC), Rgetattr.class)
                            .handle((a, e2) -> e2 != null ? null : a)
                            .thenCombine(absent, (a, gone) -> {
                                if (a == null) {
                                    rpc.clunk(fid);
                                    return null;
                                }
                                Node node = nodes.link(dir.nodeid, name, a.qid(), fid, epoch);
                                rememberAbsent(node, gone, generation, asked + ttl);
                                return entry(node, a);
                            });
                })
                .thenCompose(f -> f);
    }

    /**
     * Asks, on {@code fid}, for the ACL xattrs `ls -l` will ask of this file, and completes with
     * those the server says it lacks; never fails. Nothing is asked when the answer would not be
     * kept long enough to serve a listing, or is already known.
     */
    private CompletableFuture<List<String>> absentAcls(int fid, boolean dir, Node known, long now, long ttl) {
        if (ttl < ACL_PREFETCH_MIN_NANOS || aclsHidden) {
            return CompletableFuture.completedFuture(List.of());
        }
        List<CompletableFuture<String>> asks = new ArrayList<>(2);
        for (String name : dir ? List.of(ACL_ACCESS, ACL_DEFAULT) : List.of(ACL_ACCESS)) {
            if (known != null && known.xattrKnownAbsent(name, now)) {
                continue;
            }
            int xfid = client.allocFid();
            asks.add(rpc.send(new Message.Txattrwalk(fid, xfid, name), Message.Rxattrwalk.class).handle((x, err) -> {
                if (err == null) {
                    rpc.clunk(xfid);
                    return null;
                }
                FuseException e = Rpc.error(err);
                rpc.abandon(xfid, e);
                return e.errno() == Errno.ENODATA ? name : null;
            }));
        }
        return CompletableFuture.allOf(asks.toArray(new CompletableFuture<?>[0])).thenApply(v -> {
            List<String> absent = new ArrayList<>(asks.size());
            for (CompletableFuture<String> a : asks) {
                String name = a.join();
                if (name != null) {
                    absent.add(name);
                }
            }
            return absent;
        });
    }

    private static void rememberAbsent(Node node, List<String> names, long generation, long deadline) {
        for (String name : names) {
            node.rememberXattrAbsent(name, generation, deadline);
        }
    }

    private EntryOut entry(Node node, Rgetattr a) {
        long entryNanos = policy.entryTimeoutNanos();
        long attrNanos = policy.attrTimeoutNanos();
        node.kernelEntryUntil = System.nanoTime() + Math.min(entryNanos, attrNanos);
        return new EntryOut(node.nodeid, 0, entryNanos, attrNanos, Attrs.of(a, blksize));
    }



    /** Clones the node's fid, opens the clone and makes it a FUSE handle. */
    private OpenHandle openFid(FuseRequest r, Node node, int flags) throws FuseException {
        int fid = rpc.clone(r, fid(r, node));
        Rlopen o;
        try {
            o = rpc.call(r, new Message.Tlopen(fid, flags), Rlopen.class);
        } catch (FuseException e) {
            rpc.clunk(fid);
            throw e;
        }
        return register(node, fid, o.iounit());
    }

    private OpenHandle register(Node node, int fid, int iounit) {
        int max = Math.min(client.msize() - Message.IOHDRSZ, PIECE);
        int chunk = iounit > 0 ? Math.min(iounit, max) : max;
        OpenHandle h = new OpenHandle(nextFh.getAndIncrement(), node, fid, chunk);
        handles.put(h.fh, h);
        return h;
    }

    private OpenHandle handle(long fh) throws FuseException {
        OpenHandle h = handles.get(fh);
        if (h == null) {
            throw new FuseException(Errno.EBADF, "unknown fh " + fh);
        }
        return h;
    }

    /** Clunks a handle's fid, so a RELEASE leaves no open file behind on the server. */
    private void close(OpenHandle h) {
        handles.remove(h.fh, h);
        clunkNow(h.fid);
    }

    /** Clunks and waits (bounded) for the answer: the server has closed the file when this returns. */
    private void clunkNow(int fid) {
        try {
            rpc.await(null, rpc.send(new Message.Tclunk(fid), Message.Rclunk.class));
        } catch (FuseException e) {
            LOG.log(System.Logger.Level.DEBUG, "clunk of fid {0} failed: {1}", fid, e.getMessage());
            rpc.abandon(fid, e);
            return;
        }
        client.freeFid(fid);
    }

    private static boolean unsupported(FuseException e) {
        return e.errno() == Errno.ENOSYS || e.errno() == Errno.EOPNOTSUPP;
    }

    /** DT_* of a dirent to the S_IF* type bits. */
    private static int dtypeToMode(int dtype) {
        return (dtype & 0xF) << 12;
    }

    private static Attr emptyAttr(long ino, int mode) {
        return new Attr(ino, 0, 0, 0, 0, 0, 0, 0, 0, mode, 0, 0, 0, 0, 0);
    }
}
