package io.c9fs.server;

import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.stats.StatsEndpoint;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * {@code c9fs stats --server ADDR [--watch]}: prints the report of the c9fs-serve listening on
 * ADDR on this machine (its {@link StatsEndpoint}, found from the address as it was given to
 * --listen); with --watch, again every second until interrupted.
 */
final class StatsCommand {
    static final String USAGE = "usage: c9fs stats --server HOST:PORT [--watch]";

    private StatsCommand() {
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        boolean watch = false;
        String server = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--watch") || a.equals("-w")) {
                watch = true;
            } else if (a.equals("--help") || a.equals("-h")) {
                out.println(USAGE);
                out.println("Prints the counters of the c9fs-serve listening on HOST:PORT (as given to its --listen):");
                out.println("clients, fids, leases by mode, recalls and their round trip, locks, grace, bytes, full disk.");
                return 0;
            } else if (a.equals("--server") && i + 1 < args.length) {
                server = args[++i];
            } else if (a.startsWith("--server=")) {
                server = a.substring("--server=".length());
            } else {
                err.println("c9fs stats: unexpected argument " + a + " (" + USAGE + ")");
                return 2;
            }
        }
        if (server == null) {
            err.println(USAGE);
            return 2;
        }
        Path socket;
        try {
            socket = StatsEndpoint.socketForServer(NinepAddress.parse(server).toString());
        } catch (IllegalArgumentException e) {
            err.println("c9fs stats: bad address " + server + ": " + e.getMessage());
            return 2;
        }
        return StatsEndpoint.print(socket, watch, "c9fs-serve answers for " + server + " on this machine", out, err);
    }
}
