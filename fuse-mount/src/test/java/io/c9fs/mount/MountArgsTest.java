package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class MountArgsTest {
    @Test
    void optionsAreParsed() throws Exception {
        MountArgs a = MountArgs.parse(new String[] {"tcp!srv!564", "/mnt/x", "-o",
                "ro,msize=8192,actimeo=0.5,allow_other,uname=glenda,aname=/exp", "-otimeout=7", "-f"});
        assertEquals("tcp!srv!564", a.address());
        assertEquals(Path.of("/mnt/x"), a.mountpoint());
        assertTrue(a.readOnly() && a.allowOther() && a.foreground());
        assertEquals(8192, a.msize());
        assertEquals(Duration.ofMillis(500), a.attrTimeout());
        assertEquals(Duration.ofSeconds(7), a.timeout());
        assertEquals("glenda", a.uname());
        assertEquals("/exp", a.aname());
        assertEquals("9P2000.L.c9", a.version(), "leases asked for by default");
        assertEquals(List.of(), a.fuseOptions());
        assertEquals("9P2000.L", MountArgs.parse(new String[] {"h:1", "m", "-o", "noleases"}).version());
        MountArgs b = MountArgs.parse(new String[] {"h:1", "m", "-o", "default_permissions,nonempty,version=9P2000.u"});
        assertEquals(List.of("default_permissions", "nonempty"), b.fuseOptions());
        assertEquals("9P2000.u", b.version());
    }

    @Test
    void aclsAreServedUnlessToldOtherwiseAndTheLastWordCounts() throws Exception {
        assertEquals(MountArgs.Acls.SERVED, MountArgs.parse(new String[] {"h:1", "m"}).acls());
        assertEquals(MountArgs.Acls.KEPT, MountArgs.parse(new String[] {"h:1", "m", "-o", "aclcache"}).acls());
        assertEquals(MountArgs.Acls.HIDDEN, MountArgs.parse(new String[] {"h:1", "m", "-o", "noacl"}).acls());
        assertEquals(MountArgs.Acls.SERVED, MountArgs.parse(new String[] {"h:1", "m", "-o", "noacl,acl"}).acls());
        assertEquals(MountArgs.Acls.HIDDEN, MountArgs.parse(new String[] {"h:1", "m", "-o", "aclcache", "-o", "noacl"}).acls());
        assertTrue(MountArgs.USAGE.contains("noacl"));
    }

    @Test
    void hardIsTheDefaultSoftTakesTimeo() throws Exception {
        assertEquals(null, MountArgs.parse(new String[] {"h:1", "m"}).softTimeout());
        assertEquals(null, MountArgs.parse(new String[] {"h:1", "m", "-o", "soft,hard"}).softTimeout());
        assertEquals(Duration.ofSeconds(10), MountArgs.parse(new String[] {"h:1", "m", "-o", "soft"}).softTimeout());
        assertEquals(Duration.ofMillis(2500),
                MountArgs.parse(new String[] {"h:1", "m", "-o", "soft,timeo=2.5"}).softTimeout());
        assertThrows(MountArgs.UsageException.class,
                () -> MountArgs.parse(new String[] {"h:1", "m", "-o", "soft,timeo=0"}));
        assertTrue(MountArgs.USAGE.contains("soft") && MountArgs.USAGE.contains("timeo=S"));
    }

    @Test
    void defaults() throws Exception {
        MountArgs a = MountArgs.parse(new String[] {"h:1", "m"});
        assertFalse(a.readOnly() || a.foreground() || a.unmount() || a.notifyReady());
        assertEquals(Duration.ofSeconds(1), a.attrTimeout());
        assertEquals(Duration.ofSeconds(30), a.timeout());
        assertEquals((1 << 20) + 24, a.msize());
        assertEquals("", a.aname());
    }

    @Test
    void unmountAndChildFlags() throws Exception {
        MountArgs u = MountArgs.parse(new String[] {"-u", "/mnt/x"});
        assertTrue(u.unmount());
        assertEquals(Path.of("/mnt/x"), u.mountpoint());
        List<String> child = MountArgs.childArgs(new String[] {"h:1", "m", "-o", "ro"});
        MountArgs c = MountArgs.parse(child.toArray(new String[0]));
        assertTrue(c.foreground() && c.notifyReady() && c.readOnly());
    }

    @Test
    void mistakesAreRefused() {
        assertThrows(MountArgs.UsageException.class, () -> MountArgs.parse(new String[] {"h:1"}));
        assertThrows(MountArgs.UsageException.class, () -> MountArgs.parse(new String[] {"h:1", "m", "-o", "msize=x"}));
        assertThrows(MountArgs.UsageException.class, () -> MountArgs.parse(new String[] {"h:1", "m", "-o", "msize=10"}));
        assertThrows(MountArgs.UsageException.class, () -> MountArgs.parse(new String[] {"h:1", "m", "-o", "actimeo=-1"}));
        assertThrows(MountArgs.UsageException.class, () -> MountArgs.parse(new String[] {"h:1", "m", "-x"}));
        assertThrows(MountArgs.UsageException.class, () -> MountArgs.parse(new String[] {"h:1", "m", "-o"}));
        assertThrows(MountArgs.UsageException.class, () -> MountArgs.parse(new String[] {"-u"}));
    }
}
