package io.c9fs.fuse;

/**
 * The reply to a name lookup (LOOKUP, MKDIR, CREATE, ...). A non-zero nodeid counts as one kernel
 * lookup reference that a later FORGET returns. Nodeid 0 is a negative entry: the kernel caches
 * ENOENT for {@code entryValidNanos}.
 */
public record EntryOut(long nodeid, long generation, long entryValidNanos, long attrValidNanos, Attr attr) {
}
