package io.c9fs.fuse;

/**
 * The reply to OPEN, OPENDIR and CREATE: the filesystem's file handle, passed back on every later
 * request on this open file, and FOPEN_* flags. Use {@link #FOPEN_KEEP_CACHE} on files: without it
 * any open() anywhere drops the page cache, including pages other processes have mapped.
 */
public record OpenOut(long fh, int openFlags) {
    public static final int FOPEN_DIRECT_IO = 1;
    public static final int FOPEN_KEEP_CACHE = 2;
    public static final int FOPEN_NONSEEKABLE = 4;
    public static final int FOPEN_CACHE_DIR = 8;
    public static final int FOPEN_PARALLEL_DIRECT_WRITES = 1 << 6;
}
