package io.c9fs.fuse;

/**
 * A POSIX record lock, {@code struct fuse_file_lock}: bytes [start, end] inclusive,
 * end = Long.MAX_VALUE for "to EOF"; type is F_RDLCK 0, F_WRLCK 1 or F_UNLCK 2.
 */
public record FileLock(long start, long end, int type, int pid) {
    public static final int F_RDLCK = 0;
    public static final int F_WRLCK = 1;
    public static final int F_UNLCK = 2;
}
