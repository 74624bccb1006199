package io.c9fs.fuse;

import java.util.List;

/**
 * How to mount a {@link FuseFilesystem}.
 *
 * @param fsname         the mount source shown in /proc/mounts
 * @param subtype        the type suffix: the mount appears as "fuse.SUBTYPE"
 * @param readOnly       MS_RDONLY
 * @param allowOther     let other users than the mounter in (allow_other)
 * @param workers        threads reading /dev/fuse (at least 2: see FuseNotifier)
 * @param maxWrite       largest WRITE/READ payload, ≤ 1 MiB (max_pages 256)
 * @param writebackCache negotiate FUSE_WRITEBACK_CACHE (write() buffered by the kernel)
 * @param useFusermount  mount through fusermount3 even when root
 * @param extra          further mount options: "default_permissions", "nonempty" (allow a non-empty mountpoint),
 *                       "max_read=N"
 */
public record MountOptions(String fsname, String subtype, boolean readOnly, boolean allowOther, int workers,
                           int maxWrite, boolean writebackCache, boolean useFusermount, List<String> extra) {
    public static final int MAX_WRITE_LIMIT = 1 << 20;

    public MountOptions {
        if (fsname == null || fsname.isEmpty() || fsname.contains(",")) {
            throw new IllegalArgumentException("bad fsname: " + fsname);
        }
        if (subtype == null || subtype.isEmpty() || subtype.contains(",")) {
            throw new IllegalArgumentException("bad subtype: " + subtype);
        }
        if (workers < 2) {
            throw new IllegalArgumentException("workers must be >= 2: a notifier may wait for a worker");
        }
        if (maxWrite < 4096 || maxWrite > MAX_WRITE_LIMIT) {
            throw new IllegalArgumentException("maxWrite out of [4096, 1 MiB]: " + maxWrite);
        }
        extra = List.copyOf(extra);
    }

    /** fsname, subtype "c9fs", read-write, 8 workers, 1 MiB writes, no writeback cache, mount(2) when root. */
    public static MountOptions defaults(String fsname) {
        return new MountOptions(fsname, "c9fs", false, false, 8, MAX_WRITE_LIMIT, false, false, List.of());
    }

    public MountOptions withUseFusermount(boolean on) {
        return new MountOptions(fsname, subtype, readOnly, allowOther, workers, maxWrite, writebackCache, on, extra);
    }

    public MountOptions withWorkers(int n) {
        return new MountOptions(fsname, subtype, readOnly, allowOther, n, maxWrite, writebackCache, useFusermount,
                extra);
    }

    public MountOptions withWritebackCache(boolean on) {
        return new MountOptions(fsname, subtype, readOnly, allowOther, workers, maxWrite, on, useFusermount, extra);
    }

    public MountOptions withExtra(List<String> options) {
        return new MountOptions(fsname, subtype, readOnly, allowOther, workers, maxWrite, writebackCache,
                useFusermount, options);
    }

    boolean has(String option) {
        return extra.contains(option);
    }
}
