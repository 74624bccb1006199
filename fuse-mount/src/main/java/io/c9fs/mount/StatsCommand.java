package io.c9fs.mount;

import io.c9fs.transport.stats.StatsEndpoint;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;

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
        do {
            try {
                String report = fetch(mountpoint);
                if (watch) {
                    out.println("-- " + LocalTime.now().truncatedTo(ChronoUnit.SECONDS));
                }
                out.print(report);
                out.flush();
            } catch (IOException e) {
                err.println("c9fs stats: no c9fs-mount daemon answers for " + mountpoint + " ("
                        + StatsEndpoint.socketFor(mountpoint) + ": " + e.getMessage() + ")");
                return 1;
            }
            if (watch) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return 0;
                }
            }
        } while (watch);
        return 0;
    }

    static String fetch(Path mountpoint) throws IOException {
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(StatsEndpoint.socketFor(mountpoint)));
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            ByteBuffer b = ByteBuffer.allocate(8192);
            while (c.read(b) >= 0) {
                all.write(b.array(), 0, b.position());
                b.clear();
            }
            return all.toString(StandardCharsets.UTF_8);
        }
    }
}
