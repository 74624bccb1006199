package io.c9fs.mount;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * System calls on this daemon's own mount (a stat that makes the kernel learn a file's size, a
 * syncfs), made for it by a helper process (bash, one call per NUL-terminated argument), never
 * by a thread of the daemon. A thread blocked in a request to its own mount keeps the process's
 * /dev/fuse descriptor open: if the request is never answered (a wait cycle through the
 * server, a worker that died), or the daemon is killed while a worker holds it, the daemon
 * never exits — a defunct process whose mount hangs until the connection is aborted through
 * fusectl. A helper stuck there holds no descriptor of ours: it is freed when the daemon's
 * connection ends, and the daemon only waits for it, bounded, then starts another.
 *
 * <p>Threads: each instance serves one caller at a time (synchronized); the lease client's
 * recall and flush threads each have their own, so a long syncfs never holds up a recall.
 */
final class OwnMountCalls implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(OwnMountCalls.class.getName());

    /** Makes the kernel stat the path (bash's test is a builtin: no fork per call). */
    static final String STAT = "while IFS= read -r -d '' p; do [ -e \"$p\" ]; printf .; done";
    /** syncfs(2) of the file system holding the path (coreutils sync -f). */
    static final String SYNCFS = "while IFS= read -r -d '' p; do sync -f \"$p\" 2>/dev/null; printf .; done";

    private final String script;
    private final String name;
    private Process helper;
    private OutputStream in;
    private InputStream out;
    private boolean closed;
    private boolean warned;

    OwnMountCalls(String name, String script) {
        this.name = name;
        this.script = script;
    }

    /**
     * Runs the helper's call on {@code arg}; true once it answered, false if it could not be
     * started or did not answer within {@code timeoutNanos} (then it is killed, and the next
     * call starts another).
     */
    synchronized boolean call(String arg, long timeoutNanos) {
        if (closed) {
            return false;
        }
        try {
            if (helper == null || !helper.isAlive()) {
                start();
            }
            in.write((arg + "\0").getBytes(StandardCharsets.UTF_8));
            in.flush();
            long deadline = System.nanoTime() + timeoutNanos;
            long pause = TimeUnit.MICROSECONDS.toNanos(50);
            while (out.available() == 0) {
                if (!helper.isAlive()) {
                    throw new IOException("helper exited with " + helper.exitValue());
                }
                if (System.nanoTime() - deadline > 0) {
                    LOG.log(System.Logger.Level.WARNING, name + " of " + arg + " did not return within "
                            + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms; left to its helper");
                    stop();
                    return false;
                }
                LockSupport.parkNanos(pause);
                pause = Math.min(pause * 2, TimeUnit.MILLISECONDS.toNanos(1));
            }
            out.read();
            return true;
        } catch (IOException e) {
            if (!warned) {
                warned = true;
                LOG.log(System.Logger.Level.WARNING, name + " helper (bash) failed: " + e.getMessage());
            }
            stop();
            return false;
        }
    }

    private void start() throws IOException {
        ProcessBuilder b = new ProcessBuilder("bash", "-c", script);
        b.redirectError(ProcessBuilder.Redirect.DISCARD);
        helper = b.start();
        in = helper.getOutputStream();
        out = helper.getInputStream();
    }

    private void stop() {
        if (helper != null) {
            // A helper in the kernel waiting for this mount's answer stays until it comes, or
            // until the connection ends; it holds nothing of ours.
            helper.destroyForcibly();
            helper = null;
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (helper != null) {
            try {
                in.close(); // end of input: the loop ends
            } catch (IOException ignored) {
                // gone already
            }
            stop();
        }
    }
}
