package io.c9fs.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ErrnoTest {
    @Test
    void plan9StringsMapToErrno() {
        assertEquals(Errno.ENOENT, Errno.fromString("file does not exist"));
        assertEquals(Errno.ENOENT, Errno.fromString("'/usr/glenda' file does not exist"));
        assertEquals(Errno.EACCES, Errno.fromString("permission denied"));
        assertEquals(Errno.EEXIST, Errno.fromString("file already exists"));
        assertEquals(Errno.EEXIST, Errno.fromString("File exists"));
        assertEquals(Errno.ENOTEMPTY, Errno.fromString("directory not empty"));
        assertEquals(Errno.ENOTDIR, Errno.fromString("not a directory"));
        assertEquals(Errno.EISDIR, Errno.fromString("file is a directory"));
        assertEquals(Errno.EISDIR, Errno.fromString("Is a directory"));
        assertEquals(Errno.ENOENT, Errno.fromString("No such file or directory"));
        assertEquals(Errno.EIO, Errno.fromString("the cat sat on the keyboard"));
    }

    @Test
    void everyNamedErrnoSurvivesA9P2000String() {
        int named = 0;
        for (int e = 1; e < 128; e++) {
            if (!Errno.name(e).equals("E" + e)) {
                named++;
                assertEquals(e, Errno.fromString(Errno.toString9p(e)), Errno.name(e) + " via \"" + Errno.toString9p(e) + "\"");
                assertEquals(e, Errno.fromString(Errno.message(e)), Errno.name(e));
            }
        }
        assertEquals(true, named > 50, "named " + named);
        assertEquals("ENOENT", Errno.name(2));
        assertEquals("Unknown error 999", Errno.message(999));
    }
}
