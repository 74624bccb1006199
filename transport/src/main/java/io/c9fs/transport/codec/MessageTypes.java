package io.c9fs.transport.codec;

/** Names of the 9P message type numbers, for diagnostics. Immutable; any thread. */
final class MessageTypes {
    private static final String[] NAMES = new String[256];

    static {
        String[] base = {"Tversion", "Rversion", "Tauth", "Rauth", "Tattach", "Rattach", "Terror",
            "Rerror", "Tflush", "Rflush", "Twalk", "Rwalk", "Topen", "Ropen", "Tcreate", "Rcreate",
            "Tread", "Rread", "Twrite", "Rwrite", "Tclunk", "Rclunk", "Tremove", "Rremove",
            "Tstat", "Rstat", "Twstat", "Rwstat"};
        for (int i = 0; i < base.length; i++) {
            NAMES[100 + i] = base[i];
        }
        NAMES[106] = null; // Terror is illegal on the wire (intro(5)).
        Object[][] linux = {{6, "Tlerror"}, {7, "Rlerror"}, {8, "Tstatfs"}, {9, "Rstatfs"},
            {12, "Tlopen"}, {13, "Rlopen"}, {14, "Tlcreate"}, {15, "Rlcreate"}, {16, "Tsymlink"},
            {17, "Rsymlink"}, {18, "Tmknod"}, {19, "Rmknod"}, {20, "Trename"}, {21, "Rrename"},
            {22, "Treadlink"}, {23, "Rreadlink"}, {24, "Tgetattr"}, {25, "Rgetattr"},
            {26, "Tsetattr"}, {27, "Rsetattr"}, {30, "Txattrwalk"}, {31, "Rxattrwalk"},
            {32, "Txattrcreate"}, {33, "Rxattrcreate"}, {40, "Treaddir"}, {41, "Rreaddir"},
            {50, "Tfsync"}, {51, "Rfsync"}, {52, "Tlock"}, {53, "Rlock"}, {54, "Tgetlock"},
            {55, "Rgetlock"}, {70, "Tlink"}, {71, "Rlink"}, {72, "Tmkdir"}, {73, "Rmkdir"},
            {74, "Trenameat"}, {75, "Rrenameat"}, {76, "Tunlinkat"}, {77, "Runlinkat"}};
        for (Object[] e : linux) {
            NAMES[(Integer) e[0]] = (String) e[1];
        }
        Object[][] lease = {{200, "Tlease"}, {201, "Rlease"}, {202, "Tcallback"}, {203, "Rcallback"},
            {204, "Trecalled"}, {205, "Rrecalled"}, {206, "Treaddirattr"}, {207, "Rreaddirattr"},
            {208, "Tlcreateattr"}, {209, "Rlcreateattr"},
            {210, "Tclient"}, {211, "Rclient"}, {212, "Tunlist"}, {213, "Runlist"}};
        for (Object[] e : lease) {
            NAMES[(Integer) e[0]] = (String) e[1];
        }
        NAMES[6] = null; // Tlerror is never sent (the diod protocol description).
    }

    private MessageTypes() {
    }

    static boolean isKnown(int type) {
        return type >= 0 && type < 256 && NAMES[type] != null;
    }

    static String name(int type) {
        return isKnown(type) ? NAMES[type] : "type " + type;
    }

    /** True for the types every dialect shares (handled by {@link Codec} itself). */
    static boolean isCommon(int type) {
        return (type >= 100 && type <= 105) || (type >= 108 && type <= 111) || (type >= 116 && type <= 123);
    }
}
