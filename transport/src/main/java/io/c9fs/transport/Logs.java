package io.c9fs.transport;

import java.util.logging.ConsoleHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * How the c9fs commands log: one line per record on stderr (the detached mount daemon's stderr
 * is its log file), "time level logger: message", through java.util.logging, which the
 * System.Logger calls of every module reach. With {@code debug}, the io.c9fs loggers also emit
 * DEBUG: every 9P message sent and received ("9p -> ", "9p <- ") and every FUSE request and
 * reply ("fuse <- ", "fuse -> ").
 */
public final class Logs {
    private Logs() {
    }

    /** Configures logging for a command; call once, first thing in main. */
    public static void configure(boolean debug) {
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format",
                    "%1$tF %1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
        }
        Logger root = Logger.getLogger("");
        for (Handler h : root.getHandlers()) {
            root.removeHandler(h);
        }
        ConsoleHandler stderr = new ConsoleHandler();
        stderr.setLevel(debug ? Level.FINE : Level.INFO);
        root.addHandler(stderr);
        Logger.getLogger("io.c9fs").setLevel(debug ? Level.FINE : Level.INFO);
    }
}
