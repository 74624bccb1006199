package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.fuse.FuseException;
import io.c9fs.transport.proto.Qid;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The nodeid table on its own: lookup counts, hard links, fid hand-over, paths. */
class NodeTableTest {
    private final List<Integer> clunked = new ArrayList<>();
    private final List<Integer> retired = new ArrayList<>();
    private final NodeTable table = new NodeTable(new Qid(Qid.QTDIR, 0, 1), 100, clunked::add, retired::add);

    private static Qid file(long path) {
        return new Qid(Qid.QTFILE, 0, path);
    }

    @Test
    void aNodeLivesUntilItsLastLookupIsForgotten() throws Exception {
        Node a = table.link(NodeTable.ROOT, "a", file(7), 1, 0);
        Node again = table.link(NodeTable.ROOT, "a", file(7), 2, 0);
        assertSame(a, again);
        assertEquals(1, a.fid, "the same path again: the node keeps its fid");
        assertEquals(List.of(2), clunked);
        Node other = table.link(NodeTable.ROOT, "b", file(7), 3, 0);
        assertSame(a, other);
        assertEquals(3, a.fid, "another path to the file: the fresh fid wins");
        assertEquals(List.of(1), retired, "the older fid is retired, not clunked at once");
        assertFalse(table.forget(a.nodeid, 2));
        assertSame(a, table.get(a.nodeid));
        assertTrue(table.forget(a.nodeid, 1));
        assertEquals(List.of(2, 3), clunked);
        assertThrows(FuseException.class, () -> table.get(a.nodeid));
        Node reborn = table.link(NodeTable.ROOT, "a", file(7), 4, 0);
        assertNotEquals(a.nodeid, reborn.nodeid, "nodeids are never reused");
    }

    @Test
    void hardLinksShareOneNode() {
        Node d = table.link(NodeTable.ROOT, "d", new Qid(Qid.QTDIR, 0, 8), 1, 0);
        Node x = table.link(NodeTable.ROOT, "x", file(9), 2, 0);
        Node y = table.link(d.nodeid, "y", file(9), 3, 0);
        assertSame(x, y);
        assertEquals(List.of("d", "y"), table.pathOf(x));
    }

    @Test
    void theRootKeepsItsAttachFid() {
        Node r = table.link(NodeTable.ROOT, "..", new Qid(Qid.QTDIR, 0, 1), 5, 0);
        assertSame(table.root(), r);
        assertEquals(100, r.fid);
        assertEquals(List.of(5), clunked);
        assertFalse(table.forget(NodeTable.ROOT, 10));
        assertSame(table.root(), table.byQidPath(1));
    }

    @Test
    void aDirectoryRenameMakesOlderFidsSuspect() {
        Node d = table.link(NodeTable.ROOT, "d", new Qid(Qid.QTDIR, 0, 8), 1, table.epoch());
        Node f = table.link(d.nodeid, "f", file(9), 2, table.epoch());
        assertFalse(table.suspect(f));
        table.renamedDirectory();
        table.refresh(d.qid, 3, table.epoch(), NodeTable.ROOT, "e");
        assertFalse(table.suspect(d));
        assertTrue(table.suspect(f));
        assertFalse(table.suspect(table.root()));
        assertEquals(List.of("e", "f"), table.pathOf(f));
        assertTrue(table.swap(f, 4, table.epoch()));
        assertFalse(table.suspect(f));
        assertEquals(List.of(1, 2), retired);
    }

    @Test
    void aDirectoryFoundUnderANewNameMakesItsDescendantsSuspect() {
        Node d = table.link(NodeTable.ROOT, "d", new Qid(Qid.QTDIR, 0, 8), 1, table.epoch());
        Node f = table.link(d.nodeid, "f", file(9), 2, table.epoch());
        // another client renamed d to e; the kernel looks e up and finds the same directory
        Node e = table.link(NodeTable.ROOT, "e", new Qid(Qid.QTDIR, 0, 8), 3, table.epoch());
        assertSame(d, e);
        assertTrue(table.suspect(f));
        // so the next walk of f, by the same name below it, replaces f's old fid
        assertSame(f, table.link(d.nodeid, "f", file(9), 4, table.epoch()));
        assertEquals(4, f.fid);
        assertEquals(List.of("e", "f"), table.pathOf(f));
    }

    @Test
    void aBrokenParentChainHasNoPath() {
        Node d = table.link(NodeTable.ROOT, "d", new Qid(Qid.QTDIR, 0, 8), 1, 0);
        Node f = table.link(d.nodeid, "f", file(9), 2, 0);
        table.forget(d.nodeid, 1);
        assertNull(table.pathOf(f));
        table.refresh(file(99), 6, 0, NodeTable.ROOT, "nobody");
        assertTrue(clunked.contains(6));
    }

    @Test
    void aListedNodeHasNoFidUntilOneIsWalkedAndCountsItsLookups() throws Exception {
        Node a = table.linkListed(NodeTable.ROOT, "a", file(7), 0, false);
        assertEquals(io.c9fs.transport.proto.Message.NOFID, a.fid);
        assertNull(table.refSamePath(NodeTable.ROOT, "a", 7), "no fid to reuse");
        assertSame(a, table.linkListed(NodeTable.ROOT, "a", file(7), 0, false));
        assertTrue(table.install(a, 5, 0));
        assertEquals(5, a.fid);
        assertFalse(table.install(a, 6, 0), "a second walk loses: its fid is the caller's to clunk");
        assertFalse(table.forget(a.nodeid, 1));
        assertTrue(table.forget(a.nodeid, 1));
        assertEquals(List.of(5), clunked);
        Node b = table.linkListed(NodeTable.ROOT, "b", file(8), 0, false);
        Node walked = table.link(NodeTable.ROOT, "b", file(8), 9, 0);
        assertSame(b, walked);
        assertEquals(9, b.fid, "a LOOKUP's walk gives a listed node its fid");
        assertEquals(List.of(5), clunked);
        assertTrue(retired.isEmpty());
        Node c = table.linkListed(NodeTable.ROOT, "c", file(10), 0, false);
        assertTrue(table.forget(c.nodeid, 1));
        assertEquals(List.of(5), clunked, "no fid, nothing to clunk");
        assertFalse(table.install(c, 11, 0), "forgotten");
        Node known = table.link(NodeTable.ROOT, "k", file(12), 13, 0);
        assertSame(known, table.linkListed(NodeTable.ROOT, "k2", file(12), 0, false));
        assertEquals(13, known.fid, "a listed name of a node with a fid keeps that fid");
        assertEquals("k", known.name);
        Node d = table.linkListed(NodeTable.ROOT, "d", file(14), 0, false);
        table.clear();
        assertEquals(java.util.Set.of(5, 9, 13), new java.util.HashSet<>(clunked), "no NOFID clunked");
        assertEquals(3, clunked.size());
        assertThrows(FuseException.class, () -> table.get(d.nodeid));
    }

    @Test
    void aForgottenNodeReturnsTheListingLeasesItStoodForUnlessAllWereDropped() {
        List<String> unlisted = new java.util.ArrayList<>();
        table.onUnlisted((path, count) -> unlisted.add(path + "x" + count));
        Node a = table.linkListed(NodeTable.ROOT, "a", file(7), 0, true);
        assertSame(a, table.linkListed(NodeTable.ROOT, "a", file(7), 0, true));
        table.linkListed(NodeTable.ROOT, "a", file(7), 0, false);
        assertFalse(table.forget(a.nodeid, 2));
        assertTrue(unlisted.isEmpty(), "still held by the kernel");
        assertTrue(table.forget(a.nodeid, 1));
        assertEquals(List.of("7x2"), unlisted);
        Node b = table.linkListed(NodeTable.ROOT, "b", file(8), 0, true);
        long before = table.recallEpoch();
        table.droppedAll();
        assertTrue(table.recallEpoch() > before);
        assertTrue(table.forget(b.nodeid, 1));
        assertEquals(List.of("7x2"), unlisted, "the server may have ended them: nothing to return");
    }
}
