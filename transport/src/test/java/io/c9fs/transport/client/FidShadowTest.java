package io.c9fs.transport.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.proto.Qid;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the shadow learns from answered requests, and what it gives back for a restore. */
class FidShadowTest {
    static Qid q(long path) {
        return new Qid(0, 0, path);
    }

    FidShadow shadow = new FidShadow();

    void attach(int fid, long path) {
        shadow.answered(new Tattach(fid, Message.NOFID, "u", "", 0), new Rattach(q(path)));
    }

    void walk(int from, int to, List<String> names, long... paths) {
        List<Qid> qids = new java.util.ArrayList<>();
        for (long p : paths) {
            qids.add(q(p));
        }
        shadow.answered(new Twalk(from, to, names), new Rwalk(qids));
    }

    @Test
    void walksBuildPathsFromTheAttachRoot() {
        attach(0, 1);
        walk(0, 1, List.of("a", "b"), 2, 3);
        walk(1, 2, List.of("..", "c"), 2, 4);
        walk(2, 3, List.of(), new long[0]);
        assertEquals(List.of("a", "b"), shadow.get(1).path());
        assertEquals(3, shadow.get(1).qidPath());
        assertEquals(List.of("a", "c"), shadow.get(2).path());
        assertEquals(List.of("a", "c"), shadow.get(3).path(), "a clone is the same file");
        assertEquals(4, shadow.get(3).qidPath());
        assertEquals(0, shadow.get(3).root());
    }

    @Test
    void aPartialWalkAssignsNoFid() {
        attach(0, 1);
        walk(0, 1, List.of("a", "missing"), 2);
        assertNull(shadow.get(1));
    }

    @Test
    void opensCreatesAndLeasesAreRemembered() {
        attach(0, 1);
        walk(0, 1, List.of("dir"), 2);
        shadow.answered(new Tlcreate(1, "new", 0102, 0644, 0), new Rlcreate(q(9), 0));
        assertEquals(List.of("dir", "new"), shadow.get(1).path());
        assertEquals(9, shadow.get(1).qidPath());
        assertEquals(0102, shadow.get(1).openFlags());
        walk(0, 2, List.of("f"), 5);
        assertEquals(-1, shadow.get(2).openFlags());
        shadow.answered(new Tlopen(2, 2), new Rlopen(q(5), 0));
        assertEquals(2, shadow.get(2).openFlags());
        shadow.answered(new Tlease(2, Message.LEASE_WRITE), new Rlease(Message.LEASE_WRITE, 1, 1000, q(5)));
        assertEquals(Message.LEASE_WRITE, shadow.get(2).leaseMode());
        shadow.answered(new Tlease(2, Message.LEASE_READ), new Rlease(Message.LEASE_READ, 1, 1000, q(5)));
        assertEquals(Message.LEASE_NONE, shadow.get(2).leaseMode());
    }

    @Test
    void legacyOpensAndCreatesAreRememberedToo() {
        attach(0, 1);
        walk(0, 1, List.of("d"), 2);
        shadow.answered(new Tcreate(1, "n", 0644, 2, ""), new Rcreate(q(11), 0));
        assertEquals(List.of("d", "n"), shadow.get(1).path());
        assertEquals(11, shadow.get(1).qidPath());
        assertEquals(2, shadow.get(1).openFlags());
        walk(0, 2, List.of("f"), 5);
        shadow.answered(new Topen(2, 0x10), new Ropen(q(5), 0));
        assertEquals(0x10, shadow.get(2).openFlags());
    }

    @Test
    void renamesMoveEveryFidBeneath() {
        attach(0, 1);
        walk(0, 1, List.of("a"), 2);
        walk(0, 2, List.of("a", "x", "y"), 2, 3, 4);
        walk(0, 3, List.of("b"), 5);
        walk(0, 4, List.of("ab"), 6);
        shadow.answered(new Trenameat(0, "a", 3, "moved"), new Rrenameat());
        assertEquals(List.of("b", "moved"), shadow.get(1).path());
        assertEquals(List.of("b", "moved", "x", "y"), shadow.get(2).path());
        assertEquals(List.of("ab"), shadow.get(4).path(), "a name that only starts alike is another file");
        shadow.answered(new Trename(2, 0, "top"), new Rrename());
        assertEquals(List.of("top"), shadow.get(2).path());
    }

    @Test
    void locksAreKeptInOrderAndAWholeFileUnlockClearsThem() {
        attach(0, 1);
        walk(0, 1, List.of("f"), 2);
        shadow.answered(new Tlock(1, Tlock.WRLCK, 0, 0, 10, 7, "c"), new Rlock(Rlock.SUCCESS));
        shadow.answered(new Tlock(1, Tlock.RDLCK, 0, 20, 10, 7, "c"), new Rlock(Rlock.BLOCKED));
        shadow.answered(new Tlock(1, Tlock.UNLCK, 0, 5, 5, 7, "c"), new Rlock(Rlock.SUCCESS));
        assertEquals(2, shadow.get(1).locks().size(), "a refused lock is not held");
        shadow.answered(new Tlock(1, Tlock.UNLCK, 0, 0, 0, 7, "c"), new Rlock(Rlock.SUCCESS));
        assertTrue(shadow.get(1).locks().isEmpty());
    }

    @Test
    void clunkForgetsXattrFidsCannotBeWalkedAndStaleAndLostLockAreReported() {
        attach(0, 1);
        walk(0, 1, List.of("f"), 2);
        shadow.answered(new Txattrwalk(1, 2, "user.x"), new Rxattrwalk(3));
        assertFalse(shadow.get(2).walkable());
        shadow.answered(new Tclunk(2), new Rclunk());
        assertNull(shadow.get(2));
        shadow.markStale(1);
        assertTrue(shadow.isStale(1));
        assertEquals(1, shadow.staleCount());
        walk(0, 3, List.of("g"), 4);
        shadow.markLockLost(3);
        assertTrue(shadow.takeLockLost(3));
        assertFalse(shadow.takeLockLost(3), "reported once");
        List<FidShadow.Entry> order = shadow.snapshot();
        assertTrue(order.get(0).isAttach(), "attach fids come first");
    }

    @Test
    void theReplayTable() {
        assertTrue(RedialingSession.replayable(new Tread(1, 0, 1)));
        assertTrue(RedialingSession.replayable(new Twalk(1, 2, List.of("a"))));
        assertTrue(RedialingSession.replayable(new Tclunk(1)));
        assertTrue(RedialingSession.replayable(new Tsetattr(1, Tsetattr.MODE, 0644, 0, 0, 0, 0, 0, 0, 0)));
        assertFalse(RedialingSession.replayable(new Tsetattr(1, Tsetattr.SIZE, 0, 0, 0, 0, 0, 0, 0, 0)));
        assertFalse(RedialingSession.replayable(new Tlcreate(1, "x", 0, 0644, 0)));
        assertFalse(RedialingSession.replayable(new Tunlinkat(1, "x", 0)));
        assertFalse(RedialingSession.replayable(new Trenameat(1, "x", 1, "y")));
        assertFalse(RedialingSession.replayable(new Tlink(1, 2, "x")));
        assertFalse(RedialingSession.replayable(new Tsymlink(1, "x", "y", 0)));
        assertFalse(RedialingSession.replayable(new Tmknod(1, "x", 0, 0, 0, 0)));
        assertFalse(RedialingSession.replayable(new Tmkdir(1, "x", 0, 0)));
        assertFalse(RedialingSession.replayable(new Tremove(1)));
        assertTrue(RedialingSession.definitive(io.c9fs.transport.Errno.ENOENT));
        assertFalse(RedialingSession.definitive(io.c9fs.transport.Errno.EIO));
        assertFalse(RedialingSession.definitive(io.c9fs.transport.Errno.EPROTO));
    }
}
