package io.c9fs.cache;

import java.util.concurrent.CompletableFuture;

/**
 * Fetches file bytes from the server for the cache: typically one 9P Tread (or several in
 * flight) of {@code length} bytes at {@code offset}. The future yields the bytes read; fewer
 * than {@code length} means end of file. The loader is called without any cache lock held and
 * must not call back into the cache.
 */
@FunctionalInterface
public interface BlockLoader {
    CompletableFuture<byte[]> load(long path, long offset, int length);
}
