package io.c9fs.server;

import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Dialect;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Rcreate;
import io.c9fs.transport.proto.Message.Ropen;
import io.c9fs.transport.proto.Message.Rread;
import io.c9fs.transport.proto.Message.Rstat;
import io.c9fs.transport.proto.Message.Rwstat;
import io.c9fs.transport.proto.Message.Tcreate;
import io.c9fs.transport.proto.Message.Topen;
import io.c9fs.transport.proto.Message.Tstat;
import io.c9fs.transport.proto.Message.Twstat;
import io.c9fs.transport.proto.Qid;
import io.c9fs.transport.proto.Stat;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * The 9P2000 and 9P2000.u requests: open and create with Plan 9 modes (OTRUNC, ORCLOSE, DMDIR
 * creation with the directory's permissions as a mask), stat and wstat (a name change renames
 * within the directory; an all-"don't touch" wstat is a sync), and directory reads as a stream
 * of stat records. 9P2000.u adds numeric ids, symlinks, fifos and sockets through
 * Tcreate's extension.
 *
 * <p>Threading: as {@link Session}: called on worker threads, one request per primary fid at once.
 */
final class ClassicOps {
    private static final int OWRITE = 1, ORDWR = 2, ORCLOSE = 0x40;
    static final int OTRUNC = 0x10;

    private final Session s;
    private final boolean dotu;

    ClassicOps(Session s) {
        this.s = s;
        this.dotu = s.dialect == Dialect.P9P2000_U;
    }

    static int primaryFid(Message m) {
        if (m instanceof Topen t) {
            return t.fid();
        } else if (m instanceof Tcreate t) {
            return t.fid();
        } else if (m instanceof Tstat t) {
            return t.fid();
        } else if (m instanceof Twstat t) {
            return t.fid();
        }
        return Message.NOFID;
    }

    /** The answer to a 9P2000/.u request, or null if it is not one. */
    Message execute(Message t, Changes ch) throws ErrnoException {
        if (t instanceof Tstat m) {
            Fid f = s.fileFid(m.fid());
            return new Rstat(stat(f.handle, Posix.fstat(f.handle.fd()), f.node));
        } else if (t instanceof Topen m) {
            return open(m, ch);
        } else if (t instanceof Tcreate m) {
            return create(m, ch);
        } else if (t instanceof Twstat m) {
            return wstat(m, ch);
        }
        return null;
    }

    private static int flags(int mode) {
        int acc = mode & 3;
        int flags = acc == OWRITE ? Posix.O_WRONLY : acc == ORDWR ? Posix.O_RDWR : Posix.O_RDONLY;
        return (mode & OTRUNC) != 0 ? flags | Posix.O_TRUNC : flags;
    }

    private Message open(Topen t, Changes ch) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        if ((t.mode() & ORCLOSE) != 0) {
            s.export.checkWritable();
        }
        Qid qid = LinuxOps.open(s, f, flags(t.mode()), ch);
        f.removeOnClunk = (t.mode() & ORCLOSE) != 0;
        return new Ropen(qid, 0);
    }

    private Message create(Tcreate t, Changes ch) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        if (f.isOpen()) {
            throw new ErrnoException(Errno.EBADF, "fid already open");
        }
        s.export.checkWritable();
        Export.checkName(t.name());
        PathHandle dir = f.handle;
        HostStat dst = Posix.fstat(dir.fd());
        if (!dst.isDir()) {
            throw new ErrnoException(Errno.ENOTDIR, "create in a non-directory");
        }
        int perm = t.perm();
        Qid qid;
        if ((perm & Stat.DMDIR) != 0) {
            // create(5): a directory gets perm & (~0777 | (dir.perm & 0777)).
            s.changeEntry(ch, dir, t.name(), () -> {
                Posix.mkdirat(dir.fd(), t.name(), perm & dst.mode() & 0777);
                return null;
            });
            qid = special(f, dir, t.name(), t.mode(), ch);
        } else if (dotu && (perm & Stat.DMSYMLINK) != 0) {
            s.changeEntry(ch, dir, t.name(), () -> {
                Posix.symlinkat(t.extension(), dir.fd(), t.name());
                return null;
            });
            qid = special(f, dir, t.name(), -1, ch);
        } else if (dotu && (perm & (Stat.DMNAMEDPIPE | Stat.DMSOCKET)) != 0) {
            int type = (perm & Stat.DMNAMEDPIPE) != 0 ? HostStat.S_IFIFO : HostStat.S_IFSOCK;
            s.changeEntry(ch, dir, t.name(), () -> {
                Posix.mknodat(dir.fd(), t.name(), type | (perm & dst.mode() & 0666), 0);
                return null;
            });
            qid = special(f, dir, t.name(), -1, ch);
        } else if ((perm & (Stat.DMDEVICE | Stat.DMAUTH | Stat.DMMOUNT)) != 0) {
            throw new ErrnoException(Errno.EPERM, "cannot create that kind of file");
        } else {
            // A file gets perm & (~0666 | (dir.perm & 0666)).
            int mode = perm & (~0666 | (dst.mode() & 0666)) & 0777;
            qid = LinuxOps.create(s, f, t.name(), Posix.O_CREAT | Posix.O_EXCL | flags(t.mode()),
                    mode, -1, ch);
        }
        f.removeOnClunk = (t.mode() & ORCLOSE) != 0;
        return new Rcreate(qid, 0);
    }

    /** Points the fid at a just-created non-regular file and opens it unless {@code mode} is -1. */
    private Qid special(Fid f, PathHandle dir, String name, int mode, Changes ch)
            throws ErrnoException {
        PathHandle h = s.export.step(dir, name);
        s.rebind(f, h);
        int uid = Session.ownerFor(f.uid);
        if (uid != -1) {
            Posix.fchownat(h.fd(), "", uid, -1, Posix.AT_EMPTY_PATH | Posix.AT_SYMLINK_NOFOLLOW);
        }
        if (mode != -1) {
            return LinuxOps.open(s, f, flags(mode), ch);
        }
        return s.export.qid(Posix.fstat(h.fd()), f.node);
    }

    /** The stat(5) of a host file; numeric ids stand in for user names. */
    Stat stat(PathHandle h, HostStat st, FileNode node) throws ErrnoException {
        int mode = st.mode() & 0777;
        String ext = "";
        switch (st.fileType()) {
            case HostStat.S_IFDIR:
                mode |= Stat.DMDIR;
                break;
            case HostStat.S_IFLNK:
                mode |= dotu ? Stat.DMSYMLINK : 0;
                ext = dotu ? Posix.readlinkat(h.fd(), "") : "";
                break;
            case HostStat.S_IFIFO:
                mode |= dotu ? Stat.DMNAMEDPIPE : 0;
                break;
            case HostStat.S_IFSOCK:
                mode |= dotu ? Stat.DMSOCKET : 0;
                break;
            case HostStat.S_IFCHR:
            case HostStat.S_IFBLK:
                mode |= dotu ? Stat.DMDEVICE : 0;
                ext = String.format("%c %d %d", st.fileType() == HostStat.S_IFCHR ? 'c' : 'b',
                        (st.rdev() >>> 8) & 0xFFF, (st.rdev() & 0xFF) | ((st.rdev() >>> 12) & ~0xFF));
                break;
            default:
                break;
        }
        if (dotu && (st.mode() & 04000) != 0) {
            mode |= Stat.DMSETUID;
        }
        if (dotu && (st.mode() & 02000) != 0) {
            mode |= Stat.DMSETGID;
        }
        String name = h.parent() == null ? "/" : h.name();
        return new Stat(0, 0, s.export.qid(st, node), mode, (int) st.atimeSec(),
                (int) st.mtimeSec(), st.isDir() ? 0 : st.size(), name,
                Integer.toString(st.uid()), Integer.toString(st.gid()), "", ext,
                dotu ? st.uid() : Stat.NONUNAME, dotu ? st.gid() : Stat.NONUNAME, Stat.NONUNAME);
    }

    private Message wstat(Twstat t, Changes ch) throws ErrnoException {
        Fid f = s.fileFid(t.fid());
        Stat w = t.stat();
        PathHandle h = f.handle;
        HostStat st = Posix.fstat(h.fd());
        boolean rename = !w.name().isEmpty() && !w.name().equals(h.name());
        int gid = wantedGid(w);
        boolean any = rename || w.mode() != -1 || w.mtime() != -1 || w.atime() != -1
                || w.length() != -1 || gid != -1;
        if (!any) {
            // wstat(5): a wstat of nothing but "don't touch" asks for the file to be committed.
            if (f.isOpen()) {
                Posix.fsync(f.ioFd, false);
            }
            return new Rwstat();
        }
        s.export.checkWritable();
        if (w.mode() != -1 && ((w.mode() & Stat.DMDIR) != 0) != st.isDir()) {
            throw new ErrnoException(Errno.EINVAL, "wstat cannot change DMDIR");
        }
        if (rename) {
            Export.checkName(w.name());
            if (h.parent() == null) {
                throw new ErrnoException(Errno.EBUSY, "cannot rename the root");
            }
        }
        String path = Posix.procPath(h.fd());
        f.node.changing();
        try {
            if (w.length() != -1) {
                if (!st.isRegular()) {
                    throw new ErrnoException(Errno.EINVAL, "length of a non-file");
                }
                Posix.truncate(path, w.length());
            }
            if (w.mode() != -1 && !st.isSymlink()) {
                int perm = w.mode() & 0777;
                perm |= (w.mode() & Stat.DMSETUID) != 0 && dotu ? 04000 : 0;
                perm |= (w.mode() & Stat.DMSETGID) != 0 && dotu ? 02000 : 0;
                Posix.fchmodat(Posix.AT_FDCWD, path, perm);
            }
            if ((w.mtime() != -1 || w.atime() != -1) && !st.isSymlink()) {
                Posix.utimensat(Posix.AT_FDCWD, path,
                        Integer.toUnsignedLong(w.atime()), w.atime() == -1 ? Posix.UTIME_OMIT : 0,
                        Integer.toUnsignedLong(w.mtime()), w.mtime() == -1 ? Posix.UTIME_OMIT : 0, 0);
            }
            if (gid != -1) {
                Posix.fchownat(h.fd(), "", -1, gid, Posix.AT_EMPTY_PATH | Posix.AT_SYMLINK_NOFOLLOW);
            }
            if (rename) {
                LinuxOps.renameFid(s, f, h.parent(), w.name(), ch);
            }
        } finally {
            f.node.mutated(s.owner);
            // f.handle, not h: a rename moved the fid to a new handle and may have closed h.
            s.changed(f.node, f.handle.fd());
            if (w.length() != -1) {
                ch.data(f.node.qidPath(), 0, 0);
            }
            if (w.mode() != -1 || w.mtime() != -1 || w.atime() != -1 || gid != -1) {
                ch.attr(f.node.qidPath());
            }
        }
        return new Rwstat();
    }

    /** The group a wstat asks for: 9P2000.u's number, or a numeric group string; -1 for none. */
    private int wantedGid(Stat w) throws ErrnoException {
        if (dotu && w.nGid() != Stat.NONUNAME) {
            return w.nGid();
        }
        if (w.gid().isEmpty()) {
            return -1;
        }
        try {
            return Integer.parseInt(w.gid());
        } catch (NumberFormatException e) {
            throw new ErrnoException(Errno.EPERM, "unknown group " + w.gid());
        }
    }

    /**
     * A directory read (read(5)): whole stat records, from offset 0 or where the previous read of
     * this fid ended; entries that do not fit wait for the next read.
     */
    Message readDir(Fid f, long offset, int count) throws ErrnoException {
        DirCursor c = f.dir;
        if (offset == 0) {
            c.seek(0);
            c.queued.clear();
            c.statStreamOffset = 0;
        } else if (offset != c.statStreamOffset) {
            throw new ErrnoException(Errno.EINVAL, "bad offset in directory read");
        }
        ByteBuf out = Unpooled.buffer(Math.min(count, 8192));
        try {
            while (true) {
                if (c.queued.isEmpty()) {
                    c.queued.addAll(c.next());
                    if (c.queued.isEmpty()) {
                        break;
                    }
                }
                DirCursor.Entry e = c.queued.peek();
                if (e.name().equals(".") || e.name().equals("..")) {
                    c.queued.poll();
                    continue;
                }
                Stat st;
                try {
                    PathHandle h = s.export.step(f.handle, e.name());
                    try {
                        st = stat(h, h.stat(), null);
                    } finally {
                        h.release();
                    }
                } catch (ErrnoException gone) {
                    c.queued.poll();
                    continue;
                }
                int n = StatEncoder.size(st, dotu);
                if (out.readableBytes() + n > count) {
                    if (out.readableBytes() == 0) {
                        throw new ErrnoException(Errno.EINVAL, "read count below one entry");
                    }
                    break;
                }
                StatEncoder.encode(st, dotu, out);
                c.queued.poll();
            }
            c.statStreamOffset += out.readableBytes();
            Rread r = new Rread(out);
            out = null;
            return r;
        } finally {
            if (out != null) {
                out.release();
            }
        }
    }
}
