package io.c9fs.mount;

import io.c9fs.transport.proto.Message.Rgetattr;

/**
 * What identifies one version of a file's data as far as a client can tell: the server's data
 * version (9P2000.L data_version, where the server fills it), the qid version, and mtime and size
 * for servers that never change either version (diod reports 0).
 */
public record FileStamp(long dataVersion, int qidVersion, long mtimeSec, long mtimeNsec, long size) {

    /** The stamp of freshly fetched attributes. */
    public static FileStamp of(Rgetattr a) {
        long dv = (a.valid() & Rgetattr.DATA_VERSION) != 0 ? a.dataVersion() : 0;
        return new FileStamp(dv, a.qid().version(), a.mtimeSec(), a.mtimeNsec(), a.size());
    }
}
