package io.c9fs.cache;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * Fetches file bytes from the server for the cache: typically one 9P Tread (or several in
 * flight) of {@code into.length()} bytes at {@code offset}, stored straight into the blocks being
 * loaded. The future yields the count fetched; fewer than {@code into.length()} means end of file.
 * Every byte is stored before the future completes and none after it completes (normally or not):
 * the blocks' memory is reused once the load is over. The loader is called without any cache
 * lock held and must not call back into the cache.
 */
@FunctionalInterface
public interface BlockLoader {
    CompletableFuture<Integer> load(long path, long offset, Destination into);

    /** Where a load puts its bytes: {@link #length()} bytes, addressed from the load's offset. */
    interface Destination {
        int length();

        /**
         * Stores {@code src}'s remaining bytes at {@code at} (relative to the load's offset);
         * {@code src}'s position is left alone. Pieces stored from several threads must not overlap.
         *
         * @throws IndexOutOfBoundsException if they would end past {@link #length()}
         */
        void put(int at, ByteBuffer src);
    }
}
