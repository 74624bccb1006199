package io.c9fs.mount;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line of c9fs-mount:
 * {@code c9fs-mount ADDRESS MOUNTPOINT [-o OPTIONS] [-f]}, {@code c9fs-mount -u MOUNTPOINT},
 * {@code c9fs-mount --help}.
 *
 * @param address      the 9P server (host:port, tcp!host!port, unix:/path)
 * @param mountpoint   where to mount (or what to unmount)
 * @param unmount      -u: unmount and exit
 * @param help         --help
 * @param foreground   -f: stay in the foreground
 * @param notifyReady  internal: the detached child reports "ready" or "error: ..." on stdout
 * @param readOnly     -o ro
 * @param allowOther   -o allow_other
 * @param msize        -o msize=N, the largest 9P message asked for
 * @param version      -o version=9P2000.L
 * @param uname        -o uname=U, the user named in Tattach
 * @param aname        -o aname=A, the file tree asked for in Tattach (diod: the exported path)
 * @param attrTimeout  -o actimeo=S, entry and attribute timeout
 * @param timeout      -o timeout=S, how long one 9P request may take before calls fail with EIO
 * @param workers      -o workers=N, FUSE worker threads
 * @param log          -o log=FILE, where a detached daemon writes its messages (else nowhere)
 * @param fuseOptions  FUSE mount options passed through (default_permissions, nonempty)
 * @param softTimeout  -o soft,timeo=S: how long requests wait for a lost server before EIO; null
 *                     for -o hard (the default: wait until it is back, interruptible)
 * @param listAttrs    READDIRPLUS from Treaddirattr on a 9P2000.L.c9 connection (the default;
 *                     -o nolistattr turns it off): the server leases every file it lists
 * @param acls         what the mount does with POSIX ACLs: -o acl (the default), aclcache, noacl
 */
public record MountArgs(String address, Path mountpoint, boolean unmount, boolean help, boolean foreground,
                        boolean notifyReady, boolean readOnly, boolean allowOther, int msize, String version,
                        String uname, String aname, Duration attrTimeout, Duration timeout, int workers, Path log,
                        List<String> fuseOptions, Duration softTimeout, boolean listAttrs,
                        Acls acls) {

    /** POSIX ACLs, the xattrs system.posix_acl_access and system.posix_acl_default. */
    public enum Acls {
        /** -o acl, the default: read and written through the server, as any xattr. */
        SERVED,
        /**
         * -o aclcache: served, and under leases the kernel keeps them (FUSE_POSIX_ACL, which
         * implies default_permissions).
         */
        KEPT,
        /**
         * -o noacl: not shown, as NFS's noacl does: reading or setting one fails with EOPNOTSUPP
         * and listxattr leaves them out. The server still enforces them.
         */
        HIDDEN
    }

    /** Internal flag of the detached child. */
    static final String NOTIFY_READY = "--notify-ready";

    public static final String USAGE = String.join("\n",
            "usage: c9fs-mount ADDRESS MOUNTPOINT [-o OPTION[,OPTION...]] [-f]",
            "       c9fs-mount -u MOUNTPOINT",
            "Mounts the file tree of a 9P server (host:port, tcp!host!port, unix:/path) through FUSE.",
            "  -f                 stay in the foreground (default: detach once mounted)",
            "  -u                 unmount MOUNTPOINT",
            "options:",
            "  ro                 read-only mount",
            "  allow_other        let other users use the mount",
            "  default_permissions  let the kernel check permissions from the mode bits",
            "  nonempty           allow mounting over a directory that has entries",
            "  msize=N            largest 9P message (default 1048600: 1 MiB of data)",
            "  version=V          9P version to offer: 9P2000.L.c9 (default: 9P2000.L with leases,",
            "                     falling back to 9P2000.L), 9P2000.L, 9P2000.u, 9P2000",
            "  noleases           do not ask for leases: close-to-open consistency only",
            "  nolistattr         list directories name by name (a walk and a getattr each) instead",
            "                     of with their attributes in one message (c9fs-serve; the default,",
            "                     `listattr`, is ~2x faster for a cold ls -l)",
            "  aclcache           with leases, let the kernel keep ACLs: a second ls -l asks nothing,",
            "                     but the kernel checks permissions itself (as default_permissions)",
            "                     and each create or unlink costs its directory a getattr",
            "  noacl              do not show POSIX ACLs (EOPNOTSUPP, as NFS's noacl; the server",
            "                     still enforces them): ls -l asks once per mount, not once per file",
            "  debug              log every FUSE request and 9P message (to the log= file when detached)",
            "  uname=U            user to attach as (default: the current user)",
            "  aname=A            file tree to attach (default: empty; diod wants the export path)",
            "  actimeo=S          entry and attribute cache timeout in seconds (default 1)",
            "  timeout=S          9P request timeout in seconds; a server silent this long is taken",
            "                     as lost and redialed (default 30)",
            "  hard               when the server is lost, redial and make calls wait until it is back",
            "                     (default); a signal interrupts a waiting call (EINTR)",
            "  soft               as hard, but calls fail with EIO once the server has been away timeo",
            "  timeo=S            soft mounts: seconds of outage before calls fail (default 10)",
            "  workers=N          FUSE worker threads (default 8)",
            "  log=FILE           where the detached daemon writes its messages");

    public MountArgs {
        fuseOptions = List.copyOf(fuseOptions);
    }

    /** Thrown for a command line that cannot be run; the message is the one-line complaint. */
    public static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    public static MountArgs parse(String[] args) throws UsageException {
        List<String> positional = new ArrayList<>();
        boolean unmount = false;
        boolean help = false;
        boolean foreground = false;
        boolean notify = false;
        List<String> options = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "-h":
                case "--help":
                    help = true;
                    break;
                case "-u":
                    unmount = true;
                    break;
                case "-f":
                    foreground = true;
                    break;
                case NOTIFY_READY:
                    notify = true;
                    break;
                case "-o":
                    if (++i == args.length) {
                        throw new UsageException("-o needs an option list");
                    }
                    options.add(args[i]);
                    break;
                default:
                    if (a.startsWith("-o") && a.length() > 2) {
                        options.add(a.substring(2));
                    } else if (a.startsWith("-") && a.length() > 1) {
                        throw new UsageException("unknown flag " + a);
                    } else {
                        positional.add(a);
                    }
            }
        }
        if (help) {
            return new MountArgs(null, null, false, true, false, false, false, false, 0, null, null, null,
                    null, null, 0, null, List.of(), null, false, Acls.SERVED);
        }
        if (unmount) {
            if (positional.size() != 1) {
                throw new UsageException("-u takes exactly one MOUNTPOINT");
            }
            return new MountArgs(null, Path.of(positional.get(0)), true, false, false, false, false, false, 0,
                    null, null, null, null, null, 0, null, List.of(), null, false, Acls.SERVED);
        }
        if (positional.size() != 2) {
            throw new UsageException("need ADDRESS and MOUNTPOINT");
        }
        boolean ro = false;
        boolean allowOther = false;
        int msize = (1 << 20) + io.c9fs.transport.proto.Message.IOHDRSZ;
        // The lease extension, falling back to plain 9P2000.L where the server lacks it.
        String version = "9P2000.L.c9";
        String uname = System.getProperty("user.name", "root");
        String aname = "";
        Duration actimeo = Duration.ofSeconds(1);
        Duration timeout = Duration.ofSeconds(30);
        boolean soft = false;
        boolean listAttrs = true;
        Acls acls = Acls.SERVED;
        Duration timeo = Duration.ofSeconds(10);
        int workers = 8;
        Path log = null;
        List<String> fuse = new ArrayList<>();
        for (String list : options) {
            for (String opt : list.split(",")) {
                if (opt.isEmpty()) {
                    continue;
                }
                int eq = opt.indexOf('=');
                String key = eq < 0 ? opt : opt.substring(0, eq);
                String value = eq < 0 ? null : opt.substring(eq + 1);
                switch (key) {
                    case "ro":
                        ro = true;
                        break;
                    case "rw":
                        ro = false;
                        break;
                    case "allow_other":
                        allowOther = true;
                        break;
                    case "default_permissions":
                    case "nonempty":
                        fuse.add(key);
                        break;
                    case "msize":
                        msize = (int) number(key, value, 4096, Integer.MAX_VALUE);
                        break;
                    case "version":
                        version = text(key, value);
                        break;
                    case "noleases":
                        version = "9P2000.L";
                        break;
                    case "listattr":
                        listAttrs = true;
                        break;
                    case "nolistattr":
                        listAttrs = false;
                        break;
                    case "acl":
                        acls = Acls.SERVED;
                        break;
                    case "aclcache":
                        acls = Acls.KEPT;
                        break;
                    case "noacl":
                        acls = Acls.HIDDEN;
                        break;
                    case "debug":
                        break; // read by Main before anything logs

                    case "uname":
                        uname = text(key, value);
                        break;
                    case "aname":
                        aname = value == null ? "" : value;
                        break;
                    case "actimeo":
                        actimeo = seconds(key, value);
                        break;
                    case "timeout":
                        timeout = seconds(key, value);
                        if (timeout.isZero()) {
                            throw new UsageException("timeout must be positive");
                        }
                        break;
                    case "hard":
                        soft = false;
                        break;
                    case "soft":
                        soft = true;
                        break;
                    case "timeo":
                        timeo = seconds(key, value);
                        if (timeo.isZero()) {
                            throw new UsageException("timeo must be positive");
                        }
                        break;
                    case "workers":
                        workers = (int) number(key, value, 2, 256);
                        break;
                    case "log":
                        log = Path.of(text(key, value));
                        break;
                    default:
                        throw new UsageException("unknown option " + opt);
                }
            }
        }
        return new MountArgs(positional.get(0), Path.of(positional.get(1)), false, false, foreground, notify, ro,
                allowOther, msize, version, uname, aname, actimeo, timeout, workers, log, fuse,
                soft ? timeo : null, listAttrs, acls);
    }

    /** This command line for the detached child: foreground, reporting readiness on stdout. */
    static List<String> childArgs(String[] original) {
        List<String> out = new ArrayList<>(List.of(original));
        out.add("-f");
        out.add(NOTIFY_READY);
        return out;
    }

    private static String text(String key, String value) throws UsageException {
        if (value == null || value.isEmpty()) {
            throw new UsageException("option " + key + " needs a value");
        }
        return value;
    }

    private static long number(String key, String value, long min, long max) throws UsageException {
        try {
            long n = Long.parseLong(text(key, value));
            if (n < min || n > max) {
                throw new UsageException("option " + key + " out of range [" + min + ", " + max + "]: " + n);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException("option " + key + " is not a number: " + value);
        }
    }

    private static Duration seconds(String key, String value) throws UsageException {
        try {
            double s = Double.parseDouble(text(key, value));
            if (s < 0 || s > 86400 || Double.isNaN(s)) {
                throw new UsageException("option " + key + " out of range [0, 86400]: " + value);
            }
            return Duration.ofNanos((long) (s * 1e9));
        } catch (NumberFormatException e) {
            throw new UsageException("option " + key + " is not a number of seconds: " + value);
        }
    }
}
