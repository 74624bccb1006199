package io.c9fs.transport;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Linux errno values (x86-64/generic numbering, which 9P2000.L and 9P2000.u carry on the wire)
 * and the translation between them and the error strings of plain 9P2000.
 *
 * <p>9P2000 servers answer failures with a string only (Rerror ename[s]). {@link #fromString}
 * maps such a string to an errno; {@link #toString9p} picks the string a 9P2000 server sends for
 * an errno. The table, matched case-insensitively, first exactly and then as a phrase contained
 * in the string (Plan 9 servers often prefix the file name: "'x' file does not exist"):
 *
 * <pre>
 *   Plan 9 / lib9p / fossil string          errno          sent by toString9p
 *   "file does not exist"                   ENOENT         yes
 *   "file not found"                        ENOENT
 *   "permission denied"                     EACCES         yes
 *   "file already exists"                   EEXIST         yes
 *   "file exists"                           EEXIST
 *   "directory not empty"                   ENOTEMPTY      yes
 *   "not a directory"                       ENOTDIR        yes
 *   "walk in non-directory"                 ENOTDIR
 *   "create in non-directory"               ENOTDIR
 *   "is a directory", "file is a directory" EISDIR         "file is a directory"
 *   "cannot open directory"                 EISDIR
 *   "i/o error"                             EIO            yes
 *   "read or write too large"               EMSGSIZE       yes
 *   "interrupted"                           EINTR          yes
 *   "connection timed out"                  ETIMEDOUT      yes
 *   "connection refused"                    ECONNREFUSED   yes
 *   "unknown fid", "fid unknown or out of range"  EBADF    "unknown fid"
 *   "duplicate fid", "fid in use"           EBADF
 *   "bad arg in system call"                EINVAL         yes
 *   "file name syntax", "bad character in file name" EINVAL
 *   "device or object already in use"       EBUSY          yes
 *   "file system full", "disk full"         ENOSPC         "file system full"
 *   "read-only file system"                 EROFS
 *   "write prohibited", "wstat prohibited", "remove prohibited" EPERM
 *   "operation not supported"               ENOTSUP
 *   "9P protocol botch"                     EPROTO         yes
 *   "duplicate tag"                         EPROTO
 *   "negative i/o offset"                   EINVAL
 *   "file name too long"                    ENAMETOOLONG
 *   "no free file descriptors"              EMFILE
 *   "no memory", "out of memory"            ENOMEM
 *   "stale file handle"                     ESTALE
 * </pre>
 *
 * Every Linux strerror(3) text of the constants below (as u9fs and other Unix servers send them:
 * "No such file or directory", "Directory not empty", ...) maps to its errno as well. Anything
 * unrecognised is {@link #EIO}. An errno without a Plan 9 string travels as its strerror text.
 *
 * <p>Thread-safe: immutable tables, built once.
 */
public final class Errno {
    private Errno() {
    }

    public static final int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6,
            E2BIG = 7, EBADF = 9, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16,
            EEXIST = 17, EXDEV = 18, ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22,
            ENFILE = 23, EMFILE = 24, ENOTTY = 25, ETXTBSY = 26, EFBIG = 27, ENOSPC = 28,
            ESPIPE = 29, EROFS = 30, EMLINK = 31, EPIPE = 32, ERANGE = 34, EDEADLK = 35,
            ENAMETOOLONG = 36, ENOLCK = 37, ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40,
            ENODATA = 61, ETIME = 62, EPROTO = 71, EBADMSG = 74, EOVERFLOW = 75, EILSEQ = 84,
            EMSGSIZE = 90, EPROTONOSUPPORT = 93, EOPNOTSUPP = 95, ENOTSUP = 95, EADDRINUSE = 98, ENETUNREACH = 101,
            ECONNABORTED = 103, ECONNRESET = 104, ENOBUFS = 105, ENOTCONN = 107, ETIMEDOUT = 110,
            ECONNREFUSED = 111, EHOSTUNREACH = 113, EALREADY = 114, EINPROGRESS = 115,
            ESTALE = 116, EDQUOT = 122, ECANCELED = 125;
    /** Linux's name for a missing extended attribute. */
    public static final int ENOATTR = ENODATA;

    private static final String[] NAMES = new String[128];
    private static final String[] MESSAGES = new String[128];
    private static final String[] PLAN9 = new String[128];
    private static final Map<String, Integer> BY_STRING = new HashMap<>();
    /** Phrases looked for inside longer strings, longest first so "file is a directory" wins. */
    private static final String[][] PHRASES;

    private static void errno(int e, String name, String message) {
        NAMES[e] = name;
        MESSAGES[e] = message;
        BY_STRING.put(message.toLowerCase(Locale.ROOT), e);
    }

    private static void plan9(int e, boolean sent, String... strings) {
        for (String s : strings) {
            BY_STRING.put(s, e);
        }
        if (sent) {
            PLAN9[e] = strings[0];
        }
    }

    static {
        errno(EPERM, "EPERM", "Operation not permitted");
        errno(ENOENT, "ENOENT", "No such file or directory");
        errno(ESRCH, "ESRCH", "No such process");
        errno(EINTR, "EINTR", "Interrupted system call");
        errno(EIO, "EIO", "Input/output error");
        errno(ENXIO, "ENXIO", "No such device or address");
        errno(E2BIG, "E2BIG", "Argument list too long");
        errno(EBADF, "EBADF", "Bad file descriptor");
        errno(EAGAIN, "EAGAIN", "Resource temporarily unavailable");
        errno(ENOMEM, "ENOMEM", "Cannot allocate memory");
        errno(EACCES, "EACCES", "Permission denied");
        errno(EFAULT, "EFAULT", "Bad address");
        errno(EBUSY, "EBUSY", "Device or resource busy");
        errno(EEXIST, "EEXIST", "File exists");
        errno(EXDEV, "EXDEV", "Invalid cross-device link");
        errno(ENODEV, "ENODEV", "No such device");
        errno(ENOTDIR, "ENOTDIR", "Not a directory");
        errno(EISDIR, "EISDIR", "Is a directory");
        errno(EINVAL, "EINVAL", "Invalid argument");
        errno(ENFILE, "ENFILE", "Too many open files in system");
        errno(EMFILE, "EMFILE", "Too many open files");
        errno(ENOTTY, "ENOTTY", "Inappropriate ioctl for device");
        errno(ETXTBSY, "ETXTBSY", "Text file busy");
        errno(EFBIG, "EFBIG", "File too large");
        errno(ENOSPC, "ENOSPC", "No space left on device");
        errno(ESPIPE, "ESPIPE", "Illegal seek");
        errno(EROFS, "EROFS", "Read-only file system");
        errno(EMLINK, "EMLINK", "Too many links");
        errno(EPIPE, "EPIPE", "Broken pipe");
        errno(ERANGE, "ERANGE", "Numerical result out of range");
        errno(EDEADLK, "EDEADLK", "Resource deadlock avoided");
        errno(ENAMETOOLONG, "ENAMETOOLONG", "File name too long");
        errno(ENOLCK, "ENOLCK", "No locks available");
        errno(ENOSYS, "ENOSYS", "Function not implemented");
        errno(ENOTEMPTY, "ENOTEMPTY", "Directory not empty");
        errno(ELOOP, "ELOOP", "Too many levels of symbolic links");
        errno(ENODATA, "ENODATA", "No data available");
        errno(ETIME, "ETIME", "Timer expired");
        errno(EPROTO, "EPROTO", "Protocol error");
        errno(EBADMSG, "EBADMSG", "Bad message");
        errno(EOVERFLOW, "EOVERFLOW", "Value too large for defined data type");
        errno(EILSEQ, "EILSEQ", "Invalid or incomplete multibyte or wide character");
        errno(EMSGSIZE, "EMSGSIZE", "Message too long");
        errno(EPROTONOSUPPORT, "EPROTONOSUPPORT", "Protocol not supported");
        errno(ENOTSUP, "ENOTSUP", "Operation not supported");
        errno(EADDRINUSE, "EADDRINUSE", "Address already in use");
        errno(ENETUNREACH, "ENETUNREACH", "Network is unreachable");
        errno(ECONNABORTED, "ECONNABORTED", "Software caused connection abort");
        errno(ECONNRESET, "ECONNRESET", "Connection reset by peer");
        errno(ENOBUFS, "ENOBUFS", "No buffer space available");
        errno(ENOTCONN, "ENOTCONN", "Transport endpoint is not connected");
        errno(ETIMEDOUT, "ETIMEDOUT", "Connection timed out");
        errno(ECONNREFUSED, "ECONNREFUSED", "Connection refused");
        errno(EHOSTUNREACH, "EHOSTUNREACH", "No route to host");
        errno(EALREADY, "EALREADY", "Operation already in progress");
        errno(EINPROGRESS, "EINPROGRESS", "Operation now in progress");
        errno(ESTALE, "ESTALE", "Stale file handle");
        errno(EDQUOT, "EDQUOT", "Disk quota exceeded");
        errno(ECANCELED, "ECANCELED", "Operation canceled");

        plan9(ENOENT, true, "file does not exist", "file not found");
        plan9(EACCES, true, "permission denied");
        plan9(EEXIST, true, "file already exists", "file exists");
        plan9(ENOTEMPTY, true, "directory not empty");
        plan9(ENOTDIR, true, "not a directory", "walk in non-directory", "create in non-directory");
        plan9(EISDIR, true, "file is a directory", "is a directory", "cannot open directory");
        plan9(EIO, true, "i/o error");
        plan9(EMSGSIZE, true, "read or write too large");
        plan9(EINTR, true, "interrupted");
        plan9(ETIMEDOUT, true, "connection timed out");
        plan9(ECONNREFUSED, true, "connection refused");
        plan9(EBADF, true, "unknown fid", "fid unknown or out of range", "duplicate fid", "fid in use");
        plan9(EINVAL, true, "bad arg in system call", "file name syntax", "bad character in file name",
                "negative i/o offset");
        plan9(EBUSY, true, "device or object already in use");
        plan9(ENOSPC, true, "file system full", "disk full");
        plan9(EROFS, false, "read-only file system");
        plan9(EPERM, false, "write prohibited", "wstat prohibited", "remove prohibited");
        plan9(ENOTSUP, false, "operation not supported");
        plan9(EPROTO, true, "9p protocol botch", "duplicate tag");
        plan9(ENAMETOOLONG, false, "file name too long");
        plan9(EMFILE, false, "no free file descriptors");
        plan9(ENOMEM, false, "no memory", "out of memory");
        plan9(ESTALE, false, "stale file handle");

        PHRASES = BY_STRING.entrySet().stream()
                .sorted((a, b) -> b.getKey().length() - a.getKey().length())
                .map(en -> new String[] {en.getKey(), Integer.toString(en.getValue())})
                .toArray(String[][]::new);
    }

    /** The symbolic name ("ENOENT"), or "E" + number for an errno c9fs does not name. */
    public static String name(int errno) {
        String n = errno > 0 && errno < NAMES.length ? NAMES[errno] : null;
        return n != null ? n : "E" + errno;
    }

    /** The strerror(3)-style text, or "Unknown error N". */
    public static String message(int errno) {
        String m = errno > 0 && errno < MESSAGES.length ? MESSAGES[errno] : null;
        return m != null ? m : "Unknown error " + errno;
    }

    /** The errno a 9P2000 error string stands for (see the class table); EIO if unrecognised. */
    public static int fromString(String ename) {
        String s = ename.trim().toLowerCase(Locale.ROOT);
        Integer exact = BY_STRING.get(s);
        if (exact != null) {
            return exact;
        }
        for (String[] p : PHRASES) {
            if (s.contains(p[0])) {
                return Integer.parseInt(p[1]);
            }
        }
        return EIO;
    }

    /** The string a 9P2000 server sends for {@code errno}: the Plan 9 text, else strerror's. */
    public static String toString9p(int errno) {
        String p = errno > 0 && errno < PLAN9.length ? PLAN9[errno] : null;
        return p != null ? p : message(errno);
    }
}
