package io.c9fs.transport.proto;

import io.netty.buffer.ByteBuf;
import java.util.List;
import java.util.Objects;

/**
 * Every 9P message c9fs knows, as immutable records, without the tag (the tag belongs to the
 * exchange, see {@link Fcall}). Field names follow the manual pages (intro(5) .. wstat(5) for
 * 9P2000, the diod/Linux protocol description for 9P2000.L). Unsigned wire integers are held
 * in the next Java type that fits them without sign trouble where that matters for arithmetic
 * (u32 counts and offsets as int, compared with Integer.compareUnsigned; u64 as long).
 *
 * <p>Which dialect may carry a message is the codec's business ({@code Codec} of each dialect);
 * a record is the same whatever dialect carries it, with dialect-only fields (9P2000.u's
 * n_uname, extension, errno) holding neutral values where absent.
 *
 * <p>Ownership: {@link Twrite} and {@link Rread} carry a {@link ByteBuf} slice of the frame they
 * came in (or of the caller's buffer when sent). Whoever holds such a message owns one
 * reference and must {@link #release()} it; every other message's release is a no-op.
 */
public sealed interface Message {

    /** The message type number on the wire (T types are even, R types odd). */
    int type();

    /** Releases the payload buffer, if the message has one. */
    default void release() {
    }

    /** True for requests (T-messages). */
    default boolean isRequest() {
        return (type() & 1) == 0;
    }

    /** The fid that does not exist: NOFID = ~0. */
    int NOFID = -1;
    /** The tag of Tversion: NOTAG = ~0 (16 bits). */
    int NOTAG = 0xFFFF;
    /** At most this many names in one Twalk (walk(5)). */
    int MAXWELEM = 16;
    /** The fixed header: size[4] type[1] tag[2]. */
    int HEADER = 7;
    /** Header bytes of Tread/Rread/Twrite above the data: the largest is Twrite's. */
    int IOHDRSZ = 24;

    // ---------------------------------------------------------------- 9P2000 (all dialects)

    record Tversion(int msize, String version) implements Message {
        public Tversion { Objects.requireNonNull(version); }
        public int type() { return 100; }
    }

    record Rversion(int msize, String version) implements Message {
        public Rversion { Objects.requireNonNull(version); }
        public int type() { return 101; }
    }

    /** {@code nUname} is 9P2000.u/.L only ({@link Stat#NONUNAME} when absent). */
    record Tauth(int afid, String uname, String aname, int nUname) implements Message {
        public Tauth { Objects.requireNonNull(uname); Objects.requireNonNull(aname); }
        public int type() { return 102; }
    }

    record Rauth(Qid aqid) implements Message {
        public Rauth { Objects.requireNonNull(aqid); }
        public int type() { return 103; }
    }

    /** {@code nUname} is 9P2000.u/.L only ({@link Stat#NONUNAME} when absent). */
    record Tattach(int fid, int afid, String uname, String aname, int nUname) implements Message {
        public Tattach { Objects.requireNonNull(uname); Objects.requireNonNull(aname); }
        public int type() { return 104; }
    }

    record Rattach(Qid qid) implements Message {
        public Rattach { Objects.requireNonNull(qid); }
        public int type() { return 105; }
    }

    /** 9P2000 and 9P2000.u error; {@code errno} is on the wire in 9P2000.u only (0 otherwise). */
    record Rerror(String ename, int errno) implements Message {
        public Rerror { Objects.requireNonNull(ename); }
        public int type() { return 107; }
    }

    record Tflush(int oldtag) implements Message {
        public int type() { return 108; }
    }

    record Rflush() implements Message {
        public int type() { return 109; }
    }

    record Twalk(int fid, int newfid, List<String> wnames) implements Message {
        public Twalk { wnames = List.copyOf(wnames); }
        public int type() { return 110; }
    }

    record Rwalk(List<Qid> wqids) implements Message {
        public Rwalk { wqids = List.copyOf(wqids); }
        public int type() { return 111; }
    }

    /** {@code mode} is the 9P2000 open mode byte (OREAD.. ORCLOSE). */
    record Topen(int fid, int mode) implements Message {
        public int type() { return 112; }
    }

    record Ropen(Qid qid, int iounit) implements Message {
        public Ropen { Objects.requireNonNull(qid); }
        public int type() { return 113; }
    }

    /** {@code extension} is 9P2000.u only ("" otherwise): symlink target, device spec, ... */
    record Tcreate(int fid, String name, int perm, int mode, String extension) implements Message {
        public Tcreate { Objects.requireNonNull(name); Objects.requireNonNull(extension); }
        public int type() { return 114; }
    }

    record Rcreate(Qid qid, int iounit) implements Message {
        public Rcreate { Objects.requireNonNull(qid); }
        public int type() { return 115; }
    }

    record Tread(int fid, long offset, int count) implements Message {
        public int type() { return 116; }
    }

    /** The count on the wire is {@code data.readableBytes()}. */
    record Rread(ByteBuf data) implements Message {
        public Rread { Objects.requireNonNull(data); }
        public int type() { return 117; }
        @Override public void release() { data.release(); }
    }

    /** The count on the wire is {@code data.readableBytes()}. */
    record Twrite(int fid, long offset, ByteBuf data) implements Message {
        public Twrite { Objects.requireNonNull(data); }
        public int type() { return 118; }
        @Override public void release() { data.release(); }
    }

    record Rwrite(int count) implements Message {
        public int type() { return 119; }
    }

    record Tclunk(int fid) implements Message {
        public int type() { return 120; }
    }

    record Rclunk() implements Message {
        public int type() { return 121; }
    }

    record Tremove(int fid) implements Message {
        public int type() { return 122; }
    }

    record Rremove() implements Message {
        public int type() { return 123; }
    }

    record Tstat(int fid) implements Message {
        public int type() { return 124; }
    }

    record Rstat(Stat stat) implements Message {
        public Rstat { Objects.requireNonNull(stat); }
        public int type() { return 125; }
    }

    record Twstat(int fid, Stat stat) implements Message {
        public Twstat { Objects.requireNonNull(stat); }
        public int type() { return 126; }
    }

    record Rwstat() implements Message {
        public int type() { return 127; }
    }

    // ---------------------------------------------------------------- 9P2000.L

    record Rlerror(int ecode) implements Message {
        public int type() { return 7; }
    }

    record Tstatfs(int fid) implements Message {
        public int type() { return 8; }
    }

    record Rstatfs(int fsType, int bsize, long blocks, long bfree, long bavail, long files,
                   long ffree, long fsid, int namelen) implements Message {
        public int type() { return 9; }
    }

    /** {@code flags} are Linux open(2) flags as 9P2000.L defines them (same values on x86). */
    record Tlopen(int fid, int flags) implements Message {
        public int type() { return 12; }
    }

    record Rlopen(Qid qid, int iounit) implements Message {
        public Rlopen { Objects.requireNonNull(qid); }
        public int type() { return 13; }
    }

    record Tlcreate(int fid, String name, int flags, int mode, int gid) implements Message {
        public Tlcreate { Objects.requireNonNull(name); }
        public int type() { return 14; }
    }

    record Rlcreate(Qid qid, int iounit) implements Message {
        public Rlcreate { Objects.requireNonNull(qid); }
        public int type() { return 15; }
    }

    record Tsymlink(int fid, String name, String symtgt, int gid) implements Message {
        public Tsymlink { Objects.requireNonNull(name); Objects.requireNonNull(symtgt); }
        public int type() { return 16; }
    }

    record Rsymlink(Qid qid) implements Message {
        public Rsymlink { Objects.requireNonNull(qid); }
        public int type() { return 17; }
    }

    record Tmknod(int dfid, String name, int mode, int major, int minor, int gid) implements Message {
        public Tmknod { Objects.requireNonNull(name); }
        public int type() { return 18; }
    }

    record Rmknod(Qid qid) implements Message {
        public Rmknod { Objects.requireNonNull(qid); }
        public int type() { return 19; }
    }

    record Trename(int fid, int dfid, String name) implements Message {
        public Trename { Objects.requireNonNull(name); }
        public int type() { return 20; }
    }

    record Rrename() implements Message {
        public int type() { return 21; }
    }

    record Treadlink(int fid) implements Message {
        public int type() { return 22; }
    }

    record Rreadlink(String target) implements Message {
        public Rreadlink { Objects.requireNonNull(target); }
        public int type() { return 23; }
    }

    /** {@code requestMask} holds the GETATTR_* bits of {@link Rgetattr}. */
    record Tgetattr(int fid, long requestMask) implements Message {
        public int type() { return 24; }
    }

    record Rgetattr(long valid, Qid qid, int mode, int uid, int gid, long nlink, long rdev,
                    long size, long blksize, long blocks,
                    long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec,
                    long ctimeSec, long ctimeNsec, long btimeSec, long btimeNsec,
                    long gen, long dataVersion) implements Message {
        public static final long MODE = 0x1L, NLINK = 0x2L, UID = 0x4L, GID = 0x8L, RDEV = 0x10L,
                ATIME = 0x20L, MTIME = 0x40L, CTIME = 0x80L, INO = 0x100L, SIZE = 0x200L,
                BLOCKS = 0x400L, BTIME = 0x800L, GEN = 0x1000L, DATA_VERSION = 0x2000L;
        /** Everything stat(2) returns. */
        public static final long BASIC = 0x7FFL;
        public static final long ALL = 0x3FFFL;
        public Rgetattr { Objects.requireNonNull(qid); }
        public int type() { return 25; }
    }

    /** {@code valid} holds the SETATTR_* bits naming which fields apply. */
    record Tsetattr(int fid, int valid, int mode, int uid, int gid, long size,
                    long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec) implements Message {
        public static final int MODE = 0x1, UID = 0x2, GID = 0x4, SIZE = 0x8, ATIME = 0x10,
                MTIME = 0x20, CTIME = 0x40, ATIME_SET = 0x80, MTIME_SET = 0x100;
        public int type() { return 26; }
    }

    record Rsetattr() implements Message {
        public int type() { return 27; }
    }

    /** An empty {@code name} lists the attribute names. */
    record Txattrwalk(int fid, int newfid, String name) implements Message {
        public Txattrwalk { Objects.requireNonNull(name); }
        public int type() { return 30; }
    }

    record Rxattrwalk(long size) implements Message {
        public int type() { return 31; }
    }

    record Txattrcreate(int fid, String name, long attrSize, int flags) implements Message {
        public Txattrcreate { Objects.requireNonNull(name); }
        public int type() { return 32; }
    }

    record Rxattrcreate() implements Message {
        public int type() { return 33; }
    }

    record Treaddir(int fid, long offset, int count) implements Message {
        public int type() { return 40; }
    }

    record Rreaddir(List<Dirent> entries) implements Message {
        public Rreaddir { entries = List.copyOf(entries); }
        public int type() { return 41; }
    }

    record Tfsync(int fid, int datasync) implements Message {
        public int type() { return 50; }
    }

    record Rfsync() implements Message {
        public int type() { return 51; }
    }

    /** {@code lockType}: 0 RDLCK, 1 WRLCK, 2 UNLCK; {@code flags}: 1 BLOCK, 2 RECLAIM. */
    record Tlock(int fid, int lockType, int flags, long start, long length, int procId,
                 String clientId) implements Message {
        public static final int RDLCK = 0, WRLCK = 1, UNLCK = 2;
        public static final int FLAGS_BLOCK = 1, FLAGS_RECLAIM = 2;
        public Tlock { Objects.requireNonNull(clientId); }
        public int type() { return 52; }
    }

    /** {@code status}: 0 SUCCESS, 1 BLOCKED, 2 ERROR, 3 GRACE. */
    record Rlock(int status) implements Message {
        public static final int SUCCESS = 0, BLOCKED = 1, ERROR = 2, GRACE = 3;
        public int type() { return 53; }
    }

    record Tgetlock(int fid, int lockType, long start, long length, int procId,
                    String clientId) implements Message {
        public Tgetlock { Objects.requireNonNull(clientId); }
        public int type() { return 54; }
    }

    record Rgetlock(int lockType, long start, long length, int procId,
                    String clientId) implements Message {
        public Rgetlock { Objects.requireNonNull(clientId); }
        public int type() { return 55; }
    }

    record Tlink(int dfid, int fid, String name) implements Message {
        public Tlink { Objects.requireNonNull(name); }
        public int type() { return 70; }
    }

    record Rlink() implements Message {
        public int type() { return 71; }
    }

    record Tmkdir(int dfid, String name, int mode, int gid) implements Message {
        public Tmkdir { Objects.requireNonNull(name); }
        public int type() { return 72; }
    }

    record Rmkdir(Qid qid) implements Message {
        public Rmkdir { Objects.requireNonNull(qid); }
        public int type() { return 73; }
    }

    record Trenameat(int olddirfid, String oldname, int newdirfid, String newname) implements Message {
        public Trenameat { Objects.requireNonNull(oldname); Objects.requireNonNull(newname); }
        public int type() { return 74; }
    }

    record Rrenameat() implements Message {
        public int type() { return 75; }
    }

    /** {@code flags}: 0, or AT_REMOVEDIR (0x200) to remove a directory. */
    record Tunlinkat(int dirfid, String name, int flags) implements Message {
        public static final int AT_REMOVEDIR = 0x200;
        public Tunlinkat { Objects.requireNonNull(name); }
        public int type() { return 76; }
    }

    record Runlinkat() implements Message {
        public int type() { return 77; }
    }

    // ---------------------------------------------------------------- 9P2000.L.c9 (docs/protocol.md)

    /** Lease modes of Tlease/Rlease. */
    int LEASE_NONE = 0, LEASE_READ = 1, LEASE_WRITE = 2;
    /**
     * Flag on a Tlease write: tell me whether I am the file's only holder. Rlease carries it back
     * only then (a sole write lease: the holder may write behind until a SHARE recall).
     */
    int LEASE_SOLE = 4;

    /** Asks for a lease of {@code mode} on the file {@code fid} names (0 releases it). */
    record Tlease(int fid, int mode) implements Message {
        public int type() { return 200; }
    }

    /** The lease granted, its epoch, its term in milliseconds and the file's qid now. */
    record Rlease(int mode, long epoch, int termMs, Qid qid) implements Message {
        public Rlease { Objects.requireNonNull(qid); }
        public int type() { return 201; }
    }

    /** The recall channel: held by the server until it has recalls or a third of the term passed; renews every lease. */
    record Tcallback() implements Message {
        public int type() { return 202; }
    }

    record Rcallback(int termMs, List<Recall> recalls) implements Message {
        public Rcallback { recalls = List.copyOf(recalls); }
        public int type() { return 203; }
    }

    /** Acknowledges recall {@code id}: its pages are laundered and dropped, or its attributes or name forgotten. */
    record Trecalled(long id) implements Message {
        public int type() { return 204; }
    }

    record Rrecalled() implements Message {
        public int type() { return 205; }
    }

    /**
     * Reads directory entries from {@code offset} as Treaddir does, each with its attributes
     * (the body of an Rgetattr with the BASIC fields) and flags; {@code count} bounds the reply's
     * data bytes. Attributes so learnt carry no lease (docs/protocol.md, "Treaddirattr").
     */
    record Treaddirattr(int fid, long offset, int count) implements Message {
        public int type() { return 206; }
    }

    record Rreaddirattr(List<AttrDirent> entries) implements Message {
        public Rreaddirattr { entries = List.copyOf(entries); }
        public int type() { return 207; }
    }

    /**
     * One entry of an Rreaddirattr: the Treaddir entry, flags[1] (see the constants) and the
     * attributes of the file the name was found to name when the server read it.
     */
    record AttrDirent(Dirent dirent, int flags, Rgetattr attr) {
        /** The file has a system.posix_acl_access xattr. */
        public static final int HAS_ACL_ACCESS = 0x1;
        /** The file (a directory) has a system.posix_acl_default xattr. */
        public static final int HAS_ACL_DEFAULT = 0x2;
        /**
         * The server took a read lease on the file for this listing (one more listing reference,
         * returned with {@link Tunlist}): its attributes are recalled like a walked file's.
         */
        public static final int LEASED = 0x4;
        /** qid[13] offset[8] type[1] name-length[2] flags[1] valid[8] qid[13] mode..data_version[132]. */
        public static final int FIXED = 13 + 8 + 1 + 2 + 1 + 8 + 13 + 4 * 3 + 8 * 15;
        public AttrDirent { Objects.requireNonNull(dirent); Objects.requireNonNull(attr); }
        public int encodedSize() { return FIXED + Strings.utf8Length(dirent.name()); }
    }

    /**
     * Creates {@code name} in the directory {@code dfid} and opens it with Linux {@code flags}, as
     * a Twalk of {@code dfid} to {@code fid} followed by Tlcreate on {@code fid} would; in the same
     * exchange walks {@code nodefid} (not opened) to the new file and answers its attributes, as a
     * Twalk and a Tgetattr would. Neither fid exists if it fails. 9P2000.L.c9 only
     * (docs/protocol.md, "Tlcreateattr").
     */
    record Tlcreateattr(int dfid, int fid, int nodefid, String name, int flags, int mode, int gid)
            implements Message {
        public Tlcreateattr { Objects.requireNonNull(name); }
        public int type() { return 208; }
    }

    /** The new file's qid and iounit (as Rlcreate) and its attributes (the body of an Rgetattr, BASIC). */
    record Rlcreateattr(Qid qid, int iounit, Rgetattr attr) implements Message {
        public Rlcreateattr { Objects.requireNonNull(qid); Objects.requireNonNull(attr); }
        public int type() { return 209; }
    }

    /**
     * Returns listing leases: for each file, {@code count} of the listings (Treaddirattr entries
     * flagged {@link AttrDirent#LEASED}) that named it. 9P2000.L.c9 only (docs/protocol.md,
     * "Listing leases").
     */
    record Tunlist(List<Unlist> entries) implements Message {
        public Tunlist { entries = List.copyOf(entries); }
        public int type() { return 212; }
    }

    record Runlist() implements Message {
        public int type() { return 213; }
    }

    /** One file of a Tunlist: path[8] count[4]. */
    record Unlist(long path, int count) {
        public static final int SIZE = 12;
    }

    /**
     * Presents this mount's client token: 16 random bytes (as two 64-bit halves) the mount keeps
     * for its life, across connections. The server drops at once the leases of a vanished
     * connection that presented the same token (docs/protocol.md, "Client identity").
     */
    record Tclient(long tokenHi, long tokenLo) implements Message {
        public int type() { return 210; }
    }

    /** How many vanished connections of the token the server settled (their leases dropped). */
    record Rclient(int settled) implements Message {
        public int type() { return 211; }
    }

    /**
     * One recall of an Rcallback: id[8] kind[1] path[8] offset[8] length[8] name[s]. {@code path}
     * is the qid.path of the file (or, for an entry recall, of the directory); length 0 means to
     * the end of the file.
     */
    record Recall(long id, int kind, long path, long offset, long length, String name) {
        public static final int DATA = 1, ATTR = 2, ENTRY = 3, REVOKE = 4, SHARE = 5;
        public Recall { Objects.requireNonNull(name); }
        public int encodedSize() { return 8 + 1 + 8 + 8 + 8 + 2 + Strings.utf8Length(name); }
    }
}
