package io.c9fs.mount;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The fids that carry POSIX record locks to the server, one per (inode, lock owner).
 *
 * <p>Why a fid of their own: the kernel names the owner of a POSIX lock (a process's file table),
 * while 9P servers attach locks to a fid (c9fs-serve: an open-file-description lock on the fid's
 * descriptor; diod: a whole-file flock on it). Sending every lock of one owner on one inode
 * through one dedicated open fid gives exactly POSIX ownership: an owner never conflicts with
 * itself across its descriptors, different owners (here or on other clients) do conflict, and
 * closing any descriptor releases all the owner's locks on the file (FLUSH clunks the fid,
 * which drops its locks on the server).
 *
 * <p>Threads: any worker; a concurrent map, no lock of its own.
 */
final class LockOwners {
    /** One owner's lock fid on one inode, and the pid that first locked through it. */
    record Holder(int fid, int pid) {
    }

    private record Key(long nodeid, long owner) {
    }

    private final Map<Key, Holder> holders = new ConcurrentHashMap<>();

    Holder get(long nodeid, long owner) {
        return holders.get(new Key(nodeid, owner));
    }

    /** Installs {@code h} unless another thread got there first; returns the holder in force. */
    Holder putIfAbsent(long nodeid, long owner, Holder h) {
        Holder old = holders.putIfAbsent(new Key(nodeid, owner), h);
        return old == null ? h : old;
    }

    Holder remove(long nodeid, long owner) {
        return holders.remove(new Key(nodeid, owner));
    }

    /**
     * The pid of another owner on this mount that holds a lock fid for the inode, or 0. The
     * server cannot say which process holds a conflicting lock; when it is one of ours, this is
     * the best answer F_GETLK can give.
     */
    int otherPid(long nodeid, long owner) {
        for (Map.Entry<Key, Holder> e : holders.entrySet()) {
            if (e.getKey().nodeid() == nodeid && e.getKey().owner() != owner) {
                return e.getValue().pid();
            }
        }
        return 0;
    }

    /** Empties the table, returning every holder (the session is ending). */
    List<Holder> clear() {
        List<Holder> all = new ArrayList<>(holders.values());
        holders.clear();
        return all;
    }
}
