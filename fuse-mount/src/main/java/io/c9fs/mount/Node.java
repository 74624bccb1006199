package io.c9fs.mount;

import io.c9fs.transport.proto.Qid;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One inode the kernel knows by a nodeid: the server file (qid) and a fid walked to it (never
 * opened: opens clone it). Files with the same qid.path are the same inode, so hard links share
 * one Node.
 *
 * <p>Threads: {@link #fid}, {@link #qid}, {@link #parent}, {@link #name} and {@link #walkedEpoch} are
 * read without a lock
 * by any worker; they change only under the {@link NodeTable} lock. {@link #lookups} is guarded by
 * that lock.
 */
final class Node {
    final long nodeid;
    final long qidPath;
    volatile Qid qid;
    volatile int fid;
    /** Last known place in the tree; for diagnostics and for nothing else. */
    volatile long parent;
    volatile String name;
    /** {@link NodeTable#epoch()} when {@link #fid} was walked: older than the table's means maybe stale. */
    volatile long walkedEpoch;
    /**
     * Write-back errors with Linux's errseq semantics: {@link #wbErrSeq} counts the written-back
     * pages the server refused (or that could not reach it: a soft mount's timeout, a file gone
     * stale across a reconnect), {@link #wbErrno} is the last one's errno. Each handle remembers
     * the count it has reported, so every descriptor open at the failure sees it once, at its
     * next fsync, msync or close (FLUSH).
     */
    final java.util.concurrent.atomic.AtomicLong wbErrSeq = new java.util.concurrent.atomic.AtomicLong();
    volatile int wbErrno;
    /** Kernel references: one per LOOKUP-like reply, returned by FORGET. Guarded by the table lock. */
    long lookups;
    /**
     * Listing leases this node stands for: Treaddirattr entries flagged LEASED that made or
     * refreshed it, returned with Tunlist when the node goes. Guarded by the table lock.
     */
    int listed;
    /**
     * Until when (System.nanoTime) the kernel may use the name and attributes of the last entry
     * reply for this node, unless a recall dropped them first. Only ever a hint: a kernel that no
     * longer trusts what it has asks again.
     */
    volatile long kernelEntryUntil;
    /**
     * Bumped whenever the file's xattrs may have changed (an attribute recall, a change through
     * this mount): an absence learnt before the bump is not remembered after it.
     */
    private final AtomicLong xattrGeneration = new AtomicLong();
    /** xattr names the server said the file lacks (ENODATA); see {@link #xattrKnownAbsent}. */
    private final AtomicReference<AbsentXattrs> absentXattrs = new AtomicReference<>();

    /** Names known absent as of one xattr generation, trusted until a deadline (System.nanoTime). */
    private record AbsentXattrs(long generation, long deadline, Set<String> names) {
    }

    /**
     * Handles of this mount that may change the file (writers: they hold its write lease). While
     * one is open, {@link #cachedAttrs} is never trusted: its writes move size and times.
     */
    final java.util.concurrent.atomic.AtomicInteger writers = new java.util.concurrent.atomic.AtomicInteger();
    /** Bumped by every recall of the file's data or attributes and by this mount's own changes of them. */
    private final AtomicLong attrGeneration = new AtomicLong();
    /** The server's attributes as of {@link #attrGeneration}, see {@link #cachedAttrs}. */
    private volatile CachedAttrs cached;

    private record CachedAttrs(io.c9fs.transport.proto.Message.Rgetattr attrs, long generation, long names,
                               long until) {
    }

    /**
     * Bumped by everything that may change the file's mode other than this mount clearing its
     * setuid and setgid bits: a recall of its attributes, a change on the server machine, a
     * setattr or an ACL set through this mount ({@link #xattrsChanged} bumps it), a reconnection.
     * Not by writes: unlike {@link #attrGeneration}, a writer keeps what {@link #sxidFree} learnt.
     */
    private final AtomicLong modeGeneration = new AtomicLong();
    /** See {@link #knownSxidFree}. */
    private volatile SxidFree sxidFree;

    private record SxidFree(long generation, long until) {
    }

    /** Most names {@link #names} keeps of one directory; past it the directory is not known whole. */
    private static final int MAX_KNOWN_NAMES = 65536;
    /**
     * Every name of this directory, when this mount knows them all: it made the directory, the
     * directory's lease has stood since, and every change of a name since was this mount's own
     * (an entry recall makes it null). Null when not known. Guarded by this node's monitor, a
     * leaf: nothing is called under it.
     */
    private Set<String> names;
    /**
     * The kernel's cached listing of this directory (FOPEN_CACHE_DIR): {@link #listingGeneration}
     * is bumped by everything that may change its names behind the kernel's back (an entry recall,
     * an unrenewed term, a reconnect, a failed change here); {@link #kernelListing} is the
     * generation the kernel's cached listing was filled at, -1 when unknown; {@link #listingsOpen}
     * holds the generation at OPENDIR of each handle still open (its READDIRs may still be filling
     * the cache). All but the first guarded by this node's monitor.
     */
    private final AtomicLong listingGeneration = new AtomicLong();
    private long kernelListing = -1;
    private java.util.Map<Long, Long> listingsOpen;
    /** The kernel was ever allowed to cache this directory's listing: recalls must then drop it. */
    volatile boolean listingCacheable;

    Node(long nodeid, Qid qid, int fid, long parent, String name, long walkedEpoch) {
        this.walkedEpoch = walkedEpoch;
        this.nodeid = nodeid;
        this.qidPath = qid.path();
        this.qid = qid;
        this.fid = fid;
        this.parent = parent;
        this.name = name;
    }

    /**
     * A new walk of this node's path gave it {@code fid}: the node now answers to that fid, the
     * walk's epoch and where it was found. Called under the NodeTable's monitor, the order the
     * fields were always written in.
     */
    void rewalked(int fid, long walkedEpoch, Qid qid, long parent, String name) {
        this.fid = fid;
        this.walkedEpoch = walkedEpoch;
        this.qid = qid;
        this.parent = parent;
        this.name = name;
    }

    /** To be read before asking the server, and handed to {@link #rememberXattrAbsent}. */
    long xattrGeneration() {
        return xattrGeneration.get();
    }

    /**
     * True if the server said {@code name} is absent and nothing since could have added it.
     * `ls -l` asks every file for system.posix_acl_access; this answers without a round trip.
     */
    boolean xattrKnownAbsent(String name, long now) {
        AbsentXattrs a = absentXattrs.get();
        return a != null && a.generation == xattrGeneration.get() && now - a.deadline < 0 && a.names.contains(name);
    }

    /**
     * Remembers that the server had no {@code name} when asked at {@code generation}, until
     * {@code deadline}; nothing if the xattrs may have changed since that question.
     */
    void rememberXattrAbsent(String name, long generation, long deadline) {
        while (true) {
            AbsentXattrs old = absentXattrs.get();
            if (xattrGeneration.get() != generation) {
                return;
            }
            // Older absences still valid are kept, under the earlier of the two deadlines.
            boolean keep = old != null && old.generation == generation && old.deadline - System.nanoTime() > 0;
            Set<String> names = new HashSet<>();
            if (keep) {
                names.addAll(old.names);
            }
            names.add(name);
            AbsentXattrs next = new AbsentXattrs(generation,
                    keep && old.deadline - deadline < 0 ? old.deadline : deadline, Set.copyOf(names));
            if (absentXattrs.compareAndSet(old, next)) {
                // A bump between the check and the swap leaves an entry of a stale generation,
                // which xattrKnownAbsent ignores.
                return;
            }
        }
    }

    /** This mount just made this directory, and nothing has entered it since: every name is known. */
    synchronized void knowEmpty() {
        names = new HashSet<>();
    }

    /** True if this directory is known whole and has no {@code name}: a LOOKUP needs no round trip. */
    synchronized boolean knownAbsent(String name) {
        return names != null && !names.contains(name);
    }

    /** This mount made {@code name} here (create, mkdir, link, rename...). */
    synchronized void named(String name) {
        if (names != null) {
            names.add(name);
            if (names.size() > MAX_KNOWN_NAMES) {
                names = null;
            }
        }
    }

    /** This mount removed {@code name} from here. */
    synchronized void unnamed(String name) {
        if (names != null) {
            names.remove(name);
        }
    }

    /** A name here changed without this mount knowing how (recall, failed or interrupted change). */
    synchronized void namesUnknown() {
        names = null;
        listingGeneration.incrementAndGet();
    }

    /**
     * OPENDIR of handle {@code fh} on a mount whose leases are honoured: may the kernel keep the
     * listing it cached (FOPEN_KEEP_CACHE)? Only if nothing changed a name here since that listing
     * was read, and no handle opened before such a change is still open: its READDIRs may yet put
     * what they read before the change into the kernel's cache. A false answer makes the kernel
     * drop the cached listing at this open, and the listing this handle reads is the new one.
     */
    synchronized boolean listingOpened(long fh) {
        long g = listingGeneration.get();
        boolean keep = kernelListing == g;
        if (listingsOpen == null) {
            listingsOpen = new java.util.HashMap<>();
        }
        for (long opened : listingsOpen.values()) {
            keep &= opened == g;
        }
        listingsOpen.put(fh, g);
        kernelListing = g;
        listingCacheable = true;
        return keep;
    }

    /** RELEASEDIR of {@code fh}: what it read is stale if a name changed since its OPENDIR. */
    synchronized void listingReleased(long fh) {
        Long g = listingsOpen == null ? null : listingsOpen.remove(fh);
        if (g != null && g != listingGeneration.get()) {
            kernelListing = -1;
        }
    }

    /** To be read before asking the server for attributes, and handed to {@link #rememberAttrs}. */
    long attrGeneration() {
        return attrGeneration.get();
    }

    /**
     * The attributes the server last gave, if nothing can have changed them since: no recall of
     * the file's data or attributes, no change of them through this mount (no writer open, no
     * setattr, no name of this mount's changed: {@code names} is the mount's count of those),
     * before {@code now} passes the deadline. Null otherwise.
     */
    io.c9fs.transport.proto.Message.Rgetattr cachedAttrs(long now, long names) {
        CachedAttrs c = cached;
        return c != null && c.generation == attrGeneration.get() && c.names == names && writers.get() == 0
                && now - c.until < 0 ? c.attrs : null;
    }

    /** Keeps attributes asked at {@code generation} and {@code names}, unless something changed since. */
    void rememberAttrs(io.c9fs.transport.proto.Message.Rgetattr a, long generation, long names, long until) {
        if (attrGeneration.get() == generation && writers.get() == 0) {
            // A bump between the check and the store leaves an entry of a stale generation,
            // which cachedAttrs ignores.
            cached = new CachedAttrs(a, generation, names, until);
        }
    }

    /** The file's data or attributes may have changed: the cached attributes go. */
    void attrsChanged() {
        attrGeneration.incrementAndGet();
        cached = null;
    }

    /**
     * The file's xattrs may have changed: forget every absence learnt so far. Every caller is also
     * a place where the mode may have changed (an ACL's group entry is the mode's group bits).
     */
    void xattrsChanged() {
        xattrGeneration.incrementAndGet();
        absentXattrs.set(null);
        modeMayHaveChanged();
    }

    /** To be read before asking the server for the mode, and handed to {@link #sxidFree}. */
    long modeGeneration() {
        return modeGeneration.get();
    }

    /** The mode may have changed (see {@link #modeGeneration}). */
    void modeMayHaveChanged() {
        modeGeneration.incrementAndGet();
        sxidFree = null;
    }

    /**
     * The mode the server gave when the mode generation was {@code generation} has no bit that a
     * write by an unprivileged caller must clear; trusted until {@code until} (System.nanoTime).
     */
    void sxidFree(long generation, long until) {
        if (modeGeneration.get() == generation) {
            // A bump between the check and the store leaves a record of a stale generation,
            // which knownSxidFree ignores.
            sxidFree = new SxidFree(generation, until);
        }
    }

    /** True if neither setuid nor group-executable setgid can be set now: see {@link #sxidFree}. */
    boolean knownSxidFree(long now) {
        SxidFree s = sxidFree;
        return s != null && s.generation == modeGeneration.get() && now - s.until < 0;
    }

    @Override
    public String toString() {
        return "node " + nodeid + " fid " + fid + " qid " + qid + " (" + parent + "/" + name + ")";
    }
}
