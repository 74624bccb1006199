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

    /**
     * Bytes left in the reply, each entry taking {@link #size}: a filesystem that resolves names
     * before it adds them resolves no more than fit, since the rest would be given back.
     */
    default int room() {
        return Integer.MAX_VALUE;
    }

    /** Bytes an entry named {@code name} takes in the reply. */
    static int size(String name) {
        return FuseWire.ENTRY_OUT_SIZE + FuseWire.direntSize(FuseWire.bytes(name).length);
    }
}
