package io.c9fs.mount;

import io.c9fs.fuse.Attr;
import io.c9fs.transport.proto.Message.Rgetattr;

/** Conversions between 9P2000.L attributes and the kernel's. */
final class Attrs {
    private Attrs() {
    }

    /** The largest st_blksize a mount reports: as NFS's default wsize, and glibc's stdio buffers are this big. */
    static final int MAX_IO_BLKSIZE = 1 << 20;

    /**
     * The st_blksize a mount reports for every file: the largest power of two that fits one Twrite
     * or Rread ({@code iounit}), at most {@link #MAX_IO_BLKSIZE}, at least 4 KiB. st_blksize is the
     * "preferred I/O size": glibc sizes a FILE's buffer by it and cp its copies. The server's own
     * (4 KiB for ext4) made every stdio write(2) 4 KiB, each one FUSE round trip and one Twrite;
     * NFS reports its wsize and v9fs its msize for the same reason.
     */
    static int ioBlksize(int iounit) {
        return Integer.highestOneBit(Math.max(4096, Math.min(iounit, MAX_IO_BLKSIZE)));
    }

    /**
     * The kernel attributes of a file; the inode number is the server's qid.path and the block
     * size {@code blksize} (see {@link #ioBlksize}).
     */
    static Attr of(Rgetattr a, int blksize) {
        return new Attr(a.qid().path(), a.size(), a.blocks(),
                a.atimeSec(), (int) a.atimeNsec(), a.mtimeSec(), (int) a.mtimeNsec(),
                a.ctimeSec(), (int) a.ctimeNsec(), a.mode(), (int) Math.min(a.nlink(), Integer.MAX_VALUE),
                a.uid(), a.gid(), kernelDev(a.rdev()), blksize);
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
