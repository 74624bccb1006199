package io.c9fs.cache;

/**
 * The bytes of one cached block, immutable once cached. {@code length} is below the block size
 * only for the block holding end of file, so a short block also caches "EOF is here".
 */
record Block(byte[] data, int length) {
    int weight() {
        // Object and array headers: a few dozen bytes that a byte bound should not ignore.
        return data.length + 64;
    }
}
