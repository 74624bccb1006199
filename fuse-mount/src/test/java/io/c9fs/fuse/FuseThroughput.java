package io.c9fs.fuse;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A throughput check of the layer over {@link MemFs} (not a test): GETATTR round trips per second
 * (fstat loops with attr_valid 0, 1 and 2 client processes) and sequential read MiB/s with dd,
 * through FUSE (pages dropped with invalInode) and from the page cache.
 * Run from fuse-mount/ as root: java -cp TEST_CLASSPATH io.c9fs.fuse.FuseThroughput [MiB]
 */
public final class FuseThroughput {
    private FuseThroughput() {
    }

    public static void main(String[] args) throws Exception {
        int mib = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        Path tool = FuseTestSupport.compile("fuse-mmap");
        MemFs fs = new MemFs();
        fs.attrValidNanos = 0;
        fs.putFile("stat", new byte[1]);
        long big = fs.putFile("big", new byte[mib << 20]);
        try (TestMount m = TestMount.mount(fs, MountOptions.defaults("memfs"))) {
            for (int clients = 1; clients <= 2; clients++) {
                List<CProgram> ps = new ArrayList<>();
                for (int i = 0; i < clients; i++) {
                    CProgram c = new CProgram(tool);
                    c.ok("open " + m.path("stat"));
                    ps.add(c);
                }
                for (CProgram c : ps) {
                    c.send("statloop 200000");
                }
                long total = 0;
                for (CProgram c : ps) {
                    total += Long.parseLong(c.answer(120).substring("RATE ".length()));
                    c.close();
                }
                System.out.printf("GETATTR round trips/s, %d client(s): %d%n", clients, total);
            }
            for (String run : new String[] {"through FUSE", "page cache", "through FUSE again"}) {
                if (run.startsWith("through")) {
                    try {
                        m.session.notifier().invalInode(big, 0, 0);
                    } catch (FuseException e) {
                        if (e.errno() != 2) { // ENOENT: the kernel has not looked the file up yet
                            throw e;
                        }
                    }
                }
                FuseTestSupport.Result r = FuseTestSupport.run("dd", "if=" + m.path("big"), "of=/dev/null", "bs=1M");
                String line = r.output().lines().filter(l -> l.contains("copied")).findFirst().orElse(r.output());
                System.out.printf("dd %d MiB, %s: %s%n", mib, run, line.substring(line.lastIndexOf(',') + 2));
            }
        }
    }
}
