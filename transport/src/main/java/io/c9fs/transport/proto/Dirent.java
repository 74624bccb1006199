package io.c9fs.transport.proto;

/**
 * One entry of a 9P2000.L Rreaddir: qid[13] offset[8] type[1] name[s]. {@code offset} is the
 * cookie a later Treaddir passes to continue after this entry; {@code type} is the dirent DT_*
 * value.
 */
public record Dirent(Qid qid, long offset, int type, String name) {
    public Dirent {
        java.util.Objects.requireNonNull(qid, "qid");
        java.util.Objects.requireNonNull(name, "name");
    }

    /** Bytes this entry takes in an Rreaddir payload (name length in UTF-8). */
    public int encodedSize() {
        return Qid.SIZE + 8 + 1 + 2 + Strings.utf8Length(name);
    }
}
