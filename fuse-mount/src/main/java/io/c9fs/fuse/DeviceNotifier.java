package io.c9fs.fuse;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Writes FUSE_NOTIFY_* messages (unique 0, error = notify code) on the session's device.
 * The kernel handles a notification inside the write(2), so the write returns its result; invalInode
 * may block there until workers answered the laundering WRITEs and any READ holding the pages' locks.
 *
 * <p>Threads: any non-worker thread; concurrent calls are fine (one write(2) per message, no lock).
 */
final class DeviceNotifier implements FuseNotifier {
    private final FuseDevice device;

    DeviceNotifier(FuseDevice device) {
        this.device = device;
    }

    @Override
    public void invalInode(long nodeid, long offset, long length) throws FuseException {
        ByteBuffer m = message(Opcode.NOTIFY_INVAL_INODE, 24);
        m.putLong(nodeid).putLong(offset).putLong(length);
        send(m, "inval_inode " + nodeid);
    }

    @Override
    public void invalEntry(long parent, String name) throws FuseException {
        byte[] raw = checkedName(name);
        ByteBuffer m = message(Opcode.NOTIFY_INVAL_ENTRY, 16 + raw.length + 1);
        m.putLong(parent).putInt(raw.length).putInt(0).put(raw).put((byte) 0);
        send(m, "inval_entry " + parent + "/" + name);
    }

    @Override
    public void delete(long parent, long child, String name) throws FuseException {
        byte[] raw = checkedName(name);
        ByteBuffer m = message(Opcode.NOTIFY_DELETE, 24 + raw.length + 1);
        m.putLong(parent).putLong(child).putInt(raw.length).putInt(0).put(raw).put((byte) 0);
        send(m, "delete " + parent + "/" + name);
    }

    @Override
    public void store(long nodeid, long offset, ByteBuffer data) throws FuseException {
        int size = data.remaining();
        ByteBuffer m = message(Opcode.NOTIFY_STORE, 24 + size);
        m.putLong(nodeid).putLong(offset).putInt(size).putInt(0).put(data.duplicate());
        send(m, "store " + nodeid + "@" + offset);
    }

    private static byte[] checkedName(String name) throws FuseException {
        byte[] raw = FuseWire.bytes(name);
        if (raw.length > FuseWire.NAME_MAX) {
            throw new FuseException(Errno.ENAMETOOLONG, "name longer than " + FuseWire.NAME_MAX + " bytes");
        }
        return raw;
    }

    private static ByteBuffer message(int code, int bodySize) {
        checkThread();
        int len = FuseWire.OUT_HEADER + bodySize;
        ByteBuffer m = ByteBuffer.allocateDirect(len).order(ByteOrder.LITTLE_ENDIAN);
        return m.putInt(len).putInt(code).putLong(0);
    }

    /**
     * A worker that notifies may wait for a READ or WRITE that only a worker can answer, possibly
     * itself (FINDINGS.md Q4 a, d, e: the kernel holds folio locks or writeback across the request).
     */
    private static void checkThread() {
        if (Thread.currentThread() instanceof FuseWorker) {
            throw new IllegalStateException("FUSE notifications must not be sent from a FUSE worker thread: "
                    + "the kernel may need this worker to answer a request before the notification completes");
        }
    }

    private void send(ByteBuffer m, String what) throws FuseException {
        m.flip();
        if (!device.enter()) {
            throw new FuseException(Errno.ENODEV, what + ": session closed");
        }
        int rc;
        try {
            rc = device.write(m);
        } finally {
            device.exit();
        }
        if (rc < 0) {
            throw new FuseException(-rc, what + ": " + Syscalls.strerror(-rc));
        }
    }
}
