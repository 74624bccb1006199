package io.c9fs.mount;

import io.c9fs.fuse.FuseException;
import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Qid;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * The kernel's view of inodes: nodeid to {@link Node}, and qid.path to the same Node so that a
 * second name for a file (a hard link, or a name seen again after rename) yields the nodeid the
 * kernel already has. Nodeids are never reused (generation stays 0): a file looked up again after
 * its last FORGET gets a fresh nodeid.
 *
 * <p>Lookup counts follow the FUSE rule: every reply that carries an entry (LOOKUP, CREATE, MKDIR,
 * MKNOD, SYMLINK, LINK, each READDIRPLUS entry) adds one; FORGET subtracts its count. At zero the
 * node leaves the table and its fid is clunked (the kernel sends FORGET only for an evicted inode,
 * so no request is using that fid any more).
 *
 * <p>Fids go stale: a path-based server (diod) binds a fid to the path it was walked to, so after
 * a rename, or after the file was deleted and its inode number reused by a new file, a node's old
 * fid names the wrong thing. A fresh walk that reaches a known node by another path, or since a
 * directory was renamed (the {@link #epoch()}), therefore becomes the node's fid; the old one is
 * handed to {@code retire}, which clunks it once requests that may have read it are over.
 *
 * <p>A node made from a Treaddirattr listing has no fid ({@link Message#NOFID}) until a request
 * needs one; the filesystem then walks it from the parent by name and checks qid.path.
 *
 * <p>Threads: any worker. One lock, the table's monitor, guards both maps, every Node's
 * {@code lookups} and changes to a Node's fid. It is a leaf lock: nothing is called while holding
 * it except map operations; fids are clunked and retired after it is released. No 9P round trip
 * ever happens under it.
 */
final class NodeTable {
    /** FUSE_ROOT_ID. */
    static final long ROOT = 1;

    private final Map<Long, Node> byNodeid = new HashMap<>();
    private final Map<Long, Node> byQidPath = new HashMap<>();
    private final IntConsumer clunk;
    private final IntConsumer retire;
    private final Node root;
    private long nextNodeid = ROOT + 1;
    /** Returns the listing leases of a node that went (qid.path, count); never under the lock. */
    private volatile java.util.function.BiConsumer<Long, Integer> unlisted = (path, count) -> { };
    /**
     * Bumped by every recall of data or attributes and every drop of all caches, before the
     * kernel is told: a listing read before a bump may carry attributes a recall meant to void,
     * and whose node did not exist yet to be voided.
     */
    private final java.util.concurrent.atomic.AtomicLong recalls = new java.util.concurrent.atomic.AtomicLong();
    /**
     * Bumped by every directory rename, ours or one noticed as a directory found under a new name:
     * fids walked before it may name a path that is gone.
     */
    private long epoch;

    /**
     * @param rootQid the attach qid
     * @param rootFid the attach fid: the root node's fid, never clunked by the table
     * @param clunk   releases a fid on the server now; called without the lock held
     * @param retire  releases a fid that a concurrent request may still be using; without the lock
     */
    NodeTable(Qid rootQid, int rootFid, IntConsumer clunk, IntConsumer retire) {
        this.clunk = clunk;
        this.retire = retire;
        this.root = new Node(ROOT, rootQid, rootFid, ROOT, "/", Long.MAX_VALUE);
        root.lookups = 1;
        byNodeid.put(ROOT, root);
        byQidPath.put(rootQid.path(), root);
    }

    Node root() {
        return root;
    }

    /** Where the listing leases of forgotten nodes go (Tunlist). */
    void onUnlisted(java.util.function.BiConsumer<Long, Integer> unlisted) {
        this.unlisted = unlisted;
    }

    /** The recall count (see {@link #recalls}). */
    long recallEpoch() {
        return recalls.get();
    }

    /** A recall of data or attributes is being carried out. */
    void recalled() {
        recalls.incrementAndGet();
    }

    /**
     * Every cache is being dropped (lease term passed, reconnect): the server may have ended the
     * listing leases too, so none is returned any more (one it still holds only costs recalls).
     */
    void droppedAll() {
        recalls.incrementAndGet();
        synchronized (this) {
            for (Node n : byNodeid.values()) {
                n.listed = 0;
            }
        }
    }

    /** The node for a nodeid the kernel sent; ESTALE if the kernel names one it already forgot. */
    Node get(long nodeid) throws FuseException {
        synchronized (this) {
            Node n = byNodeid.get(nodeid);
            if (n == null) {
                throw new FuseException(Errno.ESTALE, "unknown nodeid " + nodeid);
            }
            return n;
        }
    }

    /** The node the kernel holds for this server file, or null. */
    Node byQidPath(long qidPath) {
        synchronized (this) {
            return byQidPath.get(qidPath);
        }
    }

    /**
     * Takes one kernel reference on the file a fid was just walked to. A new file gets a new node
     * owning {@code walkedFid}. A known file reached by another path (a hard link, a rename, an
     * inode number the server reused) or since a directory rename takes {@code walkedFid} as its
     * fid and its old fid is retired; reached again by the same path, it keeps its fid and
     * {@code walkedFid} is clunked (so does the root, which keeps its attach fid).
     * {@code walkEpoch} is {@link #epoch()} as read before the walk was sent.
     */
    Node link(long parent, String name, Qid qid, int walkedFid, long walkEpoch) {
        Node node;
        int spare;
        synchronized (this) {
            node = byQidPath.get(qid.path());
            if (node == null) {
                node = new Node(nextNodeid++, qid, walkedFid, parent, name, walkEpoch);
                byNodeid.put(node.nodeid, node);
                byQidPath.put(qid.path(), node);
                spare = Message.NOFID;
            } else if (node.fid == Message.NOFID) {
                // Made from a listing (no fid yet): this walk gives it one.
                spare = Message.NOFID;
                node.rewalked(walkedFid, walkEpoch, qid, parent, name);
            } else if (node == root
                    || node.parent == parent && node.name.equals(name) && node.walkedEpoch >= epoch) {
                // The old fid was walked along this same path since the last directory rename:
                // it names what the new one does, and nobody else holds the new one.
                spare = walkedFid;
            } else {
                if (qid.isDir() && (node.parent != parent || !node.name.equals(name))) {
                    // A directory we knew elsewhere: moved (by another client, or behind our
                    // back), so fids walked below its old path may name nothing now.
                    epoch++;
                }
                spare = node.fid;
                node.rewalked(walkedFid, walkEpoch, qid, parent, name);
            }
            node.lookups++;
        }
        if (spare == walkedFid) {
            clunk.accept(spare);
        } else if (spare != Message.NOFID) {
            retire.accept(spare);
        }
        return node;
    }

    /**
     * Takes one kernel reference on the file an Rreaddirattr entry named {@code name} in
     * {@code parent} is, without a fid: a new node gets none ({@link Message#NOFID}) until a request
     * needs one and walks it from the parent by name ({@link #install}). A known node keeps its fid;
     * a known node without one takes this name as the one to walk.
     */
    Node linkListed(long parent, String name, Qid qid, long listEpoch, boolean leased) {
        synchronized (this) {
            Node node = byQidPath.get(qid.path());
            if (node == null) {
                node = new Node(nextNodeid++, qid, Message.NOFID, parent, name, listEpoch);
                byNodeid.put(node.nodeid, node);
                byQidPath.put(qid.path(), node);
            } else if (node.fid == Message.NOFID && node != root) {
                node.parent = parent;
                node.name = name;
                node.walkedEpoch = listEpoch;
            }
            node.lookups++;
            if (leased) {
                node.listed++;
            }
            return node;
        }
    }

    /**
     * Gives a node made by {@link #linkListed} the fid just walked to it. False (nothing changed:
     * the caller clunks {@code walkedFid}) if the node already has a fid or was forgotten.
     */
    boolean install(Node node, int walkedFid, long walkEpoch) {
        synchronized (this) {
            if (node.fid != Message.NOFID || byNodeid.get(node.nodeid) != node) {
                return false;
            }
            node.fid = walkedFid;
            node.walkedEpoch = walkEpoch;
            return true;
        }
    }

    /**
     * Takes one kernel reference on the node of {@code qidPath} if its fid was walked by this very
     * path since the last directory rename (so it needs no new walk); null otherwise.
     */
    Node refSamePath(long parent, String name, long qidPath) {
        synchronized (this) {
            Node node = byQidPath.get(qidPath);
            if (node == null || node == root || node.parent != parent || !node.name.equals(name)
                    || node.walkedEpoch < epoch || node.fid == Message.NOFID) {
                return null;
            }
            node.lookups++;
            return node;
        }
    }

    /**
     * The node of {@code qidPath} if the kernel holds it and its fid was walked by this very path
     * (as {@link #refSamePath}), without taking a reference; null otherwise.
     */
    Node heldSamePath(long parent, String name, long qidPath) {
        synchronized (this) {
            Node node = byQidPath.get(qidPath);
            if (node == null || node == root || node.lookups <= 0 || node.parent != parent
                    || !node.name.equals(name) || node.walkedEpoch < epoch) {
                return null;
            }
            return node;
        }
    }

    /**
     * Counts one more leased listing on a node the kernel holds, without a kernel reference (the
     * entry goes to the kernel without attributes); false if the node went meanwhile.
     */
    boolean countListing(Node node) {
        synchronized (this) {
            if (byNodeid.get(node.nodeid) != node || node.lookups <= 0) {
                return false;
            }
            node.listed++;
            return true;
        }
    }

    /** Returns {@code count} kernel references; at zero the node and its fids go (returns true). */
    boolean forget(long nodeid, long count) {
        int fid;
        int listed;
        long path;
        synchronized (this) {
            Node node = byNodeid.get(nodeid);
            if (node == null || node == root) {
                return false;
            }
            node.lookups -= count;
            if (node.lookups > 0) {
                return false;
            }
            byNodeid.remove(nodeid);
            byQidPath.remove(node.qidPath, node);
            fid = node.fid;
            listed = node.listed;
            path = node.qidPath;
        }
        if (fid != Message.NOFID) {
            clunk.accept(fid);
        }
        if (listed > 0) {
            unlisted.accept(path, listed);
        }
        return true;
    }

    /**
     * A fid just walked to {@code qid}, now called {@code name} in {@code parent} (after a rename),
     * becomes the fid of that file's node without taking a reference; without a node (or for the
     * root) it is clunked.
     */
    void refresh(Qid qid, int walkedFid, long walkEpoch, long parent, String name) {
        Node node;
        synchronized (this) {
            node = byQidPath.get(qid.path());
            if (node != null && node != root) {
                node.parent = parent;
                node.name = name;
            }
        }
        if (node == null || !swap(node, walkedFid, walkEpoch)) {
            clunk.accept(walkedFid);
        }
    }

    /**
     * Makes {@code walkedFid} the fid of {@code node} and retires the old one. False (and nothing
     * changed) if the node is the root or has been forgotten.
     */
    boolean swap(Node node, int walkedFid, long walkEpoch) {
        int old;
        synchronized (this) {
            if (node == root || byNodeid.get(node.nodeid) != node) {
                return false;
            }
            old = node.fid;
            node.fid = walkedFid;
            node.walkedEpoch = walkEpoch;
        }
        if (old != Message.NOFID) {
            retire.accept(old);
        }
        return true;
    }

    /** The current rename epoch; read it before sending a walk whose fid a node will keep. */
    long epoch() {
        synchronized (this) {
            return epoch;
        }
    }

    /** A directory was renamed: every fid walked until now may be stale. */
    void renamedDirectory() {
        synchronized (this) {
            epoch++;
        }
    }

    /** True if the node's fid was walked before the last directory rename. */
    boolean suspect(Node node) {
        synchronized (this) {
            return node != root && node.walkedEpoch < epoch;
        }
    }

    /** Every node the kernel holds now, root included (a copy: the table may change meanwhile). */
    List<Node> snapshot() {
        synchronized (this) {
            return new ArrayList<>(byNodeid.values());
        }
    }

    /** The names from the root to {@code node} as last looked up, or null if the chain is broken. */
    List<String> pathOf(Node node) {
        List<String> names = new ArrayList<>();
        synchronized (this) {
            Node cur = node;
            while (cur != root) {
                if (names.size() > 4096) {
                    return null;
                }
                names.add(cur.name);
                cur = byNodeid.get(cur.parent);
                if (cur == null) {
                    return null;
                }
            }
        }
        java.util.Collections.reverse(names);
        return names;
    }

    /** Nodes currently known to the kernel, root included. */
    int size() {
        synchronized (this) {
            return byNodeid.size();
        }
    }

    /** Forgets every node but the root (the kernel connection is gone), clunking their fids. */
    void clear() {
        List<Integer> fids = new ArrayList<>();
        synchronized (this) {
            for (Node n : byNodeid.values()) {
                if (n != root && n.fid != Message.NOFID) {
                    fids.add(n.fid);
                }
            }
            byNodeid.clear();
            byQidPath.clear();
            byNodeid.put(ROOT, root);
            byQidPath.put(root.qidPath, root);
        }
        for (int fid : fids) {
            clunk.accept(fid);
        }
    }
}
