package io.c9fs.transport.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.transport.proto.Message;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TagPoolTest {
    @Test
    void all65535TagsThenCallersWaitBounded() throws Exception {
        TagPool pool = new TagPool();
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < Message.NOTAG; i++) {
            int t = pool.tryAcquire();
            assertTrue(t >= 0 && t < Message.NOTAG && seen.add(t), "tag " + t);
        }
        long t0 = System.nanoTime();
        assertEquals(TagPool.TIMED_OUT, pool.acquire(TimeUnit.MILLISECONDS.toNanos(50)));
        assertTrue(System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(45));
        CompletableFuture<Integer> waiter = CompletableFuture.supplyAsync(() -> {
            try {
                return pool.acquire(TimeUnit.SECONDS.toNanos(10));
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        Thread.sleep(50);
        pool.release(1234);
        assertEquals(1234, waiter.get(10, TimeUnit.SECONDS));
        CompletableFuture<Integer> closed = CompletableFuture.supplyAsync(() -> {
            try {
                return pool.acquire(TimeUnit.SECONDS.toNanos(10));
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        Thread.sleep(50);
        pool.close();
        assertEquals(TagPool.CLOSED, closed.get(10, TimeUnit.SECONDS));
    }
}
