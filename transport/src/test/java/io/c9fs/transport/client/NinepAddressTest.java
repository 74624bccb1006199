package io.c9fs.transport.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class NinepAddressTest {
    @Test
    void formsParseAndRoundTrip() {
        assertEquals(NinepAddress.tcp("localhost", 564), NinepAddress.parse("localhost"));
        assertEquals(NinepAddress.tcp("10.0.0.1", 5640), NinepAddress.parse("10.0.0.1:5640"));
        assertEquals(NinepAddress.tcp("srv", 7), NinepAddress.parse("tcp!srv!7"));
        assertEquals(NinepAddress.tcp("::1", 9), NinepAddress.parse("[::1]:9"));
        assertEquals(NinepAddress.unix("/run/9p.sock"), NinepAddress.parse("unix:/run/9p.sock"));
        for (String s : new String[] {"h:1", "[::1]:9", "unix:/a/b", "tcp!h!2"}) {
            NinepAddress a = NinepAddress.parse(s);
            assertEquals(a, NinepAddress.parse(a.toString()), s);
        }
        assertTrue(NinepAddress.parse("unix:/x").isUnix());
    }

    @Test
    void garbageIsRefusedWithTheText() {
        for (String bad : new String[] {"h:notaport", "unix:relative", "h:70000", "::1:5", "tcp!a!b!c", ""}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NinepAddress.parse(bad), bad);
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
    }
}
