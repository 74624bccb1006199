package io.c9fs.fuse;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Encoders and decoders for the fixed kernel structures (little-endian, layouts of protocol 7.45,
 * unchanged since 7.23 for everything used here).
 */
final class FuseWire {
    /** sizeof(struct fuse_in_header). */
    static final int IN_HEADER = 40;
    /** sizeof(struct fuse_out_header). */
    static final int OUT_HEADER = 16;
    static final int ATTR_SIZE = 88;
    static final int ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
    static final int DIRENT_HEADER = 24;
    /** Names longer than this are refused by the kernel (FUSE_NAME_MAX). */
    static final int NAME_MAX = 1024;

    private FuseWire() {
    }

    static void putAttr(ByteBuffer b, Attr a) {
        b.putLong(a.ino()).putLong(a.size()).putLong(a.blocks())
                .putLong(a.atimeSec()).putLong(a.mtimeSec()).putLong(a.ctimeSec())
                .putInt(a.atimeNsec()).putInt(a.mtimeNsec()).putInt(a.ctimeNsec())
                .putInt(a.mode()).putInt(a.nlink()).putInt(a.uid()).putInt(a.gid()).putInt(a.rdev())
                .putInt(a.blksize()).putInt(0);
    }

    /** struct fuse_entry_out. A negative entry (nodeid 0) may carry a null attr. */
    static void putEntryOut(ByteBuffer b, EntryOut e) {
        long entryValid = Math.max(0, e.entryValidNanos());
        long attrValid = Math.max(0, e.attrValidNanos());
        b.putLong(e.nodeid()).putLong(e.generation())
                .putLong(entryValid / 1_000_000_000L).putLong(attrValid / 1_000_000_000L)
                .putInt((int) (entryValid % 1_000_000_000L)).putInt((int) (attrValid % 1_000_000_000L));
        if (e.attr() != null) {
            putAttr(b, e.attr());
        } else {
            b.put(new byte[ATTR_SIZE]);
        }
    }

    /** struct fuse_attr_out. */
    static void putAttrOut(ByteBuffer b, AttrOut a) {
        long valid = Math.max(0, a.attrValidNanos());
        b.putLong(valid / 1_000_000_000L).putInt((int) (valid % 1_000_000_000L)).putInt(0);
        putAttr(b, a.attr());
    }

    /** struct fuse_open_out (backing_id 0: no passthrough). */
    static void putOpenOut(ByteBuffer b, OpenOut o) {
        b.putLong(o.fh()).putInt(o.openFlags()).putInt(0);
    }

    /** struct fuse_file_lock. */
    static void putLock(ByteBuffer b, FileLock l) {
        b.putLong(l.start()).putLong(l.end()).putInt(l.type()).putInt(l.pid());
    }

    static FileLock getLock(ByteBuffer b, int at) {
        return new FileLock(b.getLong(at), b.getLong(at + 8), b.getInt(at + 16), b.getInt(at + 20));
    }

    /** Size of a dirent (or the dirent part of a direntplus) for a name, padded to 8 (FUSE_DIRENT_ALIGN). */
    static int direntSize(int nameLength) {
        return (DIRENT_HEADER + nameLength + 7) & ~7;
    }

    /** struct fuse_dirent plus the name and zero padding. */
    static void putDirent(ByteBuffer b, long ino, long nextOffset, int dtype, byte[] name) {
        int start = b.position();
        b.putLong(ino).putLong(nextOffset).putInt(name.length).putInt(dtype).put(name);
        int end = start + direntSize(name.length);
        while (b.position() < end) {
            b.put((byte) 0);
        }
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Index of the NUL ending the string that starts at {@code from}; -1 if none before {@code end}. */
    static int nul(ByteBuffer b, int from, int end) {
        for (int i = from; i < end; i++) {
            if (b.get(i) == 0) {
                return i;
            }
        }
        return -1;
    }

    static String string(ByteBuffer b, int from, int to) {
        byte[] raw = new byte[to - from];
        b.get(from, raw);
        return new String(raw, StandardCharsets.UTF_8);
    }
}
