package io.c9fs.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FileNodeTest {
    /**
     * The watcher stats the file while the server's pwrite is half done (the file partly
     * extended) and judges the event after the write ended: that stat shows the server's own
     * change, not a local one, although no version was recorded for what it saw.
     */
    @Test
    void aStatTakenDuringTheServersChangeShowsOnlyItsOwn() {
        FileNode n = new FileNode(42);
        n.changing();
        long begun = n.changesBegun();
        assertEquals(FileNode.IN_PROGRESS, begun);
        // ...the stat here sees the file half written...
        n.changed(7);
        assertTrue(n.showsOnlyOwnChanges(null, null, begun));
    }

    @Test
    void aChangeBegunAfterTheSnapshotIsTheServers() {
        FileNode n = new FileNode(43);
        n.changing();
        n.changed(1);
        long begun = n.changesBegun();
        assertEquals(1, begun);
        n.changing();
        n.changed(2);
        assertTrue(n.showsOnlyOwnChanges(null, null, begun));
    }
}
