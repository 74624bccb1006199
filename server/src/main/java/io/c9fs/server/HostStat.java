package io.c9fs.server;

import java.nio.ByteBuffer;

/** The fields of a host {@code struct stat} (x86_64 layout) the server uses. */
public record HostStat(long dev, long ino, long nlink, int mode, int uid, int gid, long rdev,
                       long size, long blksize, long blocks,
                       long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec,
                       long ctimeSec, long ctimeNsec) {

    public static final int S_IFMT = 0170000, S_IFDIR = 0040000, S_IFREG = 0100000,
            S_IFLNK = 0120000, S_IFIFO = 0010000, S_IFCHR = 0020000, S_IFBLK = 0060000,
            S_IFSOCK = 0140000;

    /** Size of struct stat on x86_64. */
    static final int SIZE = 144;

    static HostStat decode(ByteBuffer b) {
        return new HostStat(b.getLong(0), b.getLong(8), b.getLong(16), b.getInt(24), b.getInt(28),
                b.getInt(32), b.getLong(40), b.getLong(48), b.getLong(56), b.getLong(64),
                b.getLong(72), b.getLong(80), b.getLong(88), b.getLong(96), b.getLong(104),
                b.getLong(112));
    }

    public int fileType() {
        return mode & S_IFMT;
    }

    public boolean isDir() {
        return fileType() == S_IFDIR;
    }

    public boolean isSymlink() {
        return fileType() == S_IFLNK;
    }

    public boolean isRegular() {
        return fileType() == S_IFREG;
    }

    /** Same file: device and inode. */
    public boolean sameFile(HostStat o) {
        return dev == o.dev && ino == o.ino;
    }
}
