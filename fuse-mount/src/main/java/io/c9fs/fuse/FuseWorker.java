package io.c9fs.fuse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A thread that reads requests from /dev/fuse and answers them, until the kernel reports the
 * connection gone (ENODEV). A read(2) blocked on /dev/fuse ignores Thread.interrupt(), so the only
 * ways out are unmount and connection abort; see {@link FuseSession#close}.
 *
 * <p>Being a FuseWorker is what {@link FuseNotifier} checks to refuse notifications from handlers.
 */
final class FuseWorker extends Thread {
    private static final System.Logger LOG = System.getLogger(FuseWorker.class.getName());

    private final FuseDevice device;
    private final RequestDispatcher dispatcher;
    private final int requestCapacity;
    private final FuseSession session;

    FuseWorker(String name, FuseDevice device, RequestDispatcher dispatcher, int requestCapacity,
               FuseSession session) {
        super(name);
        setDaemon(true);
        this.device = device;
        this.dispatcher = dispatcher;
        this.requestCapacity = requestCapacity;
        this.session = session;
    }

    @Override
    public void run() {
        boolean unmounted = false;
        try {
            ByteBuffer req = ByteBuffer.allocateDirect(requestCapacity).order(ByteOrder.LITTLE_ENDIAN);
            while (true) {
                req.clear();
                long n = device.read(req);
                if (n >= FuseWire.IN_HEADER) {
                    dispatcher.serve(req, (int) n);
                } else if (n == -Errno.ENODEV) {
                    unmounted = true;
                    return;
                } else if (n != -Errno.EINTR && n != -Errno.ENOENT && n != -Errno.EAGAIN) {
                    // ENOENT: the request was interrupted before we got it; anything else is fatal.
                    LOG.log(System.Logger.Level.ERROR, getName() + ": read /dev/fuse: "
                            + (n < 0 ? Syscalls.strerror((int) -n) : "short request of " + n + " bytes"));
                    return;
                }
            }
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.ERROR, getName() + " died", t);
        } finally {
            device.exit();
            session.workerExited(unmounted);
        }
    }
}
