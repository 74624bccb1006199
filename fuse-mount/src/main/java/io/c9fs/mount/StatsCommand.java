package io.c9fs.mount;

import io.c9fs.transport.stats.StatsEndpoint;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * {@code c9fs stats MOUNTPOINT [--watch]}: prints the report of the daemon serving MOUNTPOINT
 * ({@link StatsEndpoint}); with --watch, again every second until interrupted.
 */
public final class StatsCommand {
    private StatsCommand() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        boolean watch = false;
        Path mountpoint = null;
        for (String a : args) {
            if (a.equals("--watch") || a.equals("-w")) {
                watch = true;
            } else if (a.equals("--help") || a.equals("-h")) {
                out.println("usage: c9fs stats MOUNTPOINT [--watch]");
                out.println("Prints the cache, lease, 9P and FUSE counters of the c9fs-mount daemon of MOUNTPOINT.");
                return 0;
            } else if (mountpoint == null) {
                mountpoint = Path.of(a);
            } else {
                err.println("c9fs stats: unexpected argument " + a);
                return 2;
            }
        }
        if (mountpoint == null) {
            err.println("usage: c9fs stats MOUNTPOINT [--watch]");
            return 2;
        }
        return StatsEndpoint.print(StatsEndpoint.socketFor(mountpoint), watch,
                "c9fs-mount daemon answers for " + mountpoint, out, err);
    }
}
