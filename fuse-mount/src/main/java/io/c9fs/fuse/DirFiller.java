package io.c9fs.fuse;

/**
 * Collects READDIR entries into the reply buffer. {@code nextOffset} is the cookie the kernel
 * passes back to continue after this entry; {@code dtype} is DT_* (DT_DIR 4, DT_REG 8, DT_LNK 10).
 * Only valid during the readdir call, on the worker thread serving it.
 */
public interface DirFiller {
    /** Returns false when the entry did not fit: stop, the kernel asks again from its offset. */
    boolean add(String name, long ino, int dtype, long nextOffset);
}
