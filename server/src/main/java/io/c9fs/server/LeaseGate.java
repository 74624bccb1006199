package io.c9fs.server;

import io.c9fs.server.lease.LeaseManager;
import io.c9fs.transport.Errno;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.Tfsync;
import io.c9fs.transport.proto.Message.Tlopen;
import io.c9fs.transport.proto.Message.Topen;
import io.c9fs.transport.proto.Message.Tread;
import io.c9fs.transport.proto.Message.Tsetattr;
import io.c9fs.transport.proto.Message.Twrite;
import io.c9fs.transport.proto.Message.Twstat;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The recalls a request waits for, by the table of docs/protocol.md, for requests of every
 * connection (a plain client's writes recall leased clients too; it is simply never recalled
 * itself). {@link #before} is what must be recalled before the request is applied: the dirty
 * pages of other writers that a write or read would otherwise race with (phase 1). {@link #after}
 * is what must be recalled once it is applied and before it is answered: the pages, attributes
 * and names the request changed, from every other holder (phase 2). It also fences: a holder whose
 * recall expired gets ESTALE for writes to that file until it takes a new lease.
 *
 * <p>Also the server's lease machinery as sessions see it: the {@link LeaseManager}, the
 * {@link LocalChanges} watcher, the epoch counter, and the {@link LockTable}.
 *
 * <p>Threading: stateless apart from those (each thread-safe); called on worker threads by the
 * request being run. Lookups of the primary fid are safe there (only its own request changes it).
 */
final class LeaseGate {
    private static final CompletableFuture<Void> NOTHING = CompletableFuture.completedFuture(null);

    private final LeaseManager leases;
    private final LocalChanges watcher;
    private final LockTable locks;
    private final DiskSpace disk;
    private final long bootId;
    private final AtomicInteger epochs = new AtomicInteger();

    /** {@code bootId}: random per server start, the high half of every lease epoch. */
    LeaseGate(LeaseManager leases, LocalChanges watcher, LockTable locks, DiskSpace disk, int bootId) {
        this.locks = locks;
        this.disk = disk;
        this.leases = leases;
        this.watcher = watcher;
        this.bootId = Integer.toUnsignedLong(bootId);
    }

    LeaseManager leases() {
        return leases;
    }

    LocalChanges watcher() {
        return watcher;
    }

    /** Grace and the locks of vanished connections, shared by every session. */
    LockTable locks() {
        return locks;
    }

    /** The export's full-disk state. */
    DiskSpace disk() {
        return disk;
    }

    /** A new lease epoch: (boot id << 32) | counter (docs/protocol.md). */
    long nextEpoch() {
        return bootId << 32 | Integer.toUnsignedLong(epochs.incrementAndGet());
    }

    /** Phase 1 of {@code m} from session {@code s}; fails with ESTALE if its holder is fenced. */
    CompletableFuture<Void> before(Session s, Message m, Changes ch) throws ErrnoException {
        LeaseManager.Holder h = s.holder;
        if (m instanceof Message.Treaddirattr || m instanceof Message.Tlcreateattr || m instanceof Message.Tlcreate) {
            // They stat files the client may hold no lease on yet: no one may be writing
            // behind them then (LeaseManager.beforeForeignAttrs). Last here: nothing may fail after.
            ch.foreignAttrs = true;
            return leases.beforeForeignAttrs(h);
        }
        if (m instanceof Twrite w) {
            long path = fencedFile(s, w.fid());
            return path == NO_FILE ? NOTHING
                    : leases.beforeWrite(h, path, w.offset(), w.data().readableBytes());
        } else if (m instanceof Tread r) {
            Fid f = s.peekFid(r.fid());
            if (f == null || f.kind != Fid.Kind.FILE || f.node == null || f.dir != null) {
                return NOTHING;
            }
            return leases.beforeRead(h, f.node.qidPath(), r.offset(), r.count());
        } else if (m instanceof Tsetattr t) {
            long path = fencedFile(s, t.fid());
            return path != NO_FILE && (t.valid() & Tsetattr.SIZE) != 0
                    ? leases.beforeWrite(h, path, 0, 0) : NOTHING;
        } else if (m instanceof Tfsync t) {
            fencedFile(s, t.fid());
        } else if (m instanceof Tlopen t && (t.flags() & Posix.O_TRUNC) != 0) {
            long path = fencedFile(s, t.fid());
            return path == NO_FILE ? NOTHING : leases.beforeWrite(h, path, 0, 0);
        } else if (m instanceof Topen t && (t.mode() & ClassicOps.OTRUNC) != 0) {
            long path = fencedFile(s, t.fid());
            return path == NO_FILE ? NOTHING : leases.beforeWrite(h, path, 0, 0);
        } else if (m instanceof Twstat t && t.stat().length() != -1) {
            long path = fencedFile(s, t.fid());
            return path == NO_FILE ? NOTHING : leases.beforeWrite(h, path, 0, 0);
        }
        return NOTHING;
    }

    /** Phase 2: recalls what the request changed from every holder but its own connection. */
    CompletableFuture<Void> after(Session s, Changes changes) {
        if (changes.foreignAttrs) {
            changes.foreignAttrs = false;
            leases.afterForeignAttrs(s.holder);
        }
        List<Changes.Change> list = changes.list();
        if (list.isEmpty() && changes.waits().isEmpty()) {
            return NOTHING;
        }
        LeaseManager.Holder h = s.holder;
        List<CompletableFuture<Void>> waits = new ArrayList<>(list.size() + changes.waits().size());
        waits.addAll(changes.waits());
        for (Changes.Change c : list) {
            switch (c.kind()) {
                case DATA:
                    waits.add(leases.afterWrite(h, c.path(), c.offset(), c.length()));
                    break;
                case ATTR:
                    waits.add(leases.attrChanged(h, c.path()));
                    break;
                default:
                    waits.add(leases.entryChanged(h, c.path(), c.name()));
                    break;
            }
        }
        return CompletableFuture.allOf(waits.toArray(CompletableFuture[]::new));
    }

    private static final long NO_FILE = Long.MIN_VALUE;

    /** The qid.path of the file fid {@code id} names, or NO_FILE; ESTALE if its holder is fenced there. */
    private long fencedFile(Session s, int id) throws ErrnoException {
        Fid f = s.peekFid(id);
        if (f == null || f.kind != Fid.Kind.FILE || f.node == null) {
            return NO_FILE;
        }
        long path = f.node.qidPath();
        if (s.holder != null && leases.fenced(s.holder, path)) {
            throw new ErrnoException(Errno.ESTALE, "lease recall expired; take a new lease");
        }
        return path;
    }
}
