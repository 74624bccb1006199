package io.c9fs.mount;

import io.c9fs.fuse.Attr;
import io.c9fs.fuse.AttrOut;
import io.c9fs.fuse.CreateOut;
import io.c9fs.fuse.DirFiller;
import io.c9fs.fuse.DirPlusFiller;
import io.c9fs.fuse.EntryOut;
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
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Rread;
import io.c9fs.transport.proto.Message.Rstat;
import io.c9fs.transport.proto.Message.Rwalk;
import io.c9fs.transport.proto.Qid;
import io.c9fs.transport.proto.Stat;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A FUSE filesystem on a 9P2000 or 9P2000.u server, with the operations those dialects have:
 * Twalk/Tstat for names and attributes, Topen/Tcreate/Tread/Twrite for data, Twstat for chmod,
 * truncate, mtime and same-directory rename, Tremove, directories read as stat entries, and in
 * 9P2000.u symlinks and device files (Tcreate extensions).
 *
 * <p>What these dialects cannot do comes back as an honest errno: hard links, rename across
 * directories (EXDEV: mv copies instead), atime, ownership by number in plain 9P2000 (EPERM),
 * xattrs and locks (ENOSYS: the kernel then keeps locks local to this mount), statfs (zeros),
 * fsync (writes are already on the server when they are answered). Numeric owners come from
 * 9P2000.u's n_uid/n_gid; plain 9P2000 has only names, shown as the mounting user.
 *
 * <p>Identity and caching are as in {@link NinepFilesystem}: {@link NodeTable} nodes by qid.path,
 * one opened fid per handle, {@link CachePolicy} for timeouts and keep-cache at open.
 *
 * <p>Threads: any worker, concurrently. Locks: only the {@link NodeTable} monitor (a leaf) and the
 * concurrent maps; no lock is held across a 9P exchange.
 */
public final class LegacyFilesystem implements FuseFilesystem {
    // 9P2000 open modes (open(5))
    private static final int OREAD = 0;
    private static final int OWRITE = 1;
    private static final int ORDWR = 2;
    private static final int OTRUNC = 0x10;

    private static final int O_ACCMODE = 03;
    private static final int O_TRUNC = 01000;
    private static final int S_IFMT = 0170000;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFLNK = 0120000;
    private static final int S_IFIFO = 0010000;
    private static final int S_IFSOCK = 0140000;
    private static final int S_IFCHR = 0020000;
    private static final int S_IFBLK = 0060000;
    /** Entries whose fids are walked concurrently per step of a READDIRPLUS. */
    private static final int READDIRPLUS_GROUP = 64;

    private final NinepSession client;
    /** st_blksize of every file: {@link Attrs#ioBlksize} of the connection's iounit. */
    private final int blksize;
    private final int rootFid;
    /** The root's attributes as last fetched, for umount(8) during an outage (see NinepFilesystem). */
    private volatile Attr rootAttr;
    private final Rpc rpc;
    private final FidReaper reaper;
    private final NodeTable nodes;
    private final CachePolicy policy;
    private final boolean unix;
    private final int ownerUid;
    private final int ownerGid;
    private final ConcurrentMap<Long, OpenHandle> handles = new ConcurrentHashMap<>();
    /** Directory handles' listings, read whole at offset 0 (9P2000 only reads directories onward). */
    private final ConcurrentMap<Long, List<Stat>> listings = new ConcurrentHashMap<>();
    private final AtomicLong nextFh = new AtomicLong(1);

    /**
     * @param client         a 9P2000 or 9P2000.u connection with {@code rootFid} attached
     * @param ownerUid       shown as the owner of files whose numeric owner the server does not say
     * @param ownerGid       likewise for the group
     * @param requestTimeout bound on one 9P exchange
     */
    public LegacyFilesystem(NinepSession client, int rootFid, Qid rootQid, CachePolicy policy, int ownerUid,
                            int ownerGid, Duration requestTimeout) {
        if (client.dialect().isLinux()) {
            throw new IllegalArgumentException("9P2000.L connections belong to NinepFilesystem");
        }
        this.client = client;
        this.blksize = Attrs.ioBlksize(client.iounit());
        this.rootFid = rootFid;
        this.rpc = new Rpc(client, requestTimeout);
        this.reaper = new FidReaper(rpc, requestTimeout);
        this.nodes = new NodeTable(rootQid, rootFid, rpc::clunk, reaper::retire);
        this.policy = policy;
        this.unix = client.dialect() == Dialect.P9P2000_U;
        this.ownerUid = ownerUid;
        this.ownerGid = ownerGid;
    }

    @Override
    public void init(FuseSession session) {
        try {
            rootAttr = attr(client.call(new Message.Tstat(rootFid), Rstat.class).stat());
        } catch (NinepException | RuntimeException e) {
            // Learnt at the root's first GETATTR instead.
        }
    }

    @Override
    public void destroy() {
        reaper.close();
        for (OpenHandle h : handles.values()) {
            if (handles.remove(h.fh, h)) {
                rpc.clunk(h.fid);
            }
        }
        nodes.clear();
    }

    // ------------------------------------------------------------------ names and attributes

    @Override
    public EntryOut lookup(FuseRequest r, long parent, String name) throws FuseException {
        try {
            return walk(r, nodes.get(parent), name);
        } catch (FuseException e) {
            if (e.errno() == Errno.ENOENT && policy.negativeTimeoutNanos() > 0) {
                return new EntryOut(0, 0, policy.negativeTimeoutNanos(), 0,
                        new Attr(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
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
        boolean root = nodeid == NodeTable.ROOT;
        Attr last = rootAttr;
        if (root && last != null && !client.isOpen()) {
            return new AttrOut(0, last); // not kept: asked again once the server is back
        }
        OpenHandle h = fh == -1 ? null : handles.get(fh);
        Attr a = attr(stat(r, h != null && h.node == node ? h.fid : node.fid));
        if (root) {
            rootAttr = a;
        }
        return new AttrOut(policy.attrTimeoutNanos(), a);
    }

    @Override
    public AttrOut setattr(FuseRequest r, long nodeid, SetattrIn in) throws FuseException {
        Node node = nodes.get(nodeid);
        OpenHandle h = in.has(SetattrIn.FATTR_FH) ? handles.get(in.fh()) : null;
        int fid = h != null && h.node == node ? h.fid : node.fid;
        if ((in.has(SetattrIn.FATTR_UID) || in.has(SetattrIn.FATTR_GID)) && !unix) {
            throw new FuseException(Errno.EPERM, "9P2000 names owners, it has no numbers to set");
        }
        Stat now = stat(r, fid);
        Stat d = Stat.dontTouch();
        // wstat(5): the directory bit cannot change, so a new mode carries the old type bits.
        int mode = in.has(SetattrIn.FATTR_MODE) ? (now.mode() & ~0777) | (in.mode() & 0777) : d.mode();
        long length = in.has(SetattrIn.FATTR_SIZE) ? in.size() : d.length();
        int mtime = d.mtime();
        if (in.has(SetattrIn.FATTR_MTIME)) {
            mtime = (int) (in.has(SetattrIn.FATTR_MTIME_NOW) ? System.currentTimeMillis() / 1000 : in.mtimeSec());
        }
        int nUid = in.has(SetattrIn.FATTR_UID) ? in.uid() : d.nUid();
        int nGid = in.has(SetattrIn.FATTR_GID) ? in.gid() : d.nGid();
        Stat change = new Stat(d.type(), d.dev(), d.qid(), mode, d.atime(), mtime, length, d.name(), d.uid(),
                d.gid(), d.muid(), d.extension(), nUid, nGid, d.nMuid());
        if (!change.equals(d)) {
            rpc.call(r, new Message.Twstat(fid, change), Message.Rwstat.class);
        }
        return new AttrOut(policy.attrTimeoutNanos(), attr(stat(r, fid)));
    }

    @Override
    public String readlink(FuseRequest r, long nodeid) throws FuseException {
        Stat s = stat(r, nodes.get(nodeid).fid);
        if ((s.mode() & Stat.DMSYMLINK) == 0) {
            throw new FuseException(Errno.EINVAL);
        }
        return s.extension();
    }

    @Override
    public EntryOut symlink(FuseRequest r, long parent, String name, String target) throws FuseException {
        requireUnix("symlinks");
        return createSpecial(r, nodes.get(parent), name, Stat.DMSYMLINK | 0777, target);
    }

    @Override
    public EntryOut mknod(FuseRequest r, long parent, String name, int mode, int rdev, int umask)
            throws FuseException {
        Node dir = nodes.get(parent);
        int perm = mode & 0777 & ~umask;
        switch (mode & S_IFMT) {
            case S_IFREG:
                return createSpecial(r, dir, name, perm, "");
            case S_IFIFO:
                requireUnix("named pipes");
                return createSpecial(r, dir, name, Stat.DMNAMEDPIPE | perm, "");
            case S_IFSOCK:
                requireUnix("sockets");
                return createSpecial(r, dir, name, Stat.DMSOCKET | perm, "");
            case S_IFCHR:
            case S_IFBLK:
                requireUnix("device files");
                String dev = ((mode & S_IFMT) == S_IFBLK ? "b " : "c ") + Attrs.major(rdev) + " " + Attrs.minor(rdev);
                return createSpecial(r, dir, name, Stat.DMDEVICE | perm, dev);
            default:
                throw new FuseException(Errno.EINVAL);
        }
    }

    @Override
    public EntryOut mkdir(FuseRequest r, long parent, String name, int mode, int umask) throws FuseException {
        return createSpecial(r, nodes.get(parent), name, Stat.DMDIR | (mode & 0777 & ~umask), "");
    }

    /** Tcreate, then clunk the opened result and walk a fid of our own to it. */
    private EntryOut createSpecial(FuseRequest r, Node dir, String name, int perm, String extension)
            throws FuseException {
        int fid = rpc.clone(r, dir.fid);
        try {
            rpc.call(r, new Message.Tcreate(fid, name, perm, OREAD, extension), Message.Rcreate.class);
        } finally {
            rpc.clunk(fid);
        }
        return walk(r, dir, name);
    }

    @Override
    public void unlink(FuseRequest r, long parent, String name) throws FuseException {
        remove(r, nodes.get(parent), name);
    }

    @Override
    public void rmdir(FuseRequest r, long parent, String name) throws FuseException {
        remove(r, nodes.get(parent), name);
    }

    private void remove(FuseRequest r, Node dir, String name) throws FuseException {
        int fid = rpc.walk(r, dir.fid, name);
        // Tremove clunks the fid whatever the outcome (remove(5)).
        try {
            rpc.call(r, new Message.Tremove(fid), Message.Rremove.class);
        } catch (FuseException e) {
            rpc.abandon(fid, e);
            throw e;
        }
        client.freeFid(fid);
    }

    @Override
    public void rename(FuseRequest r, long parent, String name, long newParent, String newName, int flags)
            throws FuseException {
        if (parent != newParent) {
            // wstat(5) renames within a directory only; EXDEV makes mv copy and remove instead.
            throw new FuseException(Errno.EXDEV, "9P2000 renames within one directory");
        }
        if ((flags & RENAME_EXCHANGE) != 0) {
            throw new FuseException(Errno.EINVAL, "no RENAME_EXCHANGE in 9P2000");
        }
        Node dir = nodes.get(parent);
        int fid = rpc.walk(r, dir.fid, name);
        try {
            if (rpc.exists(r, dir.fid, newName)) {
                if ((flags & RENAME_NOREPLACE) != 0) {
                    throw new FuseException(Errno.EEXIST);
                }
                // rename(2) replaces the target; wstat refuses to, so remove it first (not atomic).
                remove(r, dir, newName);
            }
            Stat d = Stat.dontTouch();
            Stat change = new Stat(d.type(), d.dev(), d.qid(), d.mode(), d.atime(), d.mtime(), d.length(), newName,
                    d.uid(), d.gid(), d.muid(), d.extension(), d.nUid(), d.nGid(), d.nMuid());
            rpc.call(r, new Message.Twstat(fid, change), Message.Rwstat.class);
        } finally {
            rpc.clunk(fid);
        }
    }


    @Override
    public EntryOut link(FuseRequest r, long nodeid, long newParent, String newName) throws FuseException {
        throw new FuseException(Errno.EPERM, "no hard links in 9P2000");
    }

    // ------------------------------------------------------------------ files

    @Override
    public OpenOut open(FuseRequest r, long nodeid, int flags) throws FuseException {
        Node node = nodes.get(nodeid);
        OpenHandle h = openFid(r, node, openMode(flags));
        Stat s;
        try {
            s = stat(r, h.fid);
        } catch (FuseException e) {
            close(h);
            throw e;
        }
        boolean keep = policy.keepCacheOnOpen(nodeid, stampOf(s));
        return new OpenOut(h.fh, keep ? OpenOut.FOPEN_KEEP_CACHE : 0);
    }

    @Override
    public CreateOut create(FuseRequest r, long parent, String name, int flags, int mode, int umask)
            throws FuseException {
        Node dir = nodes.get(parent);
        int fid = rpc.clone(r, dir.fid);
        Message.Rcreate c;
        EntryOut entry;
        try {
            c = rpc.call(r, new Message.Tcreate(fid, name, mode & 0777 & ~umask, openMode(flags), ""),
                    Message.Rcreate.class);
            entry = walk(r, dir, name);
        } catch (FuseException e) {
            rpc.clunk(fid);
            throw e;
        }
        OpenHandle h = register(nodes.get(entry.nodeid()), fid, c.iounit());
        policy.keepCacheOnOpen(entry.nodeid(), new FileStamp(0, c.qid().version(), entry.attr().mtimeSec(), 0,
                entry.attr().size()));
        return new CreateOut(entry, new OpenOut(h.fh, 0));
    }

    @Override
    public int read(FuseRequest r, long nodeid, long fh, long offset, int size, ByteBuffer dst)
            throws FuseException {
        OpenHandle h = handle(fh);
        return DataPath.read(rpc, r, h.fid, h.chunk, offset, size, dst);
    }

    @Override
    public int write(FuseRequest r, long nodeid, long fh, long offset, ByteBuffer src, int writeFlags)
            throws FuseException {
        OpenHandle h = handle(fh);
        return DataPath.write(rpc, r, h.fid, h.chunk, offset, src);
    }

    @Override
    public void flush(FuseRequest r, long nodeid, long fh, long lockOwner) {
        // Writes are on the server once answered; 9P2000 has nothing to flush.
    }

    @Override
    public void release(FuseRequest r, long nodeid, long fh, int flags, long lockOwner) {
        OpenHandle h = handles.remove(fh);
        if (h != null) {
            close(h);
        }
    }

    @Override
    public void fsync(FuseRequest r, long nodeid, long fh, boolean datasync) {
        // No Tfsync before 9P2000.L: a write is as durable as the server makes it when answered.
    }

    // ------------------------------------------------------------------ directories

    @Override
    public OpenOut opendir(FuseRequest r, long nodeid, int flags) throws FuseException {
        OpenHandle h = openFid(r, nodes.get(nodeid), OREAD);
        return new OpenOut(h.fh, 0);
    }

    @Override
    public void readdir(FuseRequest r, long nodeid, long fh, long offset, DirFiller out) throws FuseException {
        List<Stat> all = listing(r, handle(fh), offset);
        for (int i = (int) offset; i < all.size(); i++) {
            Stat s = all.get(i);
            if (!out.add(s.name(), s.qid().path(), (attr(s).mode() & S_IFMT) >>> 12, i + 1)) {
                return;
            }
        }
    }

    @Override
    public void readdirplus(FuseRequest r, long nodeid, long fh, long offset, DirPlusFiller out)
            throws FuseException {
        OpenHandle h = handle(fh);
        List<Stat> all = listing(r, h, offset);
        for (int from = (int) offset; from < all.size(); from += READDIRPLUS_GROUP) {
            List<Stat> group = all.subList(from, Math.min(all.size(), from + READDIRPLUS_GROUP));
            // The stats came with the listing; only the nodes' fids cost round trips, overlapped.
            List<CompletableFuture<Node>> walks = new ArrayList<>(group.size());
            for (Stat s : group) {
                walks.add(walkAsync(h.node, s));
            }
            List<EntryOut> entries = new ArrayList<>(group.size());
            FuseException failure = null;
            for (int i = 0; i < group.size(); i++) {
                Node n = null;
                try {
                    n = rpc.await(null, walks.get(i));
                } catch (FuseException e) {
                    failure = failure == null ? e : failure;
                }
                Stat s = group.get(i);
                entries.add(n == null ? new EntryOut(0, 0, 0, 0, attr(s)) : entry(n, s));
            }
            if (failure == null && r.interrupted()) {
                failure = new FuseException(Errno.EINTR);
            }
            for (int i = 0; i < entries.size(); i++) {
                if (failure != null || !out.add(group.get(i).name(), entries.get(i), from + i + 1)) {
                    // Entries the kernel did not take hold references it will never return.
                    for (int j = i; j < entries.size(); j++) {
                        forget(entries.get(j).nodeid(), 1);
                    }
                    if (failure != null) {
                        throw failure;
                    }
                    return;
                }
            }
        }
    }

    /** Walks to a listed name and takes a reference on its node; null if the name went away. */
    private CompletableFuture<Node> walkAsync(Node dir, Stat s) {
        long epoch = nodes.epoch();
        int fid = client.allocFid();
        return rpc.send(new Message.Twalk(dir.fid, fid, List.of(s.name())), Rwalk.class).handle((w, err) -> {
            if (err != null) {
                rpc.abandon(fid, Rpc.error(err));
                return null;
            }
            if (w.wqids().size() != 1) {
                client.freeFid(fid);
                return null;
            }
            return nodes.link(dir.nodeid, s.name(), w.wqids().get(0), fid, epoch);
        });
    }

    /** The whole listing of a directory handle, read afresh when the kernel starts over at 0. */
    private List<Stat> listing(FuseRequest r, OpenHandle h, long offset) throws FuseException {
        List<Stat> all = listings.get(h.fh);
        if (all != null && offset != 0) {
            return all;
        }
        all = new ArrayList<>();
        long pos = 0;
        while (true) {
            Rread rr = rpc.call(r, new Message.Tread(h.fid, pos, h.chunk), Rread.class);
            try {
                int n = rr.data().readableBytes();
                if (n == 0) {
                    break;
                }
                DirStats.decode(rr.data(), unix, all);
                pos += n;
            } finally {
                rr.release();
            }
        }
        listings.put(h.fh, all);
        return all;
    }

    @Override
    public void releasedir(FuseRequest r, long nodeid, long fh) {
        listings.remove(fh);
        OpenHandle h = handles.remove(fh);
        if (h != null) {
            close(h);
        }
    }

    @Override
    public void fsyncdir(FuseRequest r, long nodeid, long fh, boolean datasync) {
    }

    @Override
    public StatfsOut statfs(FuseRequest r, long nodeid) {
        // 9P2000 cannot ask: report a filesystem of unknown size rather than fail df(1).
        return new StatfsOut(0, 0, 0, 0, 0, 4096, 255, 4096);
    }

    @Override
    public void access(FuseRequest r, long nodeid, int mask) throws FuseException {
        Attr a = attr(stat(r, nodes.get(nodeid).fid));
        if (mask == 0) {
            return;
        }
        int granted;
        if (r.uid() == 0) {
            granted = 6 | ((a.mode() & S_IFMT) == S_IFDIR || (a.mode() & 0111) != 0 ? 1 : 0);
        } else if (r.uid() == a.uid()) {
            granted = (a.mode() >> 6) & 7;
        } else if (r.gid() == a.gid()) {
            granted = (a.mode() >> 3) & 7;
        } else {
            granted = a.mode() & 7;
        }
        if ((mask & 7 & ~granted) != 0) {
            throw new FuseException(Errno.EACCES);
        }
    }

    // ------------------------------------------------------------------ fids, stats, handles

    private EntryOut walk(FuseRequest r, Node dir, String name) throws FuseException {
        int fid = rpc.walk(r, dir.fid, name);
        Stat s;
        try {
            s = stat(r, fid);
        } catch (FuseException e) {
            rpc.clunk(fid);
            throw e;
        }
        return entry(nodes.link(dir.nodeid, name, s.qid(), fid, nodes.epoch()), s);
    }

    private EntryOut entry(Node node, Stat s) {
        return new EntryOut(node.nodeid, 0, policy.entryTimeoutNanos(), policy.attrTimeoutNanos(), attr(s));
    }

    private Stat stat(FuseRequest r, int fid) throws FuseException {
        return rpc.call(r, new Message.Tstat(fid), Rstat.class).stat();
    }



    private OpenHandle openFid(FuseRequest r, Node node, int mode) throws FuseException {
        int fid = rpc.clone(r, node.fid);
        Message.Ropen o;
        try {
            o = rpc.call(r, new Message.Topen(fid, mode), Message.Ropen.class);
        } catch (FuseException e) {
            rpc.clunk(fid);
            throw e;
        }
        return register(node, fid, o.iounit());
    }

    private OpenHandle register(Node node, int fid, int iounit) {
        int max = client.msize() - Message.IOHDRSZ;
        OpenHandle h = new OpenHandle(nextFh.getAndIncrement(), node, fid, iounit > 0 ? Math.min(iounit, max) : max);
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

    private void close(OpenHandle h) {
        handles.remove(h.fh, h);
        try {
            rpc.await(null, rpc.send(new Message.Tclunk(h.fid), Message.Rclunk.class));
        } catch (FuseException e) {
            rpc.abandon(h.fid, e);
            return;
        }
        client.freeFid(h.fid);
    }

    private void requireUnix(String what) throws FuseException {
        if (!unix) {
            throw new FuseException(Errno.EPERM, "9P2000 has no " + what + " (9P2000.u has)");
        }
    }

    private static int openMode(int flags) {
        int acc = flags & O_ACCMODE;
        int mode = acc == 1 ? OWRITE : acc == 2 ? ORDWR : OREAD;
        return (flags & O_TRUNC) != 0 ? mode | OTRUNC : mode;
    }

    private static FileStamp stampOf(Stat s) {
        return new FileStamp(0, s.qid().version(), Integer.toUnsignedLong(s.mtime()), 0, s.length());
    }

    /** Kernel attributes from a 9P2000(.u) stat. */
    Attr attr(Stat s) {
        int m = s.mode();
        int type;
        int rdev = 0;
        if ((m & Stat.DMDIR) != 0) {
            type = S_IFDIR;
        } else if ((m & Stat.DMSYMLINK) != 0) {
            type = S_IFLNK;
        } else if ((m & Stat.DMNAMEDPIPE) != 0) {
            type = S_IFIFO;
        } else if ((m & Stat.DMSOCKET) != 0) {
            type = S_IFSOCK;
        } else if ((m & Stat.DMDEVICE) != 0) {
            String[] dev = s.extension().split(" ");
            type = dev[0].equals("b") ? S_IFBLK : S_IFCHR;
            if (dev.length == 3) {
                try {
                    int major = Integer.parseInt(dev[1]);
                    int minor = Integer.parseInt(dev[2]);
                    rdev = (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
                } catch (NumberFormatException e) {
                    rdev = 0;
                }
            }
        } else {
            type = S_IFREG;
        }
        int perm = (m & 0777) | ((m & Stat.DMSETUID) != 0 ? 04000 : 0) | ((m & Stat.DMSETGID) != 0 ? 02000 : 0);
        int uid = s.nUid() != Stat.NONUNAME ? s.nUid() : ownerUid;
        int gid = s.nGid() != Stat.NONUNAME ? s.nGid() : ownerGid;
        long mtime = Integer.toUnsignedLong(s.mtime());
        return new Attr(s.qid().path(), s.length(), (s.length() + 511) / 512, Integer.toUnsignedLong(s.atime()), 0,
                mtime, 0, mtime, 0, type | perm, type == S_IFDIR ? 2 : 1, uid, gid, rdev, blksize);
    }
}
