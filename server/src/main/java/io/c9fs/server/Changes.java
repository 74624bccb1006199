package io.c9fs.server;

import java.util.ArrayList;
import java.util.List;

/**
 * What one request changed, as the recalls the lease protocol needs once it is applied
 * (docs/protocol.md): file data in a range, a file's attributes, a name in a directory.
 * The request's operation records them while it runs; {@link LeaseGate} recalls them from the
 * other holders before the request is answered.
 *
 * <p>Threading: confined to the request, which runs on one thread at a time.
 */
final class Changes {
    enum Kind { DATA, ATTR, ENTRY }

    /** One change: the file (or, for an entry, the directory) by qid.path. */
    record Change(Kind kind, long path, long offset, long length, String name) {
    }

    private final List<Change> list = new ArrayList<>(2);
    /** Recalls to wait for before the answer besides those of the changes (a sole writer's SHARE). */
    private List<java.util.concurrent.CompletableFuture<Void>> waits;
    /** The request began with LeaseManager.beforeForeignAttrs: it ends with afterForeignAttrs. */
    boolean foreignAttrs;

    /** The answer waits for {@code f} too. */
    void await(java.util.concurrent.CompletableFuture<Void> f) {
        if (waits == null) {
            waits = new ArrayList<>(1);
        }
        waits.add(f);
    }

    List<java.util.concurrent.CompletableFuture<Void>> waits() {
        return waits == null ? List.of() : waits;
    }

    /** Bytes [offset, offset+length) of {@code path} changed; length 0: to the end of the file. */
    void data(long path, long offset, long length) {
        list.add(new Change(Kind.DATA, path, offset, length, ""));
    }

    /** Attributes of {@code path} changed (mode, owner, times, nlink, ctime, xattrs). */
    void attr(long path) {
        list.add(new Change(Kind.ATTR, path, 0, 0, ""));
    }

    /** The name {@code name} in directory {@code dirPath} appeared, vanished or moved. */
    void entry(long dirPath, String name) {
        list.add(new Change(Kind.ENTRY, dirPath, 0, 0, name));
    }

    List<Change> list() {
        return list;
    }
}
