package io.c9fs.server;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a directory opened for I/O with getdents64(2). Offsets handed to clients are the
 * filesystem's own d_off cookies, so they stay valid across calls and across entries being added
 * or removed (ext4 hashes, tmpfs stable offsets) exactly as for a local readdir(3) with
 * telldir/seekdir. Every batch starts with an lseek to the client's cookie: entries read but not
 * sent are read again next time.
 *
 * <p>Threading: owned by one {@link Fid}; its requests are serialized.
 */
final class DirCursor {
    /** One linux_dirent64. */
    record Entry(long ino, long off, int type, String name) {
    }

    private final int fd;
    private final ByteBuffer buf;
    /** 9P2000 directory reads: the byte offset the next Tread must ask for, and entries not yet sent. */
    long statStreamOffset;
    final ArrayDeque<Entry> queued = new ArrayDeque<>();

    DirCursor(int fd, int bufSize) {
        this.fd = fd;
        this.buf = ByteBuffer.allocateDirect(Math.max(bufSize, 4096)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Entries from cookie {@code offset} on (0 = the start); an empty list at the end. */
    List<Entry> read(long offset) throws ErrnoException {
        Posix.lseek(fd, offset);
        return next();
    }

    /** Entries from where the last batch stopped. */
    List<Entry> next() throws ErrnoException {
        int n = Posix.getdents64(fd, buf);
        List<Entry> out = new ArrayList<>();
        int p = 0;
        byte[] name = new byte[256];
        while (p < n) {
            long ino = buf.getLong(p);
            long off = buf.getLong(p + 8);
            int reclen = buf.getShort(p + 16) & 0xFFFF;
            int type = buf.get(p + 18) & 0xFF;
            int len = 0;
            while (p + 19 + len < p + reclen && buf.get(p + 19 + len) != 0) {
                name[len] = buf.get(p + 19 + len);
                len++;
            }
            out.add(new Entry(ino, off, type, new String(name, 0, len, StandardCharsets.UTF_8)));
            p += reclen;
        }
        return out;
    }

    /** Repositions at {@code offset} without reading. */
    void seek(long offset) throws ErrnoException {
        Posix.lseek(fd, offset);
    }
}
