package io.c9fs.transport.proto;

/**
 * The machine-independent directory entry of 9P2000 (stat(5)), with the 9P2000.u extension
 * fields. In plain 9P2000 the extension fields are not on the wire: {@code extension} decodes as
 * "" and the numeric ids as {@link #NONUNAME}.
 *
 * <p>In Twstat a field holding its "don't touch" value (all ones for integers, "" for strings)
 * is left unchanged by the server.
 */
public record Stat(
        int type,
        int dev,
        Qid qid,
        int mode,
        int atime,
        int mtime,
        long length,
        String name,
        String uid,
        String gid,
        String muid,
        String extension,
        int nUid,
        int nGid,
        int nMuid) {

    /** The numeric id meaning "none" in 9P2000.u (~0). */
    public static final int NONUNAME = -1;

    /** DM* mode bits (stat(5)); the low 9 bits are the permission bits. */
    public static final int DMDIR = 0x80000000;
    public static final int DMAPPEND = 0x40000000;
    public static final int DMEXCL = 0x20000000;
    public static final int DMMOUNT = 0x10000000;
    public static final int DMAUTH = 0x08000000;
    public static final int DMTMP = 0x04000000;
    /** 9P2000.u additions. */
    public static final int DMSYMLINK = 0x02000000;
    public static final int DMDEVICE = 0x00800000;
    public static final int DMNAMEDPIPE = 0x00200000;
    public static final int DMSOCKET = 0x00100000;
    public static final int DMSETUID = 0x00080000;
    public static final int DMSETGID = 0x00040000;

    public Stat {
        java.util.Objects.requireNonNull(qid, "qid");
        java.util.Objects.requireNonNull(name, "name");
        java.util.Objects.requireNonNull(uid, "uid");
        java.util.Objects.requireNonNull(gid, "gid");
        java.util.Objects.requireNonNull(muid, "muid");
        java.util.Objects.requireNonNull(extension, "extension");
    }

    /** A stat for Twstat with every field set to "don't touch". */
    public static Stat dontTouch() {
        return new Stat(0xFFFF, -1, new Qid(0xFF, -1, -1L), -1, -1, -1, -1L,
                "", "", "", "", "", NONUNAME, NONUNAME, NONUNAME);
    }
}
