package io.c9fs.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Attrs.ioBlksize: a power of two between 4 KiB and 1 MiB, no larger than one message's payload. */
class AttrsTest {
    @Test
    void theBlockSizeIsThePowerOfTwoThatFitsOneMessage() {
        assertEquals(1 << 20, Attrs.ioBlksize(1 << 20), "the default msize: 1 MiB of data");
        assertEquals(32 << 10, Attrs.ioBlksize((64 << 10) - 24), "diod's 64 KiB msize less the header");
        assertEquals(1 << 20, Attrs.ioBlksize(8 << 20), "capped at 1 MiB");
        assertEquals(4096, Attrs.ioBlksize(1000), "never below a page");
    }
}
