package io.c9fs.server;

import io.c9fs.transport.Errno;
import io.c9fs.transport.client.NinepAddress;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;

/**
 * The c9fs-serve command: exports a directory over 9P until SIGINT or SIGTERM.
 *
 * <pre>
 * c9fs-serve --export DIR [--listen 127.0.0.1:5640] [--read-only] [--auth-token FILE] [--insecure]
 *            [--no-leases] [--lease-term MS] [--grace S] [--frame-timeout S] [--state-dir DIR] [--no-stats]
 *            [--no-direct-reads]
 * c9fs-serve --stats --server ADDR [--watch]     (c9fs stats --server: a running server's counters)
 * </pre>
 *
 * A non-loopback listen address needs --auth-token (clients write the token to a Tauth fid) or
 * an explicit --insecure. Errors are one line on stderr; exit status 2 for usage, 1 otherwise.
 */
public final class Main {
    static final String USAGE = String.join("\n",
            "usage: c9fs-serve --export DIR [--listen HOST:PORT] [--read-only]",
            "                  [--auth-token FILE] [--insecure] [--no-leases] [--lease-term MS]",
            "                  [--grace S] [--frame-timeout S] [--state-dir DIR] [--no-stats]",
            "                  [--no-direct-reads] [--debug] [--help]",
            "  --export DIR       directory to serve (required)",
            "  --listen HOST:PORT address to listen on (default 127.0.0.1:5640; also unix:/path)",
            "  --read-only        refuse every change with EROFS",
            "  --auth-token FILE  clients must write this file's content to a Tauth fid",
            "  --insecure         allow a non-loopback address without --auth-token",
            "  --no-leases        do not offer 9P2000.L.c9 (leases and recalls)",
            "  --lease-term MS    lease term in milliseconds (default 10000)",
            "  --grace S          after a restart, for S seconds only lock reclaims are granted,",
            "                     other lock requests are answered GRACE (default: the lease term;",
            "                     only when the last run may have left locks, see --state-dir; 0: none)",
            "  --frame-timeout S  close a connection stalled for S seconds in the middle of a frame",
            "                     (default 30; 0: never)",
            "  --state-dir DIR    where to note whether locks are held (default /var/lib/c9fs for root,",
            "                     else $XDG_STATE_HOME/c9fs or ~/.local/state/c9fs)",
            "  --no-stats         no stats socket (default: c9fs stats --server HOST:PORT reads it)",
            "  --no-direct-reads  read files only through the host's page cache (default: a read of",
            "                     256 KiB or more that the page cache does not hold goes around it, O_DIRECT)",
            "  --debug            log every 9P message received and sent (stderr)",
            "Speaks 9P2000.L.c9, 9P2000.L, 9P2000.u and 9P2000; stops cleanly on SIGINT/SIGTERM.",
            "A client's goodbye (Tversion on its session) releases its fids, locks and leases at once;",
            "a client that vanishes loses its fids and locks at once, its leases after the term.");

    /** A command-line mistake: reported as one line with exit status 2. */
    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message, null, false, false);
        }
    }

    private Main() {
    }

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("--stats")) {
            System.exit(StatsCommand.run(Arrays.copyOfRange(args, 1, args.length), System.out, System.err));
        }
        // --debug traces every 9P message; it is read here, before anything logs.
        io.c9fs.transport.Logs.configure(Arrays.asList(args).contains("--debug"));
        System.exit(run(args, System.out, System.err));
    }

    /** Runs the command; returns the exit status once the server has stopped. */
    static int run(String[] args, PrintStream out, PrintStream err) {
        ServerConfig config;
        try {
            if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
                out.println(USAGE);
                return 0;
            }
            config = parse(args);
        } catch (UsageException e) {
            err.println("c9fs-serve: " + e.getMessage() + " (see --help)");
            return 2;
        }
        FileServer server;
        try {
            server = FileServer.start(config);
        } catch (ErrnoException e) {
            err.println("c9fs-serve: cannot export " + config.export() + ": "
                    + Errno.message(e.errno()));
            return 1;
        } catch (IOException e) {
            String prefix = "cannot listen on " + config.listen() + ": ";
            String why = String.valueOf(e.getMessage());
            err.println("c9fs-serve: " + prefix + (why.startsWith(prefix) ? why.substring(prefix.length()) : why));
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "c9fs-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        out.println("c9fs-serve: exporting " + server.export().dir() + " on " + server.address()
                + (config.readOnly() ? " read-only" : "")
                + (config.leases() ? ", leases with a " + config.leaseTerm().toMillis() + " ms term" : ", no leases")
                + (config.authToken() != null ? " with token authentication" : "")
                + (server.grace().isZero() ? "" : "; lock grace for " + server.grace().toMillis() + " ms")
                + (server.statsSocket() != null ? "; stats: c9fs stats --server " + server.address() : ""));
        out.flush();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    static ServerConfig parse(String[] args) throws UsageException {
        Path export = null;
        String listen = "127.0.0.1:5640";
        boolean readOnly = false;
        boolean insecure = false;
        Path tokenFile = null;
        boolean leases = true;
        long termMs = ServerConfig.DEFAULT_LEASE_TERM.toMillis();
        Duration grace = null;
        Duration frameTimeout = ServerConfig.Robustness.defaults().frameTimeout();
        Path stateDir = defaultStateDir();
        boolean stats = true;
        boolean directReads = true;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--export":
                    export = Path.of(value(args, ++i, "--export"));
                    break;
                case "--listen":
                    listen = value(args, ++i, "--listen");
                    break;
                case "--read-only":
                    readOnly = true;
                    break;
                case "--insecure":
                    insecure = true;
                    break;
                case "--auth-token":
                    tokenFile = Path.of(value(args, ++i, "--auth-token"));
                    break;
                case "--no-leases":
                    leases = false;
                    break;
                case "--debug":
                    break; // read by main

                case "--lease-term":
                    termMs = milliseconds(value(args, ++i, "--lease-term"));
                    break;
                case "--grace":
                    grace = seconds(value(args, ++i, "--grace"), "--grace");
                    break;
                case "--frame-timeout":
                    frameTimeout = seconds(value(args, ++i, "--frame-timeout"), "--frame-timeout");
                    frameTimeout = frameTimeout.isZero() ? null : frameTimeout;
                    break;
                case "--state-dir":
                    stateDir = Path.of(value(args, ++i, "--state-dir"));
                    break;
                case "--no-stats":
                    stats = false;
                    break;
                case "--no-direct-reads":
                    directReads = false;
                    break;
                default:
                    throw new UsageException("unknown argument " + args[i]);
            }
        }
        if (export == null) {
            throw new UsageException("--export DIR is required");
        }
        if (!Files.isDirectory(export)) {
            throw new UsageException(export + (Files.exists(export) ? " is not a directory"
                    : " does not exist"));
        }
        NinepAddress address;
        try {
            address = NinepAddress.parse(listen);
        } catch (IllegalArgumentException e) {
            throw new UsageException("bad --listen " + listen + ": " + e.getMessage());
        }
        byte[] token = tokenFile == null ? null : readToken(tokenFile);
        if (!address.isUnix() && !isLoopback(address.host()) && token == null && !insecure) {
            throw new UsageException("refusing to listen on " + listen
                    + " without --auth-token FILE or --insecure");
        }
        ServerConfig.Robustness defaults = ServerConfig.Robustness.defaults();
        return ServerConfig.of(export, address).withReadOnly(readOnly).withAuthToken(token)
                .withLeases(leases).withLeaseTerm(Duration.ofMillis(termMs)).withDirectReads(directReads)
                .withRobustness(new ServerConfig.Robustness(grace != null ? grace : Duration.ofMillis(termMs),
                        stateDir, frameTimeout, defaults.keepAliveIdle(), stats));
    }

    /** Seconds, fractions allowed ("1.5"), at least 0. */
    private static Duration seconds(String v, String option) throws UsageException {
        try {
            double s = Double.parseDouble(v);
            if (s >= 0 && s <= Integer.MAX_VALUE) {
                return Duration.ofMillis(Math.round(s * 1000));
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new UsageException("bad " + option + " " + v + " (seconds, at least 0)");
    }

    /** Kept across reboots: a server machine that crashed with locks held gives its clients grace. */
    private static Path defaultStateDir() {
        if ("root".equals(System.getProperty("user.name"))) {
            return Path.of("/var/lib/c9fs");
        }
        String xdg = System.getenv("XDG_STATE_HOME");
        return xdg != null && !xdg.isEmpty() ? Path.of(xdg, "c9fs")
                : Path.of(System.getProperty("user.home"), ".local", "state", "c9fs");
    }

    private static long milliseconds(String v) throws UsageException {
        try {
            long ms = Long.parseLong(v);
            // A third of the term is the heartbeat: below 3 ms it would be zero.
            if (ms >= 3 && ms <= Integer.MAX_VALUE) {
                return ms;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new UsageException("bad --lease-term " + v + " (milliseconds, at least 3)");
    }

    private static String value(String[] args, int i, String option) throws UsageException {
        if (i >= args.length) {
            throw new UsageException(option + " needs a value");
        }
        return args[i];
    }

    private static byte[] readToken(Path file) throws UsageException {
        try {
            String t = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (t.isEmpty()) {
                throw new UsageException("auth token file " + file + " is empty");
            }
            return t.getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UsageException("cannot read auth token " + file + ": " + e.getMessage());
        }
    }

    private static boolean isLoopback(String host) throws UsageException {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            throw new UsageException("unknown host " + host);
        }
    }
}
