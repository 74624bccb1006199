package io.c9fs.mount;

import io.c9fs.fuse.Attr;
import io.c9fs.transport.proto.Message.Rgetattr;

/** Conversions between 9P2000.L attributes and the kernel's. */
final class Attrs {
    private Attrs() {
    }

    /** The kernel attributes of a file; the inode number is the server's qid.path. */
    static Attr of(Rgetattr a) {
        return new Attr(a.qid().path(), a.size(), a.blocks(),
                a.atimeSec(), (int) a.atimeNsec(), a.mtimeSec(), (int) a.mtimeNsec(),
                a.ctimeSec(), (int) a.ctimeNsec(), a.mode(), (int) Math.min(a.nlink(), Integer.MAX_VALUE),
                a.uid(), a.gid(), kernelDev(a.rdev()), (int) Math.min(Math.max(a.blksize(), 0), 1 << 20));
    }

    /** glibc's 64-bit dev_t (what a 9P2000.L server sends) to the kernel's 32-bit new_encode_dev. */
    static int kernelDev(long dev) {
        long major = ((dev >>> 8) & 0xfffL) | ((dev >>> 32) & ~0xfffL);
        long minor = (dev & 0xffL) | ((dev >>> 12) & ~0xffL);
        return (int) ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xffL) << 12));
    }

    /** Major number of the kernel's 32-bit dev_t (as MKNOD carries it). */
    static int major(int rdev) {
        return (rdev & 0xfff00) >>> 8;
    }

    /** Minor number of the kernel's 32-bit dev_t. */
    static int minor(int rdev) {
        return (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
    }
}
