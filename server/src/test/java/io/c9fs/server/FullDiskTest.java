package io.c9fs.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.c9fs.transport.Errno;
import io.c9fs.transport.client.ClientConfig;
import io.c9fs.transport.client.NinepAddress;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.client.NinepException;
import io.c9fs.transport.proto.Message.Rlcreate;
import io.c9fs.transport.proto.Message.Rwalk;
import io.c9fs.transport.proto.Message.Rwrite;
import io.c9fs.transport.proto.Message.Tlcreate;
import io.c9fs.transport.proto.Message.Twalk;
import io.c9fs.transport.proto.Message.Twrite;
import io.netty.buffer.Unpooled;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/**
 * An export on a 4 MiB tmpfs filled up through 9P: writers get ENOSPC (short writes answered
 * with what was written), the server logs it once per episode, no acknowledged byte is lost and
 * no other file changes; freeing space ends the episode.
 */
class FullDiskTest {
    private static final int O_RDWR = 2, O_CREAT = 0100;
    private static final int CHUNK = 64 * 1024;

    @Test
    void aFullDiskGivesEnospcLoggedOncePerEpisode() throws Exception {
        Path mnt = Files.createTempDirectory("c9fs-fulldisk");
        boolean mounted = false;
        Logger log = Logger.getLogger(DiskSpace.class.getName());
        AtomicInteger warnings = new AtomicInteger();
        Handler counter = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
                    warnings.incrementAndGet();
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        log.addHandler(counter);
        try {
            Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            boolean ok = p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
            if (!ok && "true".equals(System.getenv("CI"))) {
                throw new AssertionError("cannot mount a tmpfs (root needed): " + out);
            }
            if (!ok) {
                System.out.println("FullDiskTest skipped: cannot mount a tmpfs (" + out.strip() + ")");
            }
            assumeTrue(ok, "mount -t tmpfs needs root");
            mounted = true;
            byte[] other = new byte[100_000];
            Arrays.fill(other, (byte) 'o');
            Files.write(mnt.resolve("other"), other);

            FileServer s = FileServer.start(ServerConfig.of(mnt, NinepAddress.tcp("127.0.0.1", 0)));
            try (NinepClient c = NinepClient.connect(s.address(), ClientConfig.defaults()
                    .withVersion("9P2000.L").withRequestTimeout(Duration.ofSeconds(10)))) {
                assertEquals(0, attachRoot(c));
                long acked = fill(c, "big", 1);
                assertTrue(s.stats().diskFull(), "the episode is on");
                assertEquals(1, s.stats().diskFullEpisodes());
                assertEquals(1, warnings.get(), "logged once, not once per write");
                assertTrue(s.stats().diskFullRefusals() >= 20);
                assertEquals(acked, Files.size(mnt.resolve("big")), "the file holds what was acknowledged");
                byte[] got = Files.readAllBytes(mnt.resolve("big"));
                byte[] want = new byte[got.length];
                Arrays.fill(want, (byte) 1);
                assertArrayEquals(want, got, "no torn or foreign bytes");
                assertArrayEquals(other, Files.readAllBytes(mnt.resolve("other")), "other files untouched");

                Files.delete(mnt.resolve("big"));
                Thread.sleep(300); // past the statfs recheck interval
                int f = create(c, "small");
                c.call(new Twrite(f, 0, Unpooled.wrappedBuffer(new byte[4096])), Rwrite.class);
                assertFalse(s.stats().diskFull(), "space again ends the episode");

                fill(c, "big2", 2);
                assertEquals(2, s.stats().diskFullEpisodes());
                assertEquals(2, warnings.get(), "one line per episode");
                assertTrue(s.stats().report().contains("disk.full yes"));
            } finally {
                s.close();
            }
        } finally {
            log.removeHandler(counter);
            if (mounted) {
                Process u = new ProcessBuilder("umount", mnt.toString()).redirectErrorStream(true).start();
                if (!u.waitFor(30, TimeUnit.SECONDS) || u.exitValue() != 0) {
                    new ProcessBuilder("umount", "-l", mnt.toString()).start().waitFor(30, TimeUnit.SECONDS);
                }
            }
            Files.deleteIfExists(mnt);
        }
    }

    /** Attaches the root at the client's first fid, 0, which {@link #create} walks from. */
    private static int attachRoot(NinepClient c) throws Exception {
        int root = c.allocFid();
        c.attach(root, "root", "");
        return root;
    }

    private static int create(NinepClient c, String name) throws Exception {
        int f = c.allocFid();
        c.call(new Twalk(0, f, List.of()), Rwalk.class);
        c.call(new Tlcreate(f, name, O_RDWR | O_CREAT, 0644, 0), Rlcreate.class);
        return f;
    }

    /** Writes {@code fill} bytes to a new file until ENOSPC, then 20 more times; returns the bytes acknowledged. */
    private static long fill(NinepClient c, String name, int fill) throws Exception {
        int f = create(c, name);
        byte[] chunk = new byte[CHUNK];
        Arrays.fill(chunk, (byte) fill);
        long off = 0;
        int refused = 0;
        for (int i = 0; i < 1000 && refused < 21; i++) {
            try {
                Rwrite w = c.call(new Twrite(f, off, Unpooled.wrappedBuffer(chunk)), Rwrite.class);
                off += w.count();
            } catch (NinepException e) {
                assertEquals(Errno.ENOSPC, e.errno(), e.getMessage());
                refused++;
            }
        }
        assertEquals(21, refused, "the disk never filled");
        ServedExport.clunk(c, f); // an open file keeps its blocks even once unlinked
        return off;
    }
}
