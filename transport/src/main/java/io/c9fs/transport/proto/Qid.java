package io.c9fs.transport.proto;

/**
 * The server's unique identification of a file (intro(5)): {@code path} is unique among all files
 * of the hierarchy and stable for the file's lifetime, {@code version} changes whenever the file
 * is modified, {@code type} holds the QT* bits (directory, append-only, ...).
 * Encoded as type[1] version[4] path[8]: 13 bytes.
 */
public record Qid(int type, int version, long path) {
    public static final int SIZE = 13;

    public static final int QTDIR = 0x80;
    public static final int QTAPPEND = 0x40;
    public static final int QTEXCL = 0x20;
    public static final int QTMOUNT = 0x10;
    public static final int QTAUTH = 0x08;
    public static final int QTTMP = 0x04;
    public static final int QTSYMLINK = 0x02;
    public static final int QTLINK = 0x01;
    public static final int QTFILE = 0x00;

    public Qid {
        if ((type & ~0xFF) != 0) {
            throw new IllegalArgumentException("qid type is one byte: " + type);
        }
    }

    public boolean isDir() {
        return (type & QTDIR) != 0;
    }

    public boolean isSymlink() {
        return (type & QTSYMLINK) != 0;
    }

    @Override
    public String toString() {
        return String.format("(%016x %d %02x)", path, Integer.toUnsignedLong(version), type);
    }
}
