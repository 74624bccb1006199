package io.c9fs.cache;

/** A cache block: block {@code index} (offset / block size) of the file whose qid.path is {@code path}. */
record BlockKey(long path, long index) {
}
