package io.c9fs.fuse;

/**
 * A request being served, as the filesystem sees it; found by unique id when FUSE_INTERRUPT arrives.
 *
 * <p>Threads: the serving worker reads the header fields and registers {@link #onInterrupt};
 * the worker that reads the INTERRUPT calls {@link #interrupt}. The action runs outside the monitor.
 */
final class InflightRequest implements FuseRequest {
    private static final System.Logger LOG = System.getLogger(InflightRequest.class.getName());

    private final long unique;
    private final int uid;
    private final int gid;
    private final int pid;
    private boolean interrupted;
    private volatile boolean killSuidgid;
    private Runnable action;

    InflightRequest(long unique, int uid, int gid, int pid) {
        this.unique = unique;
        this.uid = uid;
        this.gid = gid;
        this.pid = pid;
    }

    /** The request carries FUSE_OPEN_KILL_SUIDGID; set by the dispatcher before the filesystem sees it. */
    void killSuidgid(boolean kill) {
        killSuidgid = kill;
    }

    @Override
    public boolean killSuidgid() {
        return killSuidgid;
    }

    @Override
    public long unique() {
        return unique;
    }

    @Override
    public int uid() {
        return uid;
    }

    @Override
    public int gid() {
        return gid;
    }

    @Override
    public int pid() {
        return pid;
    }

    @Override
    public synchronized boolean interrupted() {
        return interrupted;
    }

    @Override
    public void onInterrupt(Runnable a) {
        synchronized (this) {
            if (!interrupted) {
                action = a;
                return;
            }
        }
        runSafely(a);
    }

    /** Marks the request interrupted and runs the registered action, once. */
    void interrupt() {
        Runnable a;
        synchronized (this) {
            if (interrupted) {
                return;
            }
            interrupted = true;
            a = action;
            action = null;
        }
        if (a != null) {
            runSafely(a);
        }
    }

    private void runSafely(Runnable a) {
        try {
            a.run();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "interrupt action of request " + unique + " failed", e);
        }
    }

    @Override
    public String toString() {
        return "request " + unique + " (uid " + uid + ", pid " + pid + ")";
    }
}
