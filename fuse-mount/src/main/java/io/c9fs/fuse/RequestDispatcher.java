package io.c9fs.fuse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;

/**
 * Decodes one request read from /dev/fuse, calls the {@link FuseFilesystem}, and writes the reply.
 * One instance per worker: it owns that worker's reply buffer, so it is confined to one thread.
 * Shared state is the in-flight table (a concurrent map) and the device.
 */
final class RequestDispatcher {
    private static final System.Logger LOG = System.getLogger(RequestDispatcher.class.getName());
    private static final int FUSE_GETATTR_FH = 1;
    private static final int FSYNC_FDATASYNC = 1;
    private static final int FUSE_LK_FLOCK = 1;

    private final FuseFilesystem fs;
    private final FuseDevice device;
    /** fuse_open_in.open_flags, fuse_create_in.open_flags: truncating for a caller without CAP_FSETID. */
    private static final int FUSE_OPEN_KILL_SUIDGID = 1;
    private final Map<Long, InflightRequest> inflight;
    private final Runnable destroy;
    private final ByteBuffer reply;

    RequestDispatcher(FuseFilesystem fs, FuseDevice device, Map<Long, InflightRequest> inflight, Runnable destroy,
                      int replyCapacity) {
        this.fs = fs;
        this.device = device;
        this.inflight = inflight;
        this.destroy = destroy;
        this.reply = ByteBuffer.allocateDirect(replyCapacity).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Serves the request in {@code req[0, len)}. Never throws: filesystem failures become error replies. */
    void serve(ByteBuffer req, int len) {
        int opcode = req.getInt(4);
        long unique = req.getLong(8);
        long nodeid = req.getLong(16);
        if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
            LOG.log(System.Logger.Level.DEBUG, "fuse <- unique " + unique + " opcode " + opcode + " nodeid " + nodeid
                    + " len " + len + " pid " + req.getInt(32));
        }
        switch (opcode) {
            case Opcode.FORGET:
                forget(nodeid, req.getLong(FuseWire.IN_HEADER));
                return;
            case Opcode.BATCH_FORGET:
                batchForget(req, len);
                return;
            case Opcode.INTERRUPT:
                interrupt(unique, req.getLong(FuseWire.IN_HEADER));
                return;
            default:
                break;
        }
        InflightRequest r = new InflightRequest(unique, req.getInt(24), req.getInt(28), req.getInt(32));
        inflight.put(unique, r);
        try {
            dispatch(opcode, r, nodeid, req, len);
        } catch (FuseException e) {
            // The kernel protocol: an interrupted request that fails is reported as EINTR.
            replyError(unique, r.interrupted() ? Errno.EINTR : e.errno());
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.ERROR, "opcode " + opcode + " on nodeid " + nodeid + " failed", t);
            replyError(unique, r.interrupted() ? Errno.EINTR : Errno.EIO);
        } finally {
            inflight.remove(unique);
        }
    }

    private void forget(long nodeid, long nlookup) {
        try {
            fs.forget(nodeid, nlookup);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "forget of nodeid " + nodeid + " failed", e);
        }
    }

    private void batchForget(ByteBuffer req, int len) {
        int count = req.getInt(FuseWire.IN_HEADER);
        int at = FuseWire.IN_HEADER + 8;
        for (int i = 0; i < count && at + 16 <= len; i++, at += 16) {
            forget(req.getLong(at), req.getLong(at + 8));
        }
    }

    /**
     * A target not (yet) in the table is either finished or still being registered by another
     * worker; EAGAIN makes the kernel requeue the INTERRUPT if the target is still pending.
     */
    private void interrupt(long unique, long target) {
        InflightRequest r = inflight.get(target);
        if (r == null) {
            replyError(unique, Errno.EAGAIN);
        } else {
            r.interrupt();
        }
    }

    private void dispatch(int opcode, InflightRequest r, long nodeid, ByteBuffer req, int len) throws FuseException {
        final int in = FuseWire.IN_HEADER;
        ByteBuffer out = begin();
        switch (opcode) {
            case Opcode.LOOKUP:
                FuseWire.putEntryOut(out, fs.lookup(r, nodeid, name(req, in, len)));
                break;
            case Opcode.GETATTR: {
                long fh = (req.getInt(in) & FUSE_GETATTR_FH) != 0 ? req.getLong(in + 8) : -1;
                FuseWire.putAttrOut(out, fs.getattr(r, nodeid, fh));
                break;
            }
            case Opcode.SETATTR:
                FuseWire.putAttrOut(out, fs.setattr(r, nodeid, setattrIn(req)));
                break;
            case Opcode.READLINK:
                out.put(FuseWire.bytes(fs.readlink(r, nodeid)));
                break;
            case Opcode.SYMLINK: {
                int end = nulOrFail(req, in, len);
                String target = name(req, end + 1, len);
                FuseWire.putEntryOut(out, fs.symlink(r, nodeid, FuseWire.string(req, in, end), target));
                break;
            }
            case Opcode.MKNOD:
                FuseWire.putEntryOut(out, fs.mknod(r, nodeid, name(req, in + 16, len), req.getInt(in),
                        req.getInt(in + 4), req.getInt(in + 8)));
                break;
            case Opcode.MKDIR:
                FuseWire.putEntryOut(out, fs.mkdir(r, nodeid, name(req, in + 8, len), req.getInt(in),
                        req.getInt(in + 4)));
                break;
            case Opcode.UNLINK:
                fs.unlink(r, nodeid, name(req, in, len));
                break;
            case Opcode.RMDIR:
                fs.rmdir(r, nodeid, name(req, in, len));
                break;
            case Opcode.RENAME:
                rename(r, nodeid, req, len, in + 8, 0);
                break;
            case Opcode.RENAME2:
                rename(r, nodeid, req, len, in + 16, req.getInt(in + 8));
                break;
            case Opcode.LINK:
                FuseWire.putEntryOut(out, fs.link(r, req.getLong(in), nodeid, name(req, in + 8, len)));
                break;
            case Opcode.OPEN:
                r.killSuidgid((req.getInt(in + 4) & FUSE_OPEN_KILL_SUIDGID) != 0);
                FuseWire.putOpenOut(out, fs.open(r, nodeid, req.getInt(in)));
                break;
            case Opcode.OPENDIR:
                FuseWire.putOpenOut(out, fs.opendir(r, nodeid, req.getInt(in)));
                break;
            case Opcode.CREATE: {
                r.killSuidgid((req.getInt(in + 12) & FUSE_OPEN_KILL_SUIDGID) != 0);
                CreateOut c = fs.create(r, nodeid, name(req, in + 16, len), req.getInt(in), req.getInt(in + 4),
                        req.getInt(in + 8));
                FuseWire.putEntryOut(out, c.entry());
                FuseWire.putOpenOut(out, c.open());
                break;
            }
            case Opcode.READ:
                read(r, nodeid, req, out);
                break;
            case Opcode.WRITE:
                write(r, nodeid, req, len, out);
                break;
            case Opcode.STATFS:
                statfs(fs.statfs(r, nodeid), out);
                break;
            case Opcode.FLUSH:
                fs.flush(r, nodeid, req.getLong(in), req.getLong(in + 16));
                break;
            case Opcode.RELEASE:
                fs.release(r, nodeid, req.getLong(in), req.getInt(in + 8), req.getLong(in + 16));
                break;
            case Opcode.RELEASEDIR:
                fs.releasedir(r, nodeid, req.getLong(in));
                break;
            case Opcode.FSYNC:
                fs.fsync(r, nodeid, req.getLong(in), (req.getInt(in + 8) & FSYNC_FDATASYNC) != 0);
                break;
            case Opcode.FSYNCDIR:
                fs.fsyncdir(r, nodeid, req.getLong(in), (req.getInt(in + 8) & FSYNC_FDATASYNC) != 0);
                break;
            case Opcode.READDIR:
                readdir(r, nodeid, req, out);
                break;
            case Opcode.READDIRPLUS:
                readdirplus(r, nodeid, req, out);
                break;
            case Opcode.ACCESS:
                fs.access(r, nodeid, req.getInt(in));
                break;
            case Opcode.SETXATTR:
                setxattr(r, nodeid, req, len);
                break;
            case Opcode.GETXATTR:
                sized(req.getInt(in), fs.getxattr(r, nodeid, name(req, in + 8, len)), out);
                break;
            case Opcode.LISTXATTR:
                sized(req.getInt(in), xattrNames(fs.listxattr(r, nodeid)), out);
                break;
            case Opcode.REMOVEXATTR:
                fs.removexattr(r, nodeid, name(req, in, len));
                break;
            case Opcode.GETLK:
                FuseWire.putLock(out, fs.getlk(r, nodeid, req.getLong(in), req.getLong(in + 8),
                        FuseWire.getLock(req, in + 16)));
                break;
            case Opcode.SETLK:
            case Opcode.SETLKW:
                if ((req.getInt(in + 40) & FUSE_LK_FLOCK) != 0) {
                    // FLOCK_LOCKS is never negotiated, so the kernel keeps flock() locks local.
                    throw new FuseException(Errno.ENOSYS);
                }
                fs.setlk(r, nodeid, req.getLong(in), req.getLong(in + 8), FuseWire.getLock(req, in + 16),
                        opcode == Opcode.SETLKW);
                break;
            case Opcode.LSEEK:
                out.putLong(fs.lseek(r, nodeid, req.getLong(in), req.getLong(in + 8), req.getInt(in + 16)));
                break;
            case Opcode.FALLOCATE:
                fs.fallocate(r, nodeid, req.getLong(in), req.getLong(in + 8), req.getLong(in + 16),
                        req.getInt(in + 24));
                break;
            case Opcode.DESTROY:
                destroy.run();
                break;
            case Opcode.IOCTL:
                // No ioctls are implemented; ENOTTY is what ioctl(2) reports for an unknown request.
                throw new FuseException(Errno.ENOTTY);
            default:
                throw new FuseException(Errno.ENOSYS);
        }
        send(r.unique(), out);
    }

    private void read(InflightRequest r, long nodeid, ByteBuffer req, ByteBuffer out) throws FuseException {
        int in = FuseWire.IN_HEADER;
        int size = Math.min(req.getInt(in + 16), out.remaining());
        ByteBuffer dst = out.slice(out.position(), size).order(ByteOrder.LITTLE_ENDIAN);
        int n = fs.read(r, nodeid, req.getLong(in), req.getLong(in + 8), size, dst);
        if (n < 0 || n > size) {
            throw new IllegalStateException("read returned " + n + " for a " + size + "-byte request");
        }
        out.position(out.position() + n);
    }

    private void write(InflightRequest r, long nodeid, ByteBuffer req, int len, ByteBuffer out)
            throws FuseException {
        int in = FuseWire.IN_HEADER;
        int size = req.getInt(in + 16);
        int data = in + 40;
        if (data + size > len) {
            throw new FuseException(Errno.EINVAL, "short WRITE request");
        }
        ByteBuffer src = req.slice(data, size).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        int n = fs.write(r, nodeid, req.getLong(in), req.getLong(in + 8), src, req.getInt(in + 20));
        if (n < 0 || n > size) {
            throw new IllegalStateException("write returned " + n + " for " + size + " bytes");
        }
        out.putInt(n).putInt(0);
    }

    private void readdir(InflightRequest r, long nodeid, ByteBuffer req, ByteBuffer out) throws FuseException {
        int in = FuseWire.IN_HEADER;
        int limit = out.position() + Math.min(req.getInt(in + 16), out.remaining());
        fs.readdir(r, nodeid, req.getLong(in), req.getLong(in + 8), (name, ino, dtype, next) -> {
            byte[] raw = FuseWire.bytes(name);
            if (out.position() + FuseWire.direntSize(raw.length) > limit) {
                return false;
            }
            FuseWire.putDirent(out, ino, next, dtype, raw);
            return true;
        });
    }

    /**
     * Every entry that was accepted took a kernel lookup reference in the filesystem's books, so if
     * the filesystem fails after accepting some, those entries are still sent rather than an error.
     */
    private void readdirplus(InflightRequest r, long nodeid, ByteBuffer req, ByteBuffer out) throws FuseException {
        int in = FuseWire.IN_HEADER;
        int start = out.position();
        int limit = start + Math.min(req.getInt(in + 16), out.remaining());
        try {
            fs.readdirplus(r, nodeid, req.getLong(in), req.getLong(in + 8), new DirPlusFiller() {
                @Override
                public boolean add(String name, EntryOut entry, long next) {
                    byte[] raw = FuseWire.bytes(name);
                    if (out.position() + FuseWire.ENTRY_OUT_SIZE + FuseWire.direntSize(raw.length) > limit) {
                        return false;
                    }
                    Attr attr = entry.attr();
                    // The kernel takes no reference for "." and ".."; sending nodeid 0 keeps the books equal.
                    boolean dots = name.equals(".") || name.equals("..");
                    FuseWire.putEntryOut(out, dots ? new EntryOut(0, 0, 0, 0, attr) : entry);
                    FuseWire.putDirent(out, attr == null ? entry.nodeid() : attr.ino(), next,
                            attr == null ? 0 : (attr.mode() >>> 12) & 15, raw);
                    return true;
                }

                @Override
                public int room() {
                    return limit - out.position();
                }
            });
        } catch (FuseException | RuntimeException e) {
            if (out.position() == start) {
                throw e;
            }
            LOG.log(System.Logger.Level.WARNING, "readdirplus of nodeid " + nodeid + " failed after "
                    + "some entries; sending those", e);
        }
    }

    private void rename(InflightRequest r, long nodeid, ByteBuffer req, int len, int names, int flags)
            throws FuseException {
        int end = nulOrFail(req, names, len);
        String newName = name(req, end + 1, len);
        fs.rename(r, nodeid, FuseWire.string(req, names, end), req.getLong(FuseWire.IN_HEADER), newName, flags);
    }

    /** struct fuse_setxattr_in in its short form (8 bytes): SETXATTR_EXT is not negotiated. */
    private void setxattr(InflightRequest r, long nodeid, ByteBuffer req, int len) throws FuseException {
        int in = FuseWire.IN_HEADER;
        int size = req.getInt(in);
        int end = nulOrFail(req, in + 8, len);
        if (end + 1 + size > len) {
            throw new FuseException(Errno.EINVAL, "short SETXATTR request");
        }
        byte[] value = new byte[size];
        req.get(end + 1, value);
        fs.setxattr(r, nodeid, FuseWire.string(req, in + 8, end), value, req.getInt(in + 4));
    }

    /** getxattr/listxattr reply: size 0 asks only for the length; a too-small buffer is ERANGE. */
    private static void sized(int size, byte[] value, ByteBuffer out) throws FuseException {
        if (size == 0) {
            out.putInt(value.length).putInt(0);
        } else if (value.length > size || value.length > out.remaining()) {
            throw new FuseException(Errno.ERANGE);
        } else {
            out.put(value);
        }
    }

    private static byte[] xattrNames(List<String> names) {
        ByteBuffer b = ByteBuffer.allocate(names.stream().mapToInt(n -> FuseWire.bytes(n).length + 1).sum());
        for (String n : names) {
            b.put(FuseWire.bytes(n)).put((byte) 0);
        }
        return b.array();
    }

    private static void statfs(StatfsOut s, ByteBuffer out) {
        out.putLong(s.blocks()).putLong(s.bfree()).putLong(s.bavail()).putLong(s.files()).putLong(s.ffree())
                .putInt(s.bsize()).putInt(s.namelen()).putInt(s.frsize()).putInt(0);
        out.put(new byte[24]);
    }

    private static SetattrIn setattrIn(ByteBuffer req) {
        int in = FuseWire.IN_HEADER;
        return new SetattrIn(req.getInt(in), req.getLong(in + 8), req.getLong(in + 16), req.getLong(in + 24),
                req.getLong(in + 32), req.getInt(in + 56), req.getLong(in + 40), req.getInt(in + 60),
                req.getInt(in + 68), req.getInt(in + 76), req.getInt(in + 80));
    }

    private static String name(ByteBuffer req, int from, int len) throws FuseException {
        return FuseWire.string(req, from, nulOrFail(req, from, len));
    }

    private static int nulOrFail(ByteBuffer req, int from, int len) throws FuseException {
        int end = FuseWire.nul(req, from, len);
        if (end < 0) {
            throw new FuseException(Errno.EINVAL, "unterminated name");
        }
        return end;
    }

    private ByteBuffer begin() {
        reply.clear();
        reply.position(FuseWire.OUT_HEADER);
        return reply;
    }

    private void send(long unique, ByteBuffer out) {
        int len = out.position();
        out.putInt(0, len).putInt(4, 0).putLong(8, unique);
        out.flip();
        write(unique, out);
    }

    private void replyError(long unique, int errno) {
        reply.clear();
        reply.putInt(FuseWire.OUT_HEADER).putInt(-errno).putLong(unique).flip();
        write(unique, reply);
    }

    /**
     * ENOENT: the kernel already gave up on the request (interrupted, or the caller died).
     * ENODEV: unmounted; the worker learns it from its next read.
     */
    private void write(long unique, ByteBuffer msg) {
        if (LOG.isLoggable(System.Logger.Level.DEBUG)) {
            LOG.log(System.Logger.Level.DEBUG, "fuse -> unique " + unique + " error " + msg.getInt(msg.position() + 4)
                    + " len " + msg.remaining());
        }
        int rc = device.write(msg);
        if (rc < 0 && rc != -Errno.ENOENT && rc != -Errno.ENODEV) {
            LOG.log(System.Logger.Level.WARNING, "reply to request " + unique + " failed: "
                    + Syscalls.strerror(-rc));
        }
    }
}
