package io.c9fs.transport.bench;

import io.c9fs.transport.client.ClientConfig;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Message;
import io.c9fs.transport.proto.Message.*;
import io.c9fs.transport.testing.DiodServer;
import io.c9fs.transport.testing.Scratch;
import io.c9fs.transport.testing.Tools;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Transport benchmark (not a test): against one diod over loopback, in one run,
 * <ul>
 *   <li>sequential read of a 1 GiB file (page cache warm), msize 1 MiB proposed, 1 and 8 Treads
 *       in flight, issued by a blocking caller thread and by reply callbacks on the event loop;</li>
 *   <li>the same file through diodcat -m 1048576 (diod's own C client), timed;</li>
 *   <li>Tgetattr round trip, median and p99;</li>
 *   <li>raw loopback TCP throughput (one writer, one reader, 1 MiB buffers) as the ceiling.</li>
 * </ul>
 * Besides MiB/s it reports CPU time per GiB of the client and of diod (from /proc), which
 * does not depend on how busy the shared machine is. Each figure is the median of
 * {@code rounds} runs, interleaved so that noise hits every contender alike.
 * Usage: TransportBench [rounds] [fileMiB]. Run by scripts/bench/transport-bench.sh.
 */
public final class TransportBench {
    static final int O_RDONLY = 0;
    static final long TICK_NS = 10_000_000L; // /proc/PID/stat counts in USER_HZ = 100

    /** One run's figures. */
    record Run(double mibPerSec, double clientCpuMsPerGib, double serverCpuMsPerGib) {
    }

    interface Contender {
        Run run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        int fileMiB = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
        Path export = Scratch.ROOT.resolve("bench-export");
        Files.createDirectories(export);
        Path big = export.resolve("big.dat");
        ensureFile(big, (long) fileMiB << 20);
        warm(big);
        Path diodcat = Tools.find("diodcat").orElseThrow(() -> new IllegalStateException("diodcat not installed"));
        try (DiodServer diod = DiodServer.start(export)) {
            ClientConfig cfg = ClientConfig.defaults().withMsize((1 << 20) + Message.IOHDRSZ);
            int msize;
            try (NinepClient probe = NinepClient.connect(diod.address(), cfg)) {
                msize = probe.msize();
            }
            Map<String, Contender> contenders = new LinkedHashMap<>();
            contenders.put("diodcat -m 1048576", () -> diodcat(diodcat, diod, big));
            contenders.put("c9fs, 1 in flight, blocking caller", () -> blockingRead(diod, cfg, big, 1));
            contenders.put("c9fs, 8 in flight, blocking caller", () -> blockingRead(diod, cfg, big, 8));
            contenders.put("c9fs, 1 in flight, event-loop callbacks", () -> callbackRead(diod, cfg, big, 1));
            contenders.put("c9fs, 8 in flight, event-loop callbacks", () -> callbackRead(diod, cfg, big, 8));
            contenders.put("raw loopback TCP", () -> rawTcp((long) fileMiB << 20));
            // JIT warm-up of the client paths, not counted.
            blockingRead(diod, cfg, big, 8);
            callbackRead(diod, cfg, big, 1);
            blockingRead(diod, cfg, big, 1);
            Map<String, Run[]> runs = new LinkedHashMap<>();
            for (int r = 0; r < rounds; r++) {
                for (Map.Entry<String, Contender> c : contenders.entrySet()) {
                    Run run = c.getValue().run();
                    runs.computeIfAbsent(c.getKey(), k -> new Run[rounds])[r] = run;
                    System.err.printf("round %d: %-42s %,8.0f MiB/s%n", r + 1, c.getKey(), run.mibPerSec());
                }
            }
            long[] rtt = getattrRtt(diod, cfg, 20000);
            System.out.printf("%n# transport bench: %d MiB file, msize proposed 1 MiB + 24, granted by diod %d, "
                    + "%d rounds, load average at end %s%n", fileMiB, msize, rounds, loadAverage());
            System.out.printf("%-42s %22s %18s %18s%n", "sequential read", "MiB/s median [min-max]",
                    "client CPU ms/GiB", "diod CPU ms/GiB");
            for (Map.Entry<String, Run[]> e : runs.entrySet()) {
                Run[] v = e.getValue();
                double[] mib = Arrays.stream(v).mapToDouble(Run::mibPerSec).toArray();
                double[] sorted = mib.clone();
                Arrays.sort(sorted);
                System.out.printf("%-42s %,8.0f [%,.0f-%,.0f] %18s %18s%n", e.getKey(), median(mib), sorted[0],
                        sorted[sorted.length - 1], cpu(v, Run::clientCpuMsPerGib), cpu(v, Run::serverCpuMsPerGib));
            }
            double cat = median(Arrays.stream(runs.get("diodcat -m 1048576")).mapToDouble(Run::mibPerSec).toArray());
            for (String k : runs.keySet()) {
                if (k.startsWith("c9fs")) {
                    System.out.printf("%-42s %.2fx diodcat%n", k,
                            median(Arrays.stream(runs.get(k)).mapToDouble(Run::mibPerSec).toArray()) / cat);
                }
            }
            System.out.printf("%-42s median %.1f us, p99 %.1f us (%d calls, blocking caller)%n", "Tgetattr round trip",
                    rtt[rtt.length / 2] / 1000.0, rtt[(int) (rtt.length * 0.99)] / 1000.0, rtt.length);
        }
    }

    static String cpu(Run[] v, java.util.function.ToDoubleFunction<Run> f) {
        double[] x = Arrays.stream(v).mapToDouble(f).toArray();
        return x[0] < 0 ? "-" : String.format("%,.0f", median(x));
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static String loadAverage() throws IOException {
        return Files.readString(Path.of("/proc/loadavg")).trim().split(" ")[0];
    }

    static void ensureFile(Path p, long size) throws IOException {
        if (Files.exists(p) && Files.size(p) == size) {
            return;
        }
        SplittableRandom rnd = new SplittableRandom(9);
        byte[] block = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(p)) {
            for (long done = 0; done < size; done += block.length) {
                for (int i = 0; i < block.length; i += 8) {
                    long v = rnd.nextLong();
                    for (int j = 0; j < 8; j++) {
                        block[i + j] = (byte) (v >>> (8 * j));
                    }
                }
                out.write(block, 0, (int) Math.min(block.length, size - done));
            }
        }
    }

    /** Reads the file once so that every contender reads from the page cache. */
    static void warm(Path p) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(p)) {
            ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
            while (ch.read(b) > 0) {
                b.clear();
            }
        }
    }

    /** utime + stime of a process, all threads, in ns. */
    static long procCpu(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * TICK_NS;
    }

    static long selfCpu() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    static double perGib(long ns, long bytes) {
        return ns / 1e6 / (bytes / (double) (1L << 30));
    }

    static Run diodcat(Path diodcat, DiodServer diod, Path file) throws Exception {
        long size = Files.size(file);
        long server0 = procCpu(diod.pid());
        long t0 = System.nanoTime();
        // bash's `times` reports the CPU time of its finished children: diodcat's own cost.
        Process p = new ProcessBuilder(List.of("bash", "-c", "\"$0\" -m 1048576 -s \"$1\" -a \"$2\" \"$3\" >/dev/null && times",
                diodcat.toString(), "127.0.0.1:" + diod.port(), diod.aname(), file.getFileName().toString()))
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IllegalStateException("diodcat failed");
        }
        long wall = System.nanoTime() - t0;
        long server = procCpu(diod.pid()) - server0;
        String[] children = out.strip().split("\n")[1].trim().split("\\s+");
        long cpu = bashTime(children[0]) + bashTime(children[1]);
        return new Run(mibPerSec(size, wall), perGib(cpu, size), perGib(server, size));
    }

    /** "0m1.234s" in ns. */
    static long bashTime(String s) {
        int m = s.indexOf('m');
        return (long) ((Long.parseLong(s.substring(0, m)) * 60 + Double.parseDouble(s.substring(m + 1, s.length() - 1))) * 1e9);
    }

    /** An open read fid of {@code file} on a fresh connection. */
    static int open(NinepClient c, ClientConfig cfg, DiodServer diod, Path file) throws Exception {
        int root = c.allocFid();
        c.attach(root, cfg.uname(), diod.aname());
        int f = c.allocFid();
        c.call(new Twalk(root, f, List.of(file.getFileName().toString())), Rwalk.class);
        c.call(new Tlopen(f, O_RDONLY), Rlopen.class);
        return f;
    }

    /** A caller thread keeps {@code depth} Treads outstanding, waiting for the oldest each time. */
    static Run blockingRead(DiodServer diod, ClientConfig cfg, Path file, int depth) throws Exception {
        long size = Files.size(file);
        long server0 = procCpu(diod.pid());
        long cpu0 = selfCpu();
        long t0 = System.nanoTime();
        long got = 0;
        try (NinepClient c = NinepClient.connect(diod.address(), cfg)) {
            int f = open(c, cfg, diod, file);
            int chunk = c.iounit();
            ArrayDeque<CompletableFuture<Rread>> window = new ArrayDeque<>();
            long next = 0;
            while (got < size) {
                while (window.size() < depth && next < size) {
                    window.add(c.rpc(new Tread(f, next, chunk), Rread.class));
                    next += chunk;
                }
                Rread r = window.poll().get(30, TimeUnit.SECONDS);
                int n = r.data().readableBytes();
                r.release();
                if (n != Math.min(chunk, size - (got))) {
                    throw new IllegalStateException("short read of " + n + " at " + got);
                }
                got += n;
            }
        }
        long wall = System.nanoTime() - t0;
        return new Run(mibPerSec(got, wall), perGib(selfCpu() - cpu0, got), perGib(procCpu(diod.pid()) - server0, got));
    }

    /** Each reply's callback (on the event loop) issues the next Tread: no caller thread in the loop. */
    static Run callbackRead(DiodServer diod, ClientConfig cfg, Path file, int depth) throws Exception {
        long size = Files.size(file);
        long server0 = procCpu(diod.pid());
        long cpu0 = selfCpu();
        long t0 = System.nanoTime();
        AtomicLong got = new AtomicLong();
        try (NinepClient c = NinepClient.connect(diod.address(), cfg)) {
            int f = open(c, cfg, diod, file);
            int chunk = c.iounit();
            AtomicLong next = new AtomicLong();
            CompletableFuture<Void> done = new CompletableFuture<>();
            Runnable issue = new Runnable() {
                @Override
                public void run() {
                    long off = next.getAndAdd(chunk);
                    if (off >= size) {
                        return;
                    }
                    c.rpc(new Tread(f, off, chunk), Rread.class).whenComplete((r, ex) -> {
                        if (ex != null) {
                            done.completeExceptionally(ex);
                            return;
                        }
                        int n = r.data().readableBytes();
                        r.release();
                        if (n != Math.min(chunk, size - off)) {
                            done.completeExceptionally(new IllegalStateException("short read " + n + " at " + off));
                        } else if (got.addAndGet(n) == size) {
                            done.complete(null);
                        } else {
                            run();
                        }
                    });
                }
            };
            for (int i = 0; i < depth; i++) {
                issue.run();
            }
            done.get(300, TimeUnit.SECONDS);
        }
        long wall = System.nanoTime() - t0;
        return new Run(mibPerSec(got.get(), wall), perGib(selfCpu() - cpu0, got.get()),
                perGib(procCpu(diod.pid()) - server0, got.get()));
    }

    static long[] getattrRtt(DiodServer diod, ClientConfig cfg, int n) throws Exception {
        try (NinepClient c = NinepClient.connect(diod.address(), cfg)) {
            int root = c.allocFid();
            c.attach(root, cfg.uname(), diod.aname());
            for (int i = 0; i < 2000; i++) {
                c.call(new Tgetattr(root, Rgetattr.BASIC), Rgetattr.class);
            }
            long[] t = new long[n];
            for (int i = 0; i < n; i++) {
                long t0 = System.nanoTime();
                c.call(new Tgetattr(root, Rgetattr.BASIC), Rgetattr.class);
                t[i] = System.nanoTime() - t0;
            }
            Arrays.sort(t);
            return t;
        }
    }

    /** One thread writes {@code bytes} through loopback TCP, this one reads them: the wire's ceiling. */
    static Run rawTcp(long bytes) throws Exception {
        try (ServerSocketChannel ss = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            Thread writer = new Thread(() -> {
                try (SocketChannel out = SocketChannel.open(ss.getLocalAddress())) {
                    ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
                    for (long left = bytes; left > 0; ) {
                        b.clear().limit((int) Math.min(b.capacity(), left));
                        while (b.hasRemaining()) {
                            left -= out.write(b);
                        }
                    }
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            writer.setDaemon(true);
            long t0 = System.nanoTime();
            writer.start();
            long got = 0;
            try (SocketChannel in = ss.accept()) {
                ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
                int n;
                while ((n = in.read(b)) >= 0) {
                    got += n;
                    b.clear();
                }
            }
            writer.join(30_000);
            return new Run(mibPerSec(got, System.nanoTime() - t0), -1, -1);
        }
    }

    static double mibPerSec(long bytes, long nanos) {
        return bytes / (1024.0 * 1024.0) / (nanos / 1e9);
    }
}
