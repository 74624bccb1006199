package io.c9fs.transport.client;

import io.c9fs.transport.proto.Message;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a {@link RedialingSession} needs to give every live fid back its meaning on a new
 * connection: the attach it descends from, its path of names from that attach's root, the
 * qid.path it had (a file replaced meanwhile walks to another qid.path, and its fid becomes
 * stale), whether and how it is open, its write lease and the POSIX locks taken through it.
 *
 * <p>It learns all of this from the requests that succeed ({@link #answered}): Tattach, Twalk,
 * Tlopen, Tlcreate, Tlcreateattr, Trename, Trenameat, Tlease, Tlock; Tclunk and Tremove forget. A fid it
 * cannot re-create by walking (an xattr fid) is marked as such and becomes stale at the next
 * reconnect.
 *
 * <p>Threads: any; one monitor, a leaf, guards everything.
 */
public final class FidShadow {
    /** One fid, as it can be re-created. Mutable only under the shadow's monitor. */
    public static final class Entry {
        public final int fid;
        /** The attach fid this one was walked from; its own number for an attach fid. */
        int root;
        /** The Tattach that made it, for attach fids. */
        Message.Tattach attach;
        List<String> path;
        long qidPath;
        /** Tlopen flags (9P2000.L) or Topen mode (9P2000, .u) as sent, or -1 if not open. */
        int openFlags = -1;
        int leaseMode;
        /** Lock requests granted through this fid, in order (unlocks included, so a replay ends in the same state). */
        final List<Message.Tlock> locks = new ArrayList<>();
        boolean walkable = true;
        boolean stale;
        boolean lockLost;

        Entry(int fid) {
            this.fid = fid;
        }

        public boolean isAttach() {
            return attach != null;
        }

        public int root() {
            return root;
        }

        public List<String> path() {
            return path;
        }

        public long qidPath() {
            return qidPath;
        }

        public int openFlags() {
            return openFlags;
        }

        public int leaseMode() {
            return leaseMode;
        }

        public Message.Tattach attach() {
            return attach;
        }

        public List<Message.Tlock> locks() {
            return locks;
        }

        public boolean walkable() {
            return walkable;
        }
    }

    private final Map<Integer, Entry> fids = new HashMap<>();
    /** True once any fid was made stale: until then {@link #isStale} answers without the monitor. */
    private volatile boolean anyStale;

    /** A request succeeded with {@code reply}: record what it did to fids. */
    public synchronized void answered(Message request, Message reply) {
        if (request instanceof Message.Tattach a && reply instanceof Message.Rattach r) {
            Entry e = new Entry(a.fid());
            e.root = a.fid();
            e.attach = a;
            e.path = List.of();
            e.qidPath = r.qid().path();
            fids.put(a.fid(), e);
        } else if (request instanceof Message.Twalk w && reply instanceof Message.Rwalk r) {
            Entry from = fids.get(w.fid());
            if (r.wqids().size() != w.wnames().size()) {
                return; // a partial walk leaves newfid unassigned (walk(5))
            }
            if (from == null) {
                return;
            }
            Entry e = new Entry(w.newfid());
            e.root = from.root;
            e.path = walkPath(from.path, w.wnames());
            e.qidPath = r.wqids().isEmpty() ? from.qidPath : r.wqids().get(r.wqids().size() - 1).path();
            e.walkable = from.walkable && from.path != null;
            fids.put(w.newfid(), e);
        } else if (request instanceof Message.Tlopen o) {
            Entry e = fids.get(o.fid());
            if (e != null) {
                e.openFlags = o.flags();
            }
        } else if (request instanceof Message.Topen o) {
            Entry e = fids.get(o.fid());
            if (e != null) {
                e.openFlags = o.mode();
            }
        } else if (request instanceof Message.Tcreate c && reply instanceof Message.Rcreate r) {
            Entry e = fids.get(c.fid());
            if (e != null) {
                e.path = append(e.path, c.name());
                e.qidPath = r.qid().path();
                e.openFlags = c.mode();
            }
        } else if (request instanceof Message.Tlcreate c && reply instanceof Message.Rlcreate r) {
            Entry e = fids.get(c.fid());
            if (e != null) {
                e.path = append(e.path, c.name());
                e.qidPath = r.qid().path();
                e.openFlags = c.flags();
            }
        } else if (request instanceof Message.Tlcreateattr c && reply instanceof Message.Rlcreateattr r) {
            Entry d = fids.get(c.dfid());
            if (d == null) {
                return;
            }
            for (int id : new int[] {c.fid(), c.nodefid()}) {
                Entry e = new Entry(id);
                e.root = d.root;
                e.path = append(d.path, c.name());
                e.qidPath = r.qid().path();
                e.walkable = d.walkable && d.path != null;
                fids.put(id, e);
            }
            fids.get(c.fid()).openFlags = c.flags();
        } else if (request instanceof Message.Trename rn) {
            Entry e = fids.get(rn.fid());
            Entry d = fids.get(rn.dfid());
            if (e != null && d != null && e.root == d.root) {
                move(e.root, e.path, append(d.path, rn.name()));
            }
        } else if (request instanceof Message.Trenameat rn) {
            Entry od = fids.get(rn.olddirfid());
            Entry nd = fids.get(rn.newdirfid());
            if (od != null && nd != null && od.root == nd.root) {
                move(od.root, append(od.path, rn.oldname()), append(nd.path, rn.newname()));
            }
        } else if (request instanceof Message.Tlease l) {
            Entry e = fids.get(l.fid());
            if (e != null) {
                e.leaseMode = l.mode() == Message.LEASE_WRITE && reply instanceof Message.Rlease r
                        && r.mode() == Message.LEASE_WRITE ? Message.LEASE_WRITE : Message.LEASE_NONE;
            }
        } else if (request instanceof Message.Tlock l && reply instanceof Message.Rlock r
                && r.status() == Message.Rlock.SUCCESS) {
            Entry e = fids.get(l.fid());
            if (e != null) {
                if (l.lockType() == Message.Tlock.UNLCK && l.start() == 0 && l.length() == 0) {
                    e.locks.clear(); // all of the file: nothing before matters
                } else {
                    e.locks.add(l);
                }
            }
        } else if (request instanceof Message.Txattrwalk x) {
            Entry e = new Entry(x.newfid());
            e.walkable = false;
            fids.put(x.newfid(), e);
        } else if (request instanceof Message.Txattrcreate x) {
            Entry e = fids.get(x.fid());
            if (e != null) {
                e.walkable = false;
            }
        } else if (request instanceof Message.Tclunk c) {
            fids.remove(c.fid());
        } else if (request instanceof Message.Tremove r) {
            fids.remove(r.fid());
        }
    }

    /** A Tclunk or Tremove was sent: whatever its answer, the fid is gone (clunk(5), remove(5)). */
    public synchronized void forget(int fid) {
        fids.remove(fid);
    }

    private void move(int root, List<String> from, List<String> to) {
        if (from == null || to == null) {
            return;
        }
        for (Entry e : fids.values()) {
            if (e.root == root && e.path != null && startsWith(e.path, from)) {
                List<String> p = new ArrayList<>(to);
                p.addAll(e.path.subList(from.size(), e.path.size()));
                e.path = List.copyOf(p);
            }
        }
    }

    private static boolean startsWith(List<String> path, List<String> prefix) {
        return path.size() >= prefix.size() && path.subList(0, prefix.size()).equals(prefix);
    }

    private static List<String> append(List<String> path, String name) {
        return path == null ? null : walkPath(path, List.of(name));
    }

    /** {@code from} then {@code names}, ".." taking one name off (never above the attach root). */
    static List<String> walkPath(List<String> from, List<String> names) {
        if (from == null) {
            return null;
        }
        List<String> p = new ArrayList<>(from);
        for (String n : names) {
            if (n.equals("..")) {
                if (!p.isEmpty()) {
                    p.remove(p.size() - 1);
                }
            } else if (!n.equals(".")) {
                p.add(n);
            }
        }
        return List.copyOf(p);
    }

    /** The entry of {@code fid}, or null. The caller reads it under no lock: for tests and restore. */
    public synchronized Entry get(int fid) {
        return fids.get(fid);
    }

    /** Every live fid, attach fids first, then by path depth (copies of the lists). */
    public synchronized List<Entry> snapshot() {
        List<Entry> all = new ArrayList<>(fids.values());
        all.sort((a, b) -> {
            if (a.isAttach() != b.isAttach()) {
                return a.isAttach() ? -1 : 1;
            }
            int da = a.path == null ? Integer.MAX_VALUE : a.path.size();
            int db = b.path == null ? Integer.MAX_VALUE : b.path.size();
            return Integer.compare(da, db);
        });
        return Collections.unmodifiableList(all);
    }

    /** Makes {@code fid} stale: every later request on it fails with ESTALE. */
    public synchronized void markStale(int fid) {
        Entry e = fids.get(fid);
        if (e != null) {
            e.stale = true;
            anyStale = true;
        }
    }

    public boolean isStale(int fid) {
        if (!anyStale) {
            return false; // every request asks: keep the common case off the monitor
        }
        synchronized (this) {
            Entry e = fids.get(fid);
            return e != null && e.stale;
        }
    }

    /** A lock of {@code fid} could not be reclaimed: its owner's next request on it fails once. */
    public synchronized void markLockLost(int fid) {
        Entry e = fids.get(fid);
        if (e != null) {
            e.lockLost = true;
            e.locks.clear();
        }
    }

    /** True once for a fid whose lock was lost (and clears it): that request reports EIO. */
    public synchronized boolean takeLockLost(int fid) {
        Entry e = fids.get(fid);
        if (e != null && e.lockLost) {
            e.lockLost = false;
            return true;
        }
        return false;
    }

    public synchronized int size() {
        return fids.size();
    }

    public synchronized int staleCount() {
        int n = 0;
        for (Entry e : fids.values()) {
            if (e.stale) {
                n++;
            }
        }
        return n;
    }
}
