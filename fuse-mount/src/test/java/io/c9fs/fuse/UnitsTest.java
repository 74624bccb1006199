package io.c9fs.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/** Small pieces of the layer that need no kernel: interrupt bookkeeping, options, INIT flags. */
class UnitsTest {

    @Test
    void interruptActionRunsOnceWhicheverComesFirst() {
        AtomicInteger runs = new AtomicInteger();
        InflightRequest before = new InflightRequest(1, 0, 0, 0);
        before.onInterrupt(runs::incrementAndGet);
        assertFalse(before.interrupted());
        before.interrupt();
        before.interrupt();
        assertTrue(before.interrupted());
        assertEquals(1, runs.get());

        InflightRequest after = new InflightRequest(2, 0, 0, 0);
        after.interrupt();
        after.onInterrupt(runs::incrementAndGet);
        assertEquals(2, runs.get(), "registering after the interrupt runs the action at once");

        InflightRequest replaced = new InflightRequest(3, 0, 0, 0);
        replaced.onInterrupt(() -> runs.addAndGet(100));
        replaced.onInterrupt(runs::incrementAndGet);
        replaced.interrupt();
        assertEquals(3, runs.get(), "a later registration replaces one that has not run");
    }

    @Test
    void mountOptionsValidate() {
        MountOptions d = MountOptions.defaults("srv");
        assertEquals("c9fs", d.subtype());
        assertEquals(8, d.workers());
        assertEquals(1 << 20, d.maxWrite());
        assertFalse(d.writebackCache());
        assertThrows(IllegalArgumentException.class, () -> d.withWorkers(1));
        assertThrows(IllegalArgumentException.class, () -> MountOptions.defaults("a,b"));
        assertThrows(IllegalArgumentException.class,
                () -> new MountOptions("x", "c9fs", false, false, 2, 2 << 20, false, false, List.of()));
        assertTrue(d.withExtra(List.of("nonempty")).has("nonempty"));
    }

    @Test
    void initWantsExplicitInvalidationAndOnlyOptionalExtras() {
        MountOptions d = MountOptions.defaults("srv");
        long plain = InitHandshake.wanted(d, false);
        assertEquals(0, plain & InitHandshake.AUTO_INVAL_DATA);
        assertEquals(InitHandshake.EXPLICIT_INVAL_DATA, plain & InitHandshake.EXPLICIT_INVAL_DATA);
        assertEquals(0, plain & InitHandshake.POSIX_LOCKS);
        assertEquals(0, plain & InitHandshake.WRITEBACK_CACHE);
        // FUSE_POSIX_ACL implies default_permissions: only for a filesystem that asks for it.
        assertEquals(0, plain & InitHandshake.POSIX_ACL);
        assertEquals(InitHandshake.POSIX_ACL, InitHandshake.wanted(d, false, true) & InitHandshake.POSIX_ACL);
        // FUSE_HANDLE_KILLPRIV_V2 hands the clearing of setuid/setgid to the filesystem: only if it does it.
        assertEquals(0, plain & InitHandshake.HANDLE_KILLPRIV_V2);
        assertEquals(InitHandshake.HANDLE_KILLPRIV_V2,
                InitHandshake.wanted(d, false, false, true) & InitHandshake.HANDLE_KILLPRIV_V2);
        long all = InitHandshake.wanted(d.withWritebackCache(true), true);
        assertEquals(InitHandshake.POSIX_LOCKS | InitHandshake.WRITEBACK_CACHE,
                all & (InitHandshake.POSIX_LOCKS | InitHandshake.WRITEBACK_CACHE));
    }

    @Test
    void direntSizesArePaddedToEight() {
        assertEquals(24, FuseWire.direntSize(0));
        assertEquals(32, FuseWire.direntSize(1));
        assertEquals(32, FuseWire.direntSize(8));
        assertEquals(40, FuseWire.direntSize(9));
    }
}
