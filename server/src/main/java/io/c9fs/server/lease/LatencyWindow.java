package io.c9fs.server.lease;

import java.util.Arrays;

/**
 * The last {@value #SIZE} samples of a latency (nanoseconds), for a median and a p99 that follow
 * the present rather than the whole life of the server.
 *
 * <p>Threading: every method synchronizes on the window; recording is a store into a ring.
 */
public final class LatencyWindow {
    static final int SIZE = 4096;

    private final long[] ring = new long[SIZE];
    private long count;

    synchronized void record(long nanos) {
        ring[(int) (count++ % SIZE)] = nanos;
    }

    /** Median, 99th percentile and the number of samples they were taken over (at most SIZE). */
    public synchronized Percentiles percentiles() {
        int n = (int) Math.min(count, SIZE);
        if (n == 0) {
            return new Percentiles(0, 0, 0);
        }
        long[] s = Arrays.copyOf(ring, n);
        Arrays.sort(s);
        return new Percentiles(s[(n - 1) / 2], s[Math.min(n - 1, (int) Math.ceil(n * 0.99) - 1)], n);
    }

    /** Nanosecond percentiles of a window. */
    public record Percentiles(long medianNanos, long p99Nanos, int samples) {
        @Override
        public String toString() {
            return String.format("median %.1f us, p99 %.1f us over %d", medianNanos / 1e3, p99Nanos / 1e3, samples);
        }
    }
}
