package io.c9fs.transport;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.proto.Qid;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

class QidTest {
    @Test
    void typeIsOneByte() {
        assertThrows(IllegalArgumentException.class, () -> new Qid(0x100, 0, 0));
    }

    @Property(tries = 50)
    void dirBit(@ForAll long path) {
        assertTrue(new Qid(Qid.QTDIR, 0, path).isDir());
    }
}
