package io.c9fs.fuse;

/**
 * A SETATTR request; {@code valid} is a mask of FATTR_* bits telling which fields are meaningful.
 * FATTR_ATIME_NOW / FATTR_MTIME_NOW mean "the server's current time".
 */
public record SetattrIn(int valid, long fh, long size, long lockOwner, long atimeSec, int atimeNsec, long mtimeSec,
                        int mtimeNsec, int mode, int uid, int gid) {
    public static final int FATTR_MODE = 1;
    public static final int FATTR_UID = 2;
    public static final int FATTR_GID = 4;
    public static final int FATTR_SIZE = 8;
    public static final int FATTR_ATIME = 16;
    public static final int FATTR_MTIME = 32;
    public static final int FATTR_FH = 64;
    public static final int FATTR_ATIME_NOW = 128;
    public static final int FATTR_MTIME_NOW = 256;
    public static final int FATTR_LOCKOWNER = 512;
    public static final int FATTR_CTIME = 1024;
    /**
     * Under FUSE_HANDLE_KILLPRIV_V2: clear setuid, and setgid if group-executable (a truncation by
     * a caller without CAP_FSETID, or any change of owner).
     */
    public static final int FATTR_KILL_SUIDGID = 1 << 11;

    /** True if every bit of {@code mask} is set in {@link #valid}. */
    public boolean has(int mask) {
        return (valid & mask) == mask;
    }
}
