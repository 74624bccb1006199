package io.c9fs.fuse;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;

/**
 * An in-memory filesystem for exercising the FUSE layer through real mounts: files, directories,
 * symlinks, hard links, xattrs, POSIX locks (with blocking SETLKW), readdirplus. Test hooks let a
 * test change bytes behind the kernel's back, watch WRITEs, and block a READ until interrupted.
 *
 * <p>Threads: every operation takes the monitor of this object; SETLKW waits on it. Tests must call
 * the notifier without holding it (the kernel may need a worker to run a WRITE during invalInode).
 */
final class MemFs implements FuseFilesystem {
    static final int S_IFDIR = 0040000;
    static final int S_IFREG = 0100000;
    static final int S_IFLNK = 0120000;
    static final int ENOENT = 2;
    static final int EINTR = 4;
    static final int EEXIST = 17;
    static final int ENOTDIR = 20;
    static final int EISDIR = 21;
    static final int EINVAL = 22;
    static final int EAGAIN = 11;
    static final int ENXIO = 6;
    static final int ENOTEMPTY = 39;
    static final int ENODATA = 61;
    static final int ERANGE = 34;

    /** One WRITE as the filesystem received it. */
    record WriteEvent(long nodeid, long offset, byte[] data, int writeFlags) {
    }

    private record Lock(long owner, long start, long end, int type, int pid) {
        boolean overlaps(long s, long e) {
            return start <= e && s <= end;
        }
    }

    private final class Node {
        final long nodeid;
        int mode;
        int nlink;
        int uid;
        int gid;
        long atime = now();
        long mtime = atime;
        long ctime = atime;
        byte[] data = new byte[0];
        long size;
        String target;
        final TreeMap<String, Long> children = new TreeMap<>();
        final Map<String, byte[]> xattrs = new TreeMap<>();
        final List<Lock> locks = new ArrayList<>();
        long lookups;

        Node(long nodeid, int mode) {
            this.nodeid = nodeid;
            this.mode = mode;
            this.nlink = (mode & S_IFDIR) == S_IFDIR ? 2 : 1;
        }

        boolean isDir() {
            return (mode & 0170000) == S_IFDIR;
        }

        Attr attr() {
            return new Attr(nodeid, size, (size + 511) / 512, atime / 1_000_000_000L, (int) (atime % 1_000_000_000L),
                    mtime / 1_000_000_000L, (int) (mtime % 1_000_000_000L), ctime / 1_000_000_000L,
                    (int) (ctime % 1_000_000_000L), mode, nlink, uid, gid, 0, 4096);
        }

        void resize(long newSize) {
            if (newSize > data.length) {
                data = Arrays.copyOf(data, (int) Math.max(newSize, Math.min(2L * data.length, Integer.MAX_VALUE - 8)));
            } else if (newSize < size) {
                Arrays.fill(data, (int) newSize, (int) size, (byte) 0);
            }
            size = newSize;
        }
    }

    private final Map<Long, Node> nodes = new HashMap<>();
    private long nextNodeid = 2;
    private long nextFh = 1;
    volatile long entryValidNanos = TimeUnit.SECONDS.toNanos(1);
    volatile long attrValidNanos = TimeUnit.SECONDS.toNanos(1);
    final List<WriteEvent> writes = new CopyOnWriteArrayList<>();
    /** Offsets of every READ served, in order. */
    final List<Long> reads = new CopyOnWriteArrayList<>();
    /** Runs (on the worker) at the start of every READ with the nodeid; null = none. */
    volatile LongConsumer readHook;
    /** Nodeids whose READs wait until the request is interrupted (or 10 s pass). */
    final java.util.Set<Long> blockingReads = java.util.concurrent.ConcurrentHashMap.newKeySet();
    final java.util.concurrent.CountDownLatch readBlocked = new java.util.concurrent.CountDownLatch(1);
    final java.util.concurrent.CountDownLatch interruptSeen = new java.util.concurrent.CountDownLatch(1);
    volatile boolean destroyed;
    volatile FuseSession session;

    MemFs() {
        Node root = new Node(1, S_IFDIR | 0755);
        nodes.put(1L, root);
    }

    private static long now() {
        return System.currentTimeMillis() * 1_000_000L;
    }

    // ---- test hooks -------------------------------------------------------------------------

    /** Creates or replaces a regular file in the root with these bytes; returns its nodeid. */
    synchronized long putFile(String name, byte[] content) {
        Node root = nodes.get(1L);
        Long id = root.children.get(name);
        Node n = id == null ? newNode(S_IFREG | 0644) : nodes.get(id);
        n.data = content.clone();
        n.size = content.length;
        root.children.put(name, n.nodeid);
        return n.nodeid;
    }

    /** Changes bytes behind the kernel's back (as a remote writer would). */
    synchronized void poke(long nodeid, long offset, byte[] bytes) {
        Node n = nodes.get(nodeid);
        if (offset + bytes.length > n.size) {
            n.resize(offset + bytes.length);
        }
        System.arraycopy(bytes, 0, n.data, (int) offset, bytes.length);
        n.mtime = now();
    }

    /** Removes a root entry behind the kernel's back (as a remote unlink would). */
    synchronized void unlinkBehind(String name) {
        nodes.get(1L).children.remove(name);
    }

    /** Changes a file's size behind the kernel's back. */
    synchronized void resizeBehind(long nodeid, long size) {
        nodes.get(nodeid).resize(size);
    }

    synchronized byte[] peek(long nodeid, long offset, int length) {
        Node n = nodes.get(nodeid);
        return Arrays.copyOfRange(n.data, (int) offset, (int) offset + length);
    }

    synchronized long lookupCount(long nodeid) {
        return nodes.get(nodeid).lookups;
    }

    // ---- FuseFilesystem -----------------------------------------------------------------------

    @Override
    public void init(FuseSession s) {
        session = s;
    }

    @Override
    public void destroy() {
        destroyed = true;
    }

    private Node newNode(int mode) {
        Node n = new Node(nextNodeid++, mode);
        nodes.put(n.nodeid, n);
        return n;
    }

    private Node node(long nodeid) throws FuseException {
        Node n = nodes.get(nodeid);
        if (n == null) {
            throw new FuseException(ENOENT, "no nodeid " + nodeid);
        }
        return n;
    }

    private Node dir(long nodeid) throws FuseException {
        Node n = node(nodeid);
        if (!n.isDir()) {
            throw new FuseException(ENOTDIR);
        }
        return n;
    }

    private Node child(long parent, String name) throws FuseException {
        Long id = dir(parent).children.get(name);
        if (id == null) {
            throw new FuseException(ENOENT);
        }
        return nodes.get(id);
    }

    private EntryOut entry(Node n) {
        n.lookups++;
        return new EntryOut(n.nodeid, 0, entryValidNanos, attrValidNanos, n.attr());
    }

    private EntryOut link(long parent, String name, Node n) throws FuseException {
        Node d = dir(parent);
        if (d.children.containsKey(name)) {
            throw new FuseException(EEXIST);
        }
        d.children.put(name, n.nodeid);
        if (n.isDir()) {
            d.nlink++;
        }
        d.mtime = d.ctime = now();
        return entry(n);
    }

    @Override
    public synchronized EntryOut lookup(FuseRequest r, long parent, String name) throws FuseException {
        return entry(child(parent, name));
    }

    @Override
    public synchronized void forget(long nodeid, long nlookup) {
        Node n = nodes.get(nodeid);
        if (n != null) {
            n.lookups -= nlookup;
        }
    }

    @Override
    public synchronized AttrOut getattr(FuseRequest r, long nodeid, long fh) throws FuseException {
        return new AttrOut(attrValidNanos, node(nodeid).attr());
    }

    @Override
    public synchronized AttrOut setattr(FuseRequest r, long nodeid, SetattrIn in) throws FuseException {
        Node n = node(nodeid);
        if (in.has(SetattrIn.FATTR_MODE)) {
            n.mode = (n.mode & 0170000) | (in.mode() & 07777);
        }
        if (in.has(SetattrIn.FATTR_UID)) {
            n.uid = in.uid();
        }
        if (in.has(SetattrIn.FATTR_GID)) {
            n.gid = in.gid();
        }
        if (in.has(SetattrIn.FATTR_SIZE)) {
            if (n.isDir()) {
                throw new FuseException(EISDIR);
            }
            n.resize(in.size());
            n.mtime = now();
        }
        if (in.has(SetattrIn.FATTR_ATIME)) {
            n.atime = in.has(SetattrIn.FATTR_ATIME_NOW) ? now() : in.atimeSec() * 1_000_000_000L + in.atimeNsec();
        }
        if (in.has(SetattrIn.FATTR_MTIME)) {
            n.mtime = in.has(SetattrIn.FATTR_MTIME_NOW) ? now() : in.mtimeSec() * 1_000_000_000L + in.mtimeNsec();
        }
        n.ctime = now();
        return new AttrOut(attrValidNanos, n.attr());
    }

    @Override
    public synchronized String readlink(FuseRequest r, long nodeid) throws FuseException {
        Node n = node(nodeid);
        if (n.target == null) {
            throw new FuseException(EINVAL);
        }
        return n.target;
    }

    @Override
    public synchronized EntryOut symlink(FuseRequest r, long parent, String name, String target)
            throws FuseException {
        Node n = newNode(S_IFLNK | 0777);
        n.target = target;
        n.size = target.getBytes(StandardCharsets.UTF_8).length;
        n.uid = r.uid();
        n.gid = r.gid();
        return link(parent, name, n);
    }

    @Override
    public synchronized EntryOut mknod(FuseRequest r, long parent, String name, int mode, int rdev, int umask)
            throws FuseException {
        if ((mode & 0170000) != S_IFREG) {
            throw new FuseException(EINVAL, "only regular files");
        }
        Node n = newNode(mode & ~umask);
        n.uid = r.uid();
        n.gid = r.gid();
        return link(parent, name, n);
    }

    @Override
    public synchronized EntryOut mkdir(FuseRequest r, long parent, String name, int mode, int umask)
            throws FuseException {
        Node n = newNode(S_IFDIR | (mode & ~umask & 07777));
        n.uid = r.uid();
        n.gid = r.gid();
        return link(parent, name, n);
    }

    @Override
    public synchronized void unlink(FuseRequest r, long parent, String name) throws FuseException {
        Node n = child(parent, name);
        if (n.isDir()) {
            throw new FuseException(EISDIR);
        }
        dir(parent).children.remove(name);
        n.nlink--;
        n.ctime = now();
    }

    @Override
    public synchronized void rmdir(FuseRequest r, long parent, String name) throws FuseException {
        Node n = child(parent, name);
        if (!n.isDir()) {
            throw new FuseException(ENOTDIR);
        }
        if (!n.children.isEmpty()) {
            throw new FuseException(ENOTEMPTY);
        }
        Node d = dir(parent);
        d.children.remove(name);
        d.nlink--;
        n.nlink = 0;
    }

    @Override
    public synchronized void rename(FuseRequest r, long parent, String name, long newParent, String newName,
                                    int flags) throws FuseException {
        Node n = child(parent, name);
        Node to = dir(newParent);
        Long existing = to.children.get(newName);
        if (flags == RENAME_EXCHANGE) {
            if (existing == null) {
                throw new FuseException(ENOENT);
            }
            dir(parent).children.put(name, existing);
            to.children.put(newName, n.nodeid);
            return;
        }
        if (existing != null) {
            if ((flags & RENAME_NOREPLACE) != 0) {
                throw new FuseException(EEXIST);
            }
            Node victim = nodes.get(existing);
            if (victim.isDir() && !victim.children.isEmpty()) {
                throw new FuseException(ENOTEMPTY);
            }
            victim.nlink--;
        }
        dir(parent).children.remove(name);
        to.children.put(newName, n.nodeid);
    }

    @Override
    public synchronized EntryOut link(FuseRequest r, long nodeid, long newParent, String newName)
            throws FuseException {
        Node n = node(nodeid);
        EntryOut e = link(newParent, newName, n);
        n.nlink++;
        return new EntryOut(e.nodeid(), 0, e.entryValidNanos(), e.attrValidNanos(), n.attr());
    }

    @Override
    public synchronized OpenOut open(FuseRequest r, long nodeid, int flags) throws FuseException {
        Node n = node(nodeid);
        if (n.isDir()) {
            throw new FuseException(EISDIR);
        }
        if ((flags & 01000) != 0) { // O_TRUNC: ATOMIC_O_TRUNC hands it to us
            n.resize(0);
        }
        // Direct I/O makes READ a synchronous request, the kind the kernel interrupts on a signal.
        return new OpenOut(nextFh++, blockingReads.contains(nodeid) ? OpenOut.FOPEN_DIRECT_IO
                : OpenOut.FOPEN_KEEP_CACHE);
    }

    @Override
    public synchronized CreateOut create(FuseRequest r, long parent, String name, int flags, int mode, int umask)
            throws FuseException {
        Node n = newNode(S_IFREG | (mode & ~umask & 07777));
        n.uid = r.uid();
        n.gid = r.gid();
        EntryOut e = link(parent, name, n);
        return new CreateOut(e, new OpenOut(nextFh++, OpenOut.FOPEN_KEEP_CACHE));
    }

    @Override
    public int read(FuseRequest r, long nodeid, long fh, long offset, int size, ByteBuffer dst)
            throws FuseException {
        reads.add(offset);
        LongConsumer hook = readHook;
        if (hook != null) {
            hook.accept(nodeid);
        }
        if (blockingReads.contains(nodeid)) {
            blockUntilInterrupted(r);
        }
        synchronized (this) {
            Node n = node(nodeid);
            if (offset >= n.size) {
                return 0;
            }
            int count = (int) Math.min(size, n.size - offset);
            dst.put(n.data, (int) offset, count);
            n.atime = now();
            return count;
        }
    }

    private void blockUntilInterrupted(FuseRequest r) throws FuseException {
        java.util.concurrent.CountDownLatch interrupted = new java.util.concurrent.CountDownLatch(1);
        r.onInterrupt(() -> {
            interruptSeen.countDown();
            interrupted.countDown();
        });
        readBlocked.countDown();
        try {
            if (interrupted.await(10, TimeUnit.SECONDS)) {
                throw new FuseException(EINTR);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new FuseException(EINTR);
        }
    }

    @Override
    public synchronized int write(FuseRequest r, long nodeid, long fh, long offset, ByteBuffer src, int writeFlags)
            throws FuseException {
        Node n = node(nodeid);
        int count = src.remaining();
        byte[] bytes = new byte[count];
        src.get(bytes);
        writes.add(new WriteEvent(nodeid, offset, bytes, writeFlags));
        if (offset + count > n.size) {
            n.resize(offset + count);
        }
        System.arraycopy(bytes, 0, n.data, (int) offset, count);
        n.mtime = n.ctime = now();
        return count;
    }

    @Override
    public void flush(FuseRequest r, long nodeid, long fh, long lockOwner) {
    }

    @Override
    public synchronized void release(FuseRequest r, long nodeid, long fh, int flags, long lockOwner) {
        Node n = nodes.get(nodeid);
        if (n != null) {
            n.locks.removeIf(l -> l.owner() == lockOwner);
            notifyAll();
        }
    }

    @Override
    public void fsync(FuseRequest r, long nodeid, long fh, boolean datasync) {
    }

    @Override
    public synchronized OpenOut opendir(FuseRequest r, long nodeid, int flags) throws FuseException {
        dir(nodeid);
        return new OpenOut(nextFh++, 0);
    }

    /** Cookie i+1 follows the i-th entry of ".", "..", then the children in name order. */
    private List<Map.Entry<String, Long>> listing(long nodeid) throws FuseException {
        Node d = dir(nodeid);
        List<Map.Entry<String, Long>> all = new ArrayList<>();
        all.add(Map.entry(".", nodeid));
        all.add(Map.entry("..", 1L));
        all.addAll(d.children.entrySet());
        return all;
    }

    @Override
    public synchronized void readdir(FuseRequest r, long nodeid, long fh, long offset, DirFiller out)
            throws FuseException {
        List<Map.Entry<String, Long>> all = listing(nodeid);
        for (int i = (int) offset; i < all.size(); i++) {
            Node n = nodes.get(all.get(i).getValue());
            if (!out.add(all.get(i).getKey(), n.nodeid, (n.mode >>> 12) & 15, i + 1)) {
                return;
            }
        }
    }

    @Override
    public synchronized void readdirplus(FuseRequest r, long nodeid, long fh, long offset, DirPlusFiller out)
            throws FuseException {
        List<Map.Entry<String, Long>> all = listing(nodeid);
        for (int i = (int) offset; i < all.size(); i++) {
            String name = all.get(i).getKey();
            Node n = nodes.get(all.get(i).getValue());
            // "." and ".." take no lookup reference (DirPlusFiller contract).
            boolean dots = name.equals(".") || name.equals("..");
            EntryOut e = new EntryOut(n.nodeid, 0, entryValidNanos, attrValidNanos, n.attr());
            if (!out.add(name, e, i + 1)) {
                return;
            }
            if (!dots) {
                n.lookups++;
            }
        }
    }

    @Override
    public void releasedir(FuseRequest r, long nodeid, long fh) {
    }

    @Override
    public synchronized StatfsOut statfs(FuseRequest r, long nodeid) {
        return new StatfsOut(1 << 20, 1 << 19, 1 << 19, 1 << 16, (1 << 16) - nodes.size(), 4096, 255, 4096);
    }

    @Override
    public synchronized void setxattr(FuseRequest r, long nodeid, String name, byte[] value, int flags)
            throws FuseException {
        Node n = node(nodeid);
        if ((flags & 1) != 0 && n.xattrs.containsKey(name)) {
            throw new FuseException(EEXIST);
        }
        if ((flags & 2) != 0 && !n.xattrs.containsKey(name)) {
            throw new FuseException(ENODATA);
        }
        n.xattrs.put(name, value.clone());
    }

    @Override
    public synchronized byte[] getxattr(FuseRequest r, long nodeid, String name) throws FuseException {
        byte[] v = node(nodeid).xattrs.get(name);
        if (v == null) {
            throw new FuseException(ENODATA);
        }
        return v;
    }

    @Override
    public synchronized List<String> listxattr(FuseRequest r, long nodeid) throws FuseException {
        return new ArrayList<>(node(nodeid).xattrs.keySet());
    }

    @Override
    public synchronized void removexattr(FuseRequest r, long nodeid, String name) throws FuseException {
        if (node(nodeid).xattrs.remove(name) == null) {
            throw new FuseException(ENODATA);
        }
    }

    private static Lock conflict(Node n, long owner, FileLock lock) {
        for (Lock l : n.locks) {
            if (l.owner() != owner && l.overlaps(lock.start(), lock.end())
                    && (l.type() == FileLock.F_WRLCK || lock.type() == FileLock.F_WRLCK)) {
                return l;
            }
        }
        return null;
    }

    @Override
    public synchronized FileLock getlk(FuseRequest r, long nodeid, long fh, long owner, FileLock lock)
            throws FuseException {
        Lock c = conflict(node(nodeid), owner, lock);
        return c == null ? new FileLock(lock.start(), lock.end(), FileLock.F_UNLCK, 0)
                : new FileLock(c.start(), c.end(), c.type(), c.pid());
    }

    /** Whole-lock granularity: a new lock or unlock replaces every overlapping lock of the owner. */
    @Override
    public synchronized void setlk(FuseRequest r, long nodeid, long fh, long owner, FileLock lock, boolean sleep)
            throws FuseException {
        Node n = node(nodeid);
        if (lock.type() != FileLock.F_UNLCK) {
            if (sleep) {
                r.onInterrupt(() -> {
                    synchronized (MemFs.this) {
                        MemFs.this.notifyAll();
                    }
                });
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (conflict(n, owner, lock) != null) {
                if (!sleep) {
                    throw new FuseException(EAGAIN);
                }
                long left = deadline - System.nanoTime();
                if (r.interrupted() || left <= 0) {
                    throw new FuseException(EINTR);
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new FuseException(EINTR);
                }
            }
        }
        for (Iterator<Lock> it = n.locks.iterator(); it.hasNext(); ) {
            Lock l = it.next();
            if (l.owner() == owner && l.overlaps(lock.start(), lock.end())) {
                it.remove();
            }
        }
        if (lock.type() != FileLock.F_UNLCK) {
            n.locks.add(new Lock(owner, lock.start(), lock.end(), lock.type(), lock.pid()));
        }
        notifyAll();
    }

    /** Holes are 4 KiB pages of zeros; SEEK_DATA 3 / SEEK_HOLE 4 find the next such (non-)page. */
    @Override
    public synchronized long lseek(FuseRequest r, long nodeid, long fh, long offset, int whence)
            throws FuseException {
        Node n = node(nodeid);
        if (offset >= n.size) {
            throw new FuseException(ENXIO);
        }
        boolean wantData = whence == 3;
        for (long page = offset / 4096; page * 4096 < n.size; page++) {
            if (zeroPage(n, page) != wantData) {
                return Math.max(offset, page * 4096);
            }
        }
        if (wantData) {
            throw new FuseException(ENXIO);
        }
        return n.size;
    }

    private static boolean zeroPage(Node n, long page) {
        int end = (int) Math.min(n.size, (page + 1) * 4096);
        for (int i = (int) page * 4096; i < end; i++) {
            if (n.data[i] != 0) {
                return false;
            }
        }
        return true;
    }

    @Override
    public synchronized void fallocate(FuseRequest r, long nodeid, long fh, long offset, long length, int mode)
            throws FuseException {
        if (mode != 0) {
            throw new FuseException(38);
        }
        Node n = node(nodeid);
        if (offset + length > n.size) {
            n.resize(offset + length);
        }
    }
}
