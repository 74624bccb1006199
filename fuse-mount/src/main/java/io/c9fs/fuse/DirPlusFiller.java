package io.c9fs.fuse;

/**
 * Collects READDIRPLUS entries. Each accepted entry with a non-zero nodeid counts as one kernel
 * lookup reference, exactly like a LOOKUP reply, and will be returned by FORGET; except "." and
 * "..", which never take a reference (the kernel ignores their entries). Pass real entries
 * (nodeid 0 is sent as "no entry" and takes no reference). Only valid during the call.
 */
public interface DirPlusFiller {
    /** Returns false when the entry did not fit (and took no reference): stop. */
    boolean add(String name, EntryOut entry, long nextOffset);
}
