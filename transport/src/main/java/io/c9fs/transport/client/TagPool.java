package io.c9fs.transport.client;

import io.c9fs.transport.proto.Message;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The free tags of one connection, 0..65534 (NOTAG is reserved for Tversion). A tag returns here
 * only when the server can no longer answer under it: after its reply, or, for a flushed
 * request, after the Rflush (flush(5)). Thread-safe; waiting callers are woken by release or close.
 */
final class TagPool {
    static final int CLOSED = -1;
    static final int TIMED_OUT = -2;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition freed = lock.newCondition();
    private final int[] stack = new int[Message.NOTAG];
    private int top;
    private boolean closed;

    TagPool() {
        for (int i = 0; i < stack.length; i++) {
            stack[i] = stack.length - 1 - i;
        }
        top = stack.length;
    }

    /** A free tag, waiting at most {@code nanos}; {@link #CLOSED} or {@link #TIMED_OUT} otherwise. */
    int acquire(long nanos) throws InterruptedException {
        lock.lock();
        try {
            while (top == 0 && !closed) {
                if (nanos <= 0) {
                    return TIMED_OUT;
                }
                nanos = freed.awaitNanos(nanos);
            }
            return closed ? CLOSED : stack[--top];
        } finally {
            lock.unlock();
        }
    }

    /** A free tag without waiting, or {@link #TIMED_OUT}/{@link #CLOSED}. */
    int tryAcquire() {
        try {
            return acquire(0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return TIMED_OUT;
        }
    }

    void release(int tag) {
        lock.lock();
        try {
            stack[top++] = tag;
            freed.signal();
        } finally {
            lock.unlock();
        }
    }

    void close() {
        lock.lock();
        try {
            closed = true;
            freed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    int available() {
        lock.lock();
        try {
            return top;
        } finally {
            lock.unlock();
        }
    }
}
