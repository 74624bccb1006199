package io.c9fs.fuse;

/**
 * Inode attributes as the kernel's {@code struct fuse_attr} carries them. {@code mode} holds the
 * file type bits (S_IFREG, S_IFDIR, ...) as well as the permissions.
 */
public record Attr(long ino, long size, long blocks, long atimeSec, int atimeNsec, long mtimeSec, int mtimeNsec,
                   long ctimeSec, int ctimeNsec, int mode, int nlink, int uid, int gid, int rdev, int blksize) {
}
