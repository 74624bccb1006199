package io.c9fs.fuse;

/** The reply to CREATE: the new entry and its open file. */
public record CreateOut(EntryOut entry, OpenOut open) {
}
