package io.c9fs.fuse;

/** The reply to STATFS, as {@code struct fuse_kstatfs}. */
public record StatfsOut(long blocks, long bfree, long bavail, long files, long ffree, int bsize, int namelen,
                        int frsize) {
}
