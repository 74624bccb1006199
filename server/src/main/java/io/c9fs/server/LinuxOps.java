package io.c9fs.server;

import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Dirent;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Rfsync;
import io.c9fs.transport.proto.Message.Rgetattr;
import io.c9fs.transport.proto.Message.Rgetlock;
import io.c9fs.transport.proto.Message.Rlcreate;
import io.c9fs.transport.proto.Message.Rlink;
import io.c9fs.transport.proto.Message.Rlock;
import io.c9fs.transport.proto.Message.Rlopen;
import io.c9fs.transport.proto.Message.Rmkdir;
import io.c9fs.transport.proto.Message.Rmknod;
import io.c9fs.transport.proto.Message.Rreaddir;
import io.c9fs.transport.proto.Message.Rreadlink;
import io.c9fs.transport.proto.Message.Rrename;
import io.c9fs.transport.proto.Message.Rrenameat;
import io.c9fs.transport.proto.Message.Rsetattr;
import io.c9fs.transport.proto.Message.Rstatfs;
import io.c9fs.transport.proto.Message.Rsymlink;
import io.c9fs.transport.proto.Message.Runlinkat;
import io.c9fs.transport.proto.Message.Rxattrcreate;
import io.c9fs.transport.proto.Message.Rxattrwalk;
import io.c9fs.transport.proto.Message.Tfsync;
import io.c9fs.transport.proto.Message.Tgetattr;
import io.c9fs.transport.proto.Message.Tgetlock;
import io.c9fs.transport.proto.Message.Tlcreate;
import io.c9fs.transport.proto.Message.Tlink;
import io.c9fs.transport.proto.Message.Tlock;
import io.c9fs.transport.proto.Message.Tlopen;
import io.c9fs.transport.proto.Message.Tmkdir;
import io.c9fs.transport.proto.Message.Tmknod;
import io.c9fs.transport.proto.Message.Treaddir;
import io.c9fs.transport.proto.Message.Treadlink;
import io.c9fs.transport.proto.Message.Trename;
import io.c9fs.transport.proto.Message.Trenameat;
import io.c9fs.transport.proto.Message.Tsetattr;
import io.c9fs.transport.proto.Message.Tstatfs;
import io.c9fs.transport.proto.Message.Tsymlink;
import io.c9fs.transport.proto.Message.Tunlinkat;
import io.c9fs.transport.proto.Message.Txattrcreate;
import io.c9fs.transport.proto.Message.Txattrwalk;
import io.c9fs.transport.proto.Qid;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The 9P2000.L requests (Linux v9fs, diod's tools): lopen/lcreate with Linux open flags,
 * getattr/setattr, readdir with the filesystem's own cookies, xattrs, OFD byte-range locks,
 * and the *at forms of link, mkdir, rename and unlink.
 *
 * <p>Locks: Tlock maps to an open-file-description lock (F_OFD_SETLK) on the fid's descriptor, so
 * locks conflict across fids, across clients and with local processes, and vanish when the fid is
 * clunked or the connection drops. A conflicting request, blocking or not, is answered BLOCKED:
 * v9fs retries a blocking request itself, and the server never parks a worker on a lock. Grace
 * and reclaims ({@link LockTable}): during grace only reclaims are granted (others get GRACE); a
 * reclaim is refused (ERROR) when a conflicting lock was granted since its owner's connection
 * vanished.
 *
 * <p>Threading: as {@link Session}: called on worker threads, one request per primary fid at once.
 */
final class LinuxOps {
    /** Open flags a client may pass through; the rest (O_CREAT, O_PATH, O_NOFOLLOW...) are ours to set. */
    private static final int PASSED_FLAGS = Posix.O_ACCMODE | Posix.O_APPEND | Posix.O_TRUNC
            | Posix.O_DSYNC | Posix.O_SYNC | Posix.O_EXCL;

    private final Session s;

    LinuxOps(Session s) {
        this.s = s;
    }

    static int primaryFid(Message m, int otherwise) {
        if (m instanceof Tlopen t) {
            return t.fid();
        } else if (m instanceof Tgetattr t) {
            return t.fid();
        } else if (m instanceof Treaddir t) {
            return t.fid();
        } else if (m instanceof Message.Treaddirattr t) {
            return t.fid();
        } else if (m instanceof Tsetattr t) {
            return t.fid();
        } else if (m instanceof Tlcreate t) {
            return t.fid();
        } else if (m instanceof Message.Tlcreateattr t) {
            // The new fid: a Tlease of it sent right behind is served after it.
            return t.fid();
        } else if (m instanceof Tfsync t) {
            return t.fid();
        } else if (m instanceof Tlock t) {
            return t.fid();
        } else if (m instanceof Tgetlock t) {
            return t.fid();
        } else if (m instanceof Txattrwalk t) {
            return t.fid();
        } else if (m instanceof Txattrcreate t) {
            return t.fid();
        } else if (m instanceof Trename t) {
            return t.fid();
        } else if (m instanceof Treadlink t) {
            return t.fid();
        } else if (m instanceof Tstatfs t) {
            return t.fid();
        }
        return otherwise;
    }

    /** The answer to a 9P2000.L request, or null if it is not one. */
    Message execute(Message t, Changes ch) throws ErrnoException {
        if (t instanceof Tgetattr m) {
            return getattr(m);
        } else if (t instanceof Tlopen m) {
            return lopen(m, ch);
        } else if (t instanceof Treaddir m) {
            return readdir(m);
        } else if (t instanceof Message.Treaddirattr m) {
            return readdirattr(m);
        } else if (t instanceof Tlcreate m) {
            return lcreate(m, ch);
        } else if (t instanceof Message.Tlcreateattr m) {
            return lcreateattr(m, ch);
        } else if (t instanceof Tsetattr m) {
            return setattr(m, ch);
        } else if (t instanceof Tmkdir m) {
            return mkdir(m, ch);
        } else if (t instanceof Tunlinkat m) {
            return unlinkat(m, ch);
        } else if (t instanceof Trenameat m) {
            return renameat(m, ch);
        } else if (t instanceof Trename m) {
            return rename(m, ch);
        } else if (t instanceof Tsymlink m) {
            return symlink(m, ch);
        } else if (t instanceof Treadlink m) {
            return readlink(m);
        } else if (t instanceof Tmknod m) {
            return mknod(m, ch);
        } else if (t instanceof Tlink m) {
            return link(m, ch);
        } else if (t instanceof Tfsync m) {
            return fsync(m);
        } else if (t instanceof Tstatfs m) {
            return statfs(m);
        } else if (t instanceof Tlock m) {
            return lock(m);
        } else if (t instanceof Tgetlock m) {
            return getlock(m);
        } else if (t instanceof Txattrwalk m) {
            return xattrwalk(m);
        } else if (t instanceof Txattrcreate m) {
            return xattrcreate(m);
        }
        return null;
    }

    private Message getattr(Tgetattr t) throws ErrnoException {
        return attrs(s, s.fileFid(t.fid()));
    }

    private static Rgetattr attrs(Session s, Fid f) throws ErrnoException {
        return attrs(s, f, Posix.fstat(f.handle.fd()));
    }

    private static Rgetattr attrs(Session s, Fid f, HostStat st) {
        return new Rgetattr(Rgetattr.BASIC, s.export.qid(st, f.node), st.mode(), st.uid(),
                st.gid(), st.nlink(), st.rdev(), st.size(), st.blksize(), st.blocks(),
                st.atimeSec(), st.atimeNsec(), st.mtimeSec(), st.mtimeNsec(),
                st.ctimeSec(), st.ctimeNsec(), 0, 0, 0, 0);
    }

    private Message lopen(Tlopen t, Changes ch) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        return new Rlopen(open(s, f, t.flags() & PASSED_FLAGS & ~Posix.O_EXCL, ch), 0);
    }

    /**
     * Opens a file fid for I/O with Linux open flags, through the handle's magic link (the file
     * the fid already names, no new lookup). Shared by 9P2000's Topen.
     */
    static Qid open(Session s, Fid f, int flags, Changes ch) throws ErrnoException {
        if (f.isOpen()) {
            throw new ErrnoException(Errno.EBADF, "fid already open");
        }
        HostStat st = Posix.fstat(f.handle.fd());
        if (st.isSymlink()) {
            throw new ErrnoException(Errno.ELOOP, "open of a symlink");
        }
        int acc = flags & Posix.O_ACCMODE;
        if (acc != Posix.O_RDONLY || (flags & Posix.O_TRUNC) != 0) {
            s.export.checkWritable();
        }
        if (st.isDir()) {
            if (acc != Posix.O_RDONLY) {
                throw new ErrnoException(Errno.EISDIR, "directory opened for writing");
            }
            flags = Posix.O_RDONLY | Posix.O_DIRECTORY;
        } else if (st.fileType() == HostStat.S_IFIFO) {
            // A fifo's open blocks until the other end shows up: never park a worker on it.
            flags |= Posix.O_NONBLOCK;
        }
        boolean trunc = (flags & Posix.O_TRUNC) != 0;
        if (trunc) {
            f.node.changing();
        }
        int fd;
        try {
            fd = Posix.reopen(f.handle.fd(), flags | Posix.O_CLOEXEC);
        } catch (ErrnoException e) {
            if (trunc) {
                f.node.changeFailed();
            }
            throw e;
        }
        f.ioFd = fd;
        f.openFlags = flags;
        f.node.opened(s.owner);
        if (st.isDir()) {
            f.dir = new DirCursor(fd, Math.min(s.msize, 1 << 16));
        }
        if (trunc) {
            f.node.mutated(s.owner);
            s.changed(f.node, fd);
            ch.data(f.node.qidPath(), 0, 0);
            st = Posix.fstat(fd);
        }
        return s.export.qid(st, f.node);
    }

    private Message readdir(Treaddir t) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        if (f.dir == null) {
            throw new ErrnoException(f.isOpen() ? Errno.ENOTDIR : Errno.EBADF, "readdir");
        }
        int room = Math.min(t.count(), s.msize - Message.IOHDRSZ);
        List<Dirent> out = new ArrayList<>();
        List<DirCursor.Entry> batch = f.dir.read(t.offset());
        fill:
        while (!batch.isEmpty()) {
            for (DirCursor.Entry e : batch) {
                Dirent d = dirent(f, e);
                if (d.encodedSize() > room) {
                    break fill;
                }
                room -= d.encodedSize();
                out.add(d);
            }
            batch = f.dir.next();
        }
        return new Rreaddir(out);
    }

    /**
     * Treaddirattr (9P2000.L.c9 only: no other codec decodes it): the entries of Treaddir, each
     * with what fstatat on the directory's descriptor says of its name and whether it has ACLs.
     * Every name comes from getdents of that very directory and is one component, so these
     * lookups stay beneath the export as openat2 would keep them. A name gone between getdents
     * and fstatat is left out (its offset is still passed, so the next call resumes after it).
     */
    private Message readdirattr(Message.Treaddirattr t) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        if (f.dir == null) {
            throw new ErrnoException(f.isOpen() ? Errno.ENOTDIR : Errno.EBADF, "readdirattr");
        }
        int room = Math.min(t.count(), s.msize - Message.IOHDRSZ);
        int dirfd = f.handle.fd();
        List<Message.AttrDirent> out = new ArrayList<>();
        List<DirCursor.Entry> batch = f.dir.read(t.offset());
        fill:
        while (!batch.isEmpty()) {
            for (DirCursor.Entry e : batch) {
                Message.AttrDirent a = attrDirent(f, e, dirfd);
                if (a == null) {
                    continue;
                }
                if (a.encodedSize() > room) {
                    if ((a.flags() & Message.AttrDirent.LEASED) != 0) {
                        s.leases().unlist(s.holder, a.attr().qid().path(), 1);
                    }
                    break fill;
                }
                room -= a.encodedSize();
                out.add(a);
            }
            batch = f.dir.next();
        }
        return new Message.Rreaddirattr(out);
    }

    private Message.AttrDirent attrDirent(Fid f, DirCursor.Entry e, int dirfd) {
        HostStat st;
        String name = e.name();
        boolean leased = false;
        try {
            if (name.equals(".")) {
                st = Posix.fstat(dirfd);
            } else if (name.equals("..")) {
                // The root's parent lies outside the export: the root stands for it, as in walks.
                PathHandle p = f.handle.parent();
                st = p == null ? Posix.fstat(dirfd) : Posix.fstat(p.fd());
            } else if (s.holder == null) {
                st = Posix.fstatat(dirfd, name, Posix.AT_SYMLINK_NOFOLLOW);
            } else {
                // Leased before the stat, so that any change after the stat is recalled; by the
                // qid.path getdents implies, and again by the stat's if they differ (a mount point).
                long guess = s.export.direntQid(e.ino(), f.handle.stat().dev(), e.type()).path();
                leased = s.leases().list(s.holder, guess);
                try {
                    st = Posix.fstatat(dirfd, name, Posix.AT_SYMLINK_NOFOLLOW);
                    long real = s.export.qidPath(st);
                    if (real != guess) {
                        if (leased) {
                            s.leases().unlist(s.holder, guess, 1);
                        }
                        leased = s.leases().list(s.holder, real);
                        st = Posix.fstatat(dirfd, name, Posix.AT_SYMLINK_NOFOLLOW);
                        if (s.export.qidPath(st) != real) {
                            if (leased) {
                                s.leases().unlist(s.holder, real, 1);
                            }
                            leased = false;
                        }
                    }
                } catch (ErrnoException x) {
                    if (leased) {
                        s.leases().unlist(s.holder, guess, 1);
                    }
                    throw x;
                }
            }
        } catch (ErrnoException x) {
            return null;
        }
        Qid qid = s.export.qid(st, s.export.nodes().peek(s.export.qidPath(st)));
        Dirent d = new Dirent(new Qid(qid.type(), 0, qid.path()), e.off(), e.type(), name);
        int flags = leased ? Message.AttrDirent.LEASED : 0;
        if (!st.isSymlink() && !name.equals(".") && !name.equals("..")) {
            flags |= Posix.hasXattrAt(dirfd, name, "system.posix_acl_access") ? Message.AttrDirent.HAS_ACL_ACCESS : 0;
            if (st.isDir()) {
                flags |= Posix.hasXattrAt(dirfd, name, "system.posix_acl_default") ? Message.AttrDirent.HAS_ACL_DEFAULT : 0;
            }
        }
        Rgetattr a = new Rgetattr(Rgetattr.BASIC, qid, st.mode(), st.uid(),
                st.gid(), st.nlink(), st.rdev(), st.size(), st.blksize(), st.blocks(),
                st.atimeSec(), st.atimeNsec(), st.mtimeSec(), st.mtimeNsec(),
                st.ctimeSec(), st.ctimeNsec(), 0, 0, 0, 0);
        return new Message.AttrDirent(d, flags, a);
    }

    private Dirent dirent(Fid f, DirCursor.Entry e) {
        PathHandle dir = f.handle;
        Qid qid;
        if (e.name().equals("..") && dir.parent() == null) {
            // The root's parent lies outside the export: show the root itself, as ".." walks do.
            qid = s.export.qid(dir.stat(), null);
        } else {
            qid = s.export.direntQid(e.ino(), dir.stat().dev(), e.type());
        }
        return new Dirent(qid, e.off(), e.type(), e.name());
    }

    private Message lcreate(Tlcreate t, Changes ch) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        if (f.isOpen()) {
            throw new ErrnoException(Errno.EBADF, "fid already open");
        }
        s.export.checkWritable();
        int flags = (t.flags() & PASSED_FLAGS) | Posix.O_CREAT;
        Qid qid = create(s, f, t.name(), flags, t.mode() & 07777, t.gid(), ch);
        return new Rlcreate(qid, 0);
    }

    /**
     * Tlcreateattr (9P2000.L.c9 only): a clone of {@code dfid} that Tlcreate turns into the new
     * file, open; a second fid walked to the file, not opened; its attributes. What a mount's
     * CREATE needs, in one exchange instead of a clone, the create, a walk and a getattr. Neither
     * fid is installed unless everything succeeded; a file created before a later step failed
     * stays, as after a Tlcreate whose walk fails.
     */
    private Message lcreateattr(Message.Tlcreateattr t, Changes ch) throws ErrnoException {
        if (t.fid() == t.dfid() || t.nodefid() == t.dfid() || t.fid() == t.nodefid()) {
            throw new ErrnoException(Errno.EINVAL, "Tlcreateattr needs three distinct fids");
        }
        Fid dir = s.fileFid(t.dfid());
        if (dir.isOpen()) {
            throw new ErrnoException(Errno.EBADF, "directory fid is open");
        }
        if (s.peekFid(t.fid()) != null || s.peekFid(t.nodefid()) != null) {
            throw new ErrnoException(Errno.EBADF, "fid in use");
        }
        s.export.checkWritable();
        PathHandle d = s.borrow(t.dfid());
        Fid f = new Fid(t.fid(), Fid.Kind.FILE, d, s.acquireNode(d), dir.uid);
        Fid n = null;
        try {
            int flags = (t.flags() & PASSED_FLAGS) | Posix.O_CREAT;
            Qid qid = create(s, f, t.name(), flags, t.mode() & 07777, t.gid(), ch);
            PathHandle h = f.handle.retain();
            n = new Fid(t.nodefid(), Fid.Kind.FILE, h, s.acquireNode(h), dir.uid);
            // The stat the create just took: nothing changed the new file since.
            Rgetattr a = attrs(s, f, f.handle.stat());
            s.install(f, null);
            try {
                s.install(n, null);
            } catch (ErrnoException e) {
                s.dropFid(t.fid());
                f = null;
                throw e;
            }
            return new Message.Rlcreateattr(qid, 0, a);
        } catch (ErrnoException | RuntimeException e) {
            if (f != null && s.peekFid(t.fid()) != f) {
                s.releaseFid(f);
            }
            if (n != null && s.peekFid(t.nodefid()) != n) {
                s.releaseFid(n);
            }
            throw e;
        }
    }

    /**
     * Creates and opens a regular file in the directory fid {@code f}, which then names the new
     * file, open (lcreate(5), and 9P2000 create of a file).
     */
    static Qid create(Session s, Fid f, String name, int flags, int mode, int gid, Changes ch)
            throws ErrnoException {
        int fd = s.changeEntry(ch, f.handle, name,
                () -> s.export.openBeneath(f.handle, name, flags | Posix.O_CLOEXEC, mode));
        PathHandle created;
        // Pinned from creation until the fid holds it, so that the chown below is recorded on
        // the node the fid will have.
        FileNode node;
        HostStat opened;
        try {
            opened = Posix.fstat(fd);
            node = s.export.nodes().acquire(s.export.qidPath(opened));
        } catch (ErrnoException e) {
            Posix.close(fd);
            throw e;
        }
        try {
            try {
                int pathFd = Posix.reopen(fd, Posix.O_PATH | Posix.O_CLOEXEC);
                try {
                    HostStat st = chown(s, f, node, pathFd, gid, opened);
                    created = new PathHandle(pathFd, f.handle.retain(), name, st);
                } catch (ErrnoException e) {
                    Posix.close(pathFd);
                    throw e;
                }
            } catch (ErrnoException e) {
                Posix.close(fd);
                throw e;
            }
            s.rebind(f, created);
        } finally {
            s.export.nodes().release(node);
        }
        f.ioFd = fd;
        f.openFlags = flags & ~(Posix.O_CREAT | Posix.O_EXCL | Posix.O_TRUNC);
        f.node.opened(s.owner);
        return s.export.qid(created.stat(), f.node);
    }

    /**
     * Gives a new file ({@code st}: its stat at the open) to the attaching user and the requested
     * group, when we may, and returns its stat now. The change is
     * bracketed on the file's node, so that the inotify event it causes is known as the server's
     * own and not recalled from the creator as a local change.
     */
    private static HostStat chown(Session s, Fid f, FileNode node, int pathFd, int gid, HostStat st)
            throws ErrnoException {
        int uid = Session.ownerFor(f.uid);
        if (uid == -1 || (st.uid() == uid && st.gid() == gid)) {
            // Already theirs (root creating as root, the common case): a chown would only move
            // ctime and wake the local-change watcher for nothing; the stat taken at the open
            // is still the file's.
            return st;
        }
        node.changing();
        try {
            Posix.fchownat(pathFd, "", uid, gid, Posix.AT_EMPTY_PATH | Posix.AT_SYMLINK_NOFOLLOW);
        } finally {
            s.changed(node, pathFd);
        }
        return Posix.fstat(pathFd);
    }

    private Message setattr(Tsetattr t, Changes ch) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        s.export.checkWritable();
        PathHandle h = f.handle;
        HostStat st = Posix.fstat(h.fd());
        int valid = t.valid();
        boolean link = st.isSymlink();
        String path = Posix.procPath(h.fd());
        f.node.changing();
        try {
            if ((valid & Tsetattr.MODE) != 0) {
                if (link) {
                    throw new ErrnoException(Errno.EOPNOTSUPP, "chmod of a symlink");
                }
                Posix.fchmodat(Posix.AT_FDCWD, path, t.mode() & 07777);
            }
            if ((valid & (Tsetattr.UID | Tsetattr.GID)) != 0) {
                Posix.fchownat(h.fd(), "", (valid & Tsetattr.UID) != 0 ? t.uid() : -1,
                        (valid & Tsetattr.GID) != 0 ? t.gid() : -1,
                        Posix.AT_EMPTY_PATH | Posix.AT_SYMLINK_NOFOLLOW);
            }
            if ((valid & Tsetattr.SIZE) != 0) {
                if (!st.isRegular()) {
                    throw new ErrnoException(st.isDir() ? Errno.EISDIR : Errno.EINVAL, "truncate");
                }
                Posix.truncate(path, t.size());
            }
            if ((valid & (Tsetattr.ATIME | Tsetattr.MTIME)) != 0) {
                long aNsec = (valid & Tsetattr.ATIME) == 0 ? Posix.UTIME_OMIT
                        : (valid & Tsetattr.ATIME_SET) != 0 ? t.atimeNsec() : Posix.UTIME_NOW;
                long mNsec = (valid & Tsetattr.MTIME) == 0 ? Posix.UTIME_OMIT
                        : (valid & Tsetattr.MTIME_SET) != 0 ? t.mtimeNsec() : Posix.UTIME_NOW;
                if (link) {
                    h.checkName();
                    Posix.utimensat(h.parent().fd(), h.name(), t.atimeSec(), aNsec, t.mtimeSec(),
                            mNsec, Posix.AT_SYMLINK_NOFOLLOW);
                } else {
                    Posix.utimensat(Posix.AT_FDCWD, path, t.atimeSec(), aNsec, t.mtimeSec(),
                            mNsec, 0);
                }
            }
        } finally {
            f.node.mutated(s.owner);
            s.changed(f.node, h.fd());
            // A size change recalls data (which voids the cached size with the pages); the rest
            // are attributes.
            if ((valid & Tsetattr.SIZE) != 0) {
                ch.data(f.node.qidPath(), 0, 0);
            }
            if ((valid & (Tsetattr.MODE | Tsetattr.UID | Tsetattr.GID | Tsetattr.ATIME | Tsetattr.MTIME)) != 0) {
                ch.attr(f.node.qidPath());
            }
        }
        return new Rsetattr();
    }

    private Message mkdir(Tmkdir t, Changes ch) throws ErrnoException {
        s.export.checkWritable();
        Export.checkName(t.name());
        PathHandle dir = s.borrow(t.dfid());
        try {
            s.changeEntry(ch, dir, t.name(), () -> {
                Posix.mkdirat(dir.fd(), t.name(), t.mode() & 07777);
                return null;
            });
            return new Rmkdir(newQid(t.dfid(), dir, t.name(), t.gid()));
        } finally {
            dir.release();
        }
    }

    /** The qid of a name just created in {@code dir} by fid {@code by}, after giving it to its owner. */
    private Qid newQid(int by, PathHandle dir, String name, int gid) throws ErrnoException {
        PathHandle h = s.export.step(dir, name);
        try {
            int uid = Session.ownerFor(s.fid(by).uid);
            HostStat st = Posix.fstat(h.fd());
            if (uid != -1 && (st.uid() != uid || st.gid() != gid)) {
                Posix.fchownat(h.fd(), "", uid, gid, Posix.AT_EMPTY_PATH | Posix.AT_SYMLINK_NOFOLLOW);
                st = Posix.fstat(h.fd());
            }
            return s.export.qid(st, null);
        } finally {
            h.release();
        }
    }

    private Message unlinkat(Tunlinkat t, Changes ch) throws ErrnoException {
        s.export.checkWritable();
        Export.checkName(t.name());
        PathHandle dir = s.borrow(t.dirfid());
        try {
            HostStat st = Posix.fstatat(dir.fd(), t.name(), Posix.AT_SYMLINK_NOFOLLOW);
            s.changeEntry(ch, dir, t.name(), () -> {
                Posix.unlinkat(dir.fd(), t.name(), t.flags() & Posix.AT_REMOVEDIR);
                return null;
            });
            s.attrChanged(st, ch);
            return new Runlinkat();
        } finally {
            dir.release();
        }
    }

    private Message renameat(Trenameat t, Changes ch) throws ErrnoException {
        s.export.checkWritable();
        Export.checkName(t.oldname());
        Export.checkName(t.newname());
        PathHandle from = s.borrow(t.olddirfid());
        try {
            PathHandle to = s.borrow(t.newdirfid());
            try {
                HostStat st = Posix.fstatat(from.fd(), t.oldname(), Posix.AT_SYMLINK_NOFOLLOW);
                HostStat replaced = existing(to, t.newname());
                s.changeEntries(ch, from, t.oldname(), to, t.newname(), () -> {
                    Posix.renameat(from.fd(), t.oldname(), to.fd(), t.newname());
                    return null;
                });
                s.attrChanged(st, ch);
                if (replaced != null && !replaced.sameFile(st)) {
                    s.attrChanged(replaced, ch);
                }
                return new Rrenameat();
            } finally {
                to.release();
            }
        } finally {
            from.release();
        }
    }

    /** The file {@code name} in {@code dir} names now, or null: what a rename would replace. */
    private static HostStat existing(PathHandle dir, String name) {
        try {
            return Posix.fstatat(dir.fd(), name, Posix.AT_SYMLINK_NOFOLLOW);
        } catch (ErrnoException e) {
            return null;
        }
    }

    private Message rename(Trename t, Changes ch) throws ErrnoException {
        s.export.checkWritable();
        Export.checkName(t.name());
        Fid f = s.fileFid(t.fid());
        PathHandle to = s.borrow(t.dfid());
        try {
            renameFid(s, f, to, t.name(), ch);
            return new Rrename();
        } finally {
            to.release();
        }
    }

    /** Moves the file fid {@code f} names to {@code name} in {@code to}; the fid follows it. */
    static void renameFid(Session s, Fid f, PathHandle to, String name, Changes ch)
            throws ErrnoException {
        PathHandle h = f.handle;
        h.checkName();
        HostStat replaced = existing(to, name);
        s.changeEntries(ch, h.parent(), h.name(), to, name, () -> {
            Posix.renameat(h.parent().fd(), h.name(), to.fd(), name);
            return null;
        });
        s.attrChanged(h, ch);
        if (replaced != null && !replaced.sameFile(h.stat())) {
            s.attrChanged(replaced, ch);
        }
        int fd = Posix.dup(h.fd());
        s.rebind(f, new PathHandle(fd, to.retain(), name, h.stat()));
    }

    private Message symlink(Tsymlink t, Changes ch) throws ErrnoException {
        s.export.checkWritable();
        Export.checkName(t.name());
        PathHandle dir = s.borrow(t.fid());
        try {
            s.changeEntry(ch, dir, t.name(), () -> {
                Posix.symlinkat(t.symtgt(), dir.fd(), t.name());
                return null;
            });
            return new Rsymlink(newQid(t.fid(), dir, t.name(), t.gid()));
        } finally {
            dir.release();
        }
    }

    private Message readlink(Treadlink t) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        if (!f.handle.stat().isSymlink()) {
            throw new ErrnoException(Errno.EINVAL, "not a symlink");
        }
        return new Rreadlink(Posix.readlinkat(f.handle.fd(), ""));
    }

    private Message mknod(Tmknod t, Changes ch) throws ErrnoException {
        s.export.checkWritable();
        Export.checkName(t.name());
        int type = t.mode() & HostStat.S_IFMT;
        if (type != HostStat.S_IFIFO && type != HostStat.S_IFSOCK && type != HostStat.S_IFREG
                && type != 0) {
            // Device nodes would hand clients the server's devices.
            throw new ErrnoException(Errno.EPERM, "device nodes are not served");
        }
        PathHandle dir = s.borrow(t.dfid());
        try {
            s.changeEntry(ch, dir, t.name(), () -> {
                Posix.mknodat(dir.fd(), t.name(), t.mode() & (HostStat.S_IFMT | 07777), 0);
                return null;
            });
            return new Rmknod(newQid(t.dfid(), dir, t.name(), t.gid()));
        } finally {
            dir.release();
        }
    }

    private Message link(Tlink t, Changes ch) throws ErrnoException {
        s.export.checkWritable();
        Export.checkName(t.name());
        PathHandle dir = s.borrow(t.dfid());
        try {
            PathHandle target = s.borrow(t.fid());
            try {
                s.changeEntry(ch, dir, t.name(), () -> {
                    link(target, dir, t.name());
                    return null;
                });
                s.attrChanged(target, ch);
                return new Rlink();
            } finally {
                target.release();
            }
        } finally {
            dir.release();
        }
    }

    /**
     * Links the file a handle holds, never what a path names now: AT_EMPTY_PATH when we have
     * CAP_DAC_READ_SEARCH, else the descriptor's magic link (which ends on the same inode).
     */
    static void link(PathHandle target, PathHandle dir, String name) throws ErrnoException {
        try {
            Posix.linkat(target.fd(), "", dir.fd(), name, Posix.AT_EMPTY_PATH);
        } catch (ErrnoException e) {
            if (e.errno() != Errno.ENOENT) {
                throw e;
            }
            Posix.linkat(Posix.AT_FDCWD, Posix.procPath(target.fd()), dir.fd(), name,
                    Posix.AT_SYMLINK_FOLLOW);
        }
    }

    private Message fsync(Tfsync t) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        if (f.isOpen()) {
            Posix.fsync(f.ioFd, t.datasync() != 0);
        } else {
            int fd = Posix.reopen(f.handle.fd(), Posix.O_RDONLY | Posix.O_CLOEXEC);
            try {
                Posix.fsync(fd, t.datasync() != 0);
            } finally {
                Posix.close(fd);
            }
        }
        return new Rfsync();
    }

    private Message statfs(Tstatfs t) throws ErrnoException {
        PathHandle h = s.borrow(t.fid());
        try {
            ByteBuffer b = Posix.fstatfs(h.fd());
            long fsid = (b.getInt(56) & 0xFFFFFFFFL) | ((long) b.getInt(60) << 32);
            return new Rstatfs((int) b.getLong(0), (int) b.getLong(8), b.getLong(16),
                    b.getLong(24), b.getLong(32), b.getLong(40), b.getLong(48), fsid,
                    (int) b.getLong(64));
        } finally {
            h.release();
        }
    }

    private Message lock(Tlock t) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        if (!f.isOpen()) {
            throw new ErrnoException(Errno.EBADF, "lock on an unopened fid");
        }
        short type = lockType(t.lockType());
        LockTable table = s.locks();
        if (!table.mayLock(t)) {
            return new Rlock(Rlock.GRACE);
        }
        long path = f.node.qidPath();
        LockTable.Range range = new LockTable.Range(t.lockType(), t.start(),
                LockTable.end(t.start(), t.length()), new LockTable.Owner(t.clientId(), t.procId()));
        boolean reclaim = (t.flags() & Tlock.FLAGS_RECLAIM) != 0 && t.lockType() != Tlock.UNLCK;
        if (reclaim && table.heldByOwnerElsewhere(path, range.owner(), t.lockType(), range.start(),
                range.end(), s.owner)) {
            // The owner's old connection still holds it: not yet seen dead (keepalive, frame
            // timeout). Retry once it is dropped and its locks are on record.
            return new Rlock(Rlock.GRACE);
        }
        if (reclaim && !table.reclaim(path, range.owner(), range.start(), range.end())) {
            // Another client held a conflicting lock since this one's connection vanished: the
            // range may have changed under the lock the client believes it still holds.
            return new Rlock(Rlock.ERROR);
        }
        try {
            Posix.ofdLock(f.ioFd, Posix.F_OFD_SETLK, type, t.start(), t.length());
        } catch (ErrnoException e) {
            if (e.errno() == Errno.EAGAIN || e.errno() == Errno.EACCES) {
                if (reclaim) {
                    // A reclaim that finds the range taken has lost it: waiting would not give it back.
                    table.reclaimed(false);
                    return new Rlock(Rlock.ERROR);
                }
                return new Rlock(Rlock.BLOCKED);
            }
            throw e;
        }
        if (reclaim) {
            table.reclaimed(true);
        }
        table.granted(path, range);
        s.lockApplied(f, range);
        return new Rlock(Rlock.SUCCESS);
    }

    private Message getlock(Tgetlock t) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        if (!f.isOpen()) {
            throw new ErrnoException(Errno.EBADF, "getlock on an unopened fid");
        }
        long[] held = Posix.ofdLock(f.ioFd, Posix.F_OFD_GETLK, lockType(t.lockType()),
                t.start(), t.length());
        if (held == null) {
            return new Rgetlock(Tlock.UNLCK, t.start(), t.length(), t.procId(), t.clientId());
        }
        // OFD locks have no owning process: report none, as a local F_OFD_GETLK does (l_pid -1).
        return new Rgetlock((int) held[0], held[1], held[2], -1, "");
    }

    private static short lockType(int type) throws ErrnoException {
        switch (type) {
            case Tlock.RDLCK:
                return Posix.F_RDLCK;
            case Tlock.WRLCK:
                return Posix.F_WRLCK;
            case Tlock.UNLCK:
                return Posix.F_UNLCK;
            default:
                throw new ErrnoException(Errno.EINVAL, "lock type " + type);
        }
    }

    private Message xattrwalk(Txattrwalk t) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        String path = Posix.procPath(f.handle.fd());
        byte[] value;
        if (f.handle.stat().isSymlink()) {
            // The magic link would lead through the symlink; user xattrs cannot be on one anyway.
            throw new ErrnoException(Errno.ENODATA, "no xattrs on symlinks");
        }
        if (t.name().isEmpty()) {
            int n = Posix.listxattr(path, null);
            ByteBuffer b = ByteBuffer.allocateDirect(Math.max(n, 1));
            n = Posix.listxattr(path, b);
            value = new byte[n];
            b.get(0, value);
        } else {
            int n = Posix.getxattr(path, t.name(), null);
            ByteBuffer b = ByteBuffer.allocateDirect(Math.max(n, 1));
            n = Posix.getxattr(path, t.name(), b);
            value = new byte[n];
            b.get(0, value);
        }
        PathHandle h = s.borrow(t.fid());
        Fid x = new Fid(t.newfid(), Fid.Kind.XATTR_READ, h, null, f.uid);
        x.xattrValue = value;
        if (t.newfid() == t.fid()) {
            s.install(x, f);
        } else {
            s.installOrRelease(x);
        }
        return new Rxattrwalk(value.length);
    }

    private Message xattrcreate(Txattrcreate t) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        s.export.checkWritable();
        Session.checkXattrSize(t.attrSize());
        if (f.handle.stat().isSymlink()) {
            throw new ErrnoException(Errno.EPERM, "no xattrs on symlinks");
        }
        PathHandle h = s.borrow(t.fid());
        Fid x = new Fid(t.fid(), Fid.Kind.XATTR_WRITE, h, s.acquireNode(h), f.uid);
        x.xattrName = t.name();
        x.xattrSize = t.attrSize();
        x.xattrFlags = t.flags() & (Posix.XATTR_CREATE | Posix.XATTR_REPLACE);
        x.written = new ByteArrayOutputStream();
        s.install(x, f);
        return new Rxattrcreate();
    }
}
