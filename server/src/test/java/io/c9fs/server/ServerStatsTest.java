package io.c9fs.server;

import static io.c9fs.server.GraceTest.await;
import static io.c9fs.server.ServedExport.walk;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.c9fs.server.lease.Leaseholder;
import io.c9fs.transport.client.NinepClient;
import io.c9fs.transport.proto.Message.Rlease;
import io.c9fs.transport.proto.Message.Rlock;
import io.c9fs.transport.proto.Message.Rlopen;
import io.c9fs.transport.proto.Message.Rwrite;
import io.c9fs.transport.proto.Message.Tlease;
import io.c9fs.transport.proto.Message.Tlock;
import io.c9fs.transport.proto.Message.Tlopen;
import io.c9fs.transport.proto.Message.Twrite;
import io.netty.buffer.Unpooled;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The server's own view, as {@code c9fs stats --server} prints it from the stats socket. */
class ServerStatsTest {
    static Map<String, String> stats(FileServer s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = StatsCommand.run(new String[] {"--server", s.address().toString()},
                new PrintStream(out, true), new PrintStream(err, true));
        assertEquals(0, status, err.toString());
        Map<String, String> m = new HashMap<>();
        for (String line : out.toString(StandardCharsets.UTF_8).split("\n")) {
            int sp = line.indexOf(' ');
            m.put(line.substring(0, sp), line.substring(sp + 1));
        }
        return m;
    }

    @Test
    void theStatsSocketReportsClientsLeasesRecallsLocksAndBytes() throws Exception {
        try (ServedExport e = ServedExport.start(c -> c.withStatsEndpoint(true)
                .withLeaseTerm(Duration.ofSeconds(5)))) {
            assertNotNull(e.server.statsSocket());
            Files.writeString(e.dir.resolve("f"), "0123456789");
            Files.writeString(e.dir.resolve("g"), "0123456789");
            NinepClient leased = e.attached("9P2000.L.c9");
            Leaseholder h = Leaseholder.acknowledging(leased);
            int lf = walk(leased, 0, "f"); // a read lease on f (and one on the root)
            int lg = walk(leased, 0, "g");
            leased.call(new Tlopen(lg, 2), Rlopen.class);
            assertEquals(2, leased.call(new Tlease(lg, 2), Rlease.class).mode());

            NinepClient plain = e.attached("9P2000.L");
            int pf = walk(plain, 0, "f");
            plain.call(new Tlopen(pf, 2), Rlopen.class);
            assertEquals(Rlock.SUCCESS, plain.call(new Tlock(pf, Tlock.WRLCK, 0, 0, 5, 1, "p"), Rlock.class).status());
            plain.call(new Twrite(pf, 0, Unpooled.wrappedBuffer("AB".getBytes(StandardCharsets.UTF_8))), Rwrite.class);
            await(() -> h.received() >= 1, 5000, "the leased client recalled");
            // A request counts as in flight until its reply has been handed to the socket, which
            // may be just after the client has it.
            await(() -> e.server.stats().inFlight() == 0, 5000, "the answered requests counted out");

            Map<String, String> m = stats(e.server);
            assertEquals("2", m.get("clients"));
            assertEquals(String.valueOf(e.server.stats().fids()), m.get("fids"));
            assertEquals("3", m.get("leases"), m.toString());
            assertEquals("2", m.get("leases.read"));
            assertEquals("1", m.get("leases.write"));
            assertEquals("1", m.get("locks"));
            assertTrue(Long.parseLong(m.get("recalls.sent")) >= 1);
            assertTrue(Long.parseLong(m.get("recalls.roundtrip.median_us")) > 0);
            assertTrue(Long.parseLong(m.get("bytes.in")) > 100);
            assertTrue(Long.parseLong(m.get("bytes.out")) > 100);
            assertEquals("0", m.get("bytes.read_direct"), "two-byte reads and writes are all buffered");
            assertEquals("0", m.get("requests.inflight"));
            assertEquals("0", m.get("grace.remaining_ms"));
            assertEquals("no", m.get("disk.full"));
            assertEquals("0", m.get("clients.vanished"));
            h.close();
            leased.abort(); // no goodbye: vanished, its leases stand for the term
            await(() -> e.server.stats().vanished() == 1 && e.server.stats().connections() == 1, 5000,
                    "the leased client gone");
            m = stats(e.server);
            assertEquals("1", m.get("clients"));
            assertEquals("1", m.get("leaseholders.vanished"));
            assertEquals("3", m.get("leases.vanished"));
        }
    }

    @Test
    void graceShowsWhileItLasts() throws Exception {
        try (ServedExport e = ServedExport.start(c -> c.withStatsEndpoint(true).withGrace(Duration.ofSeconds(30)))) {
            long left = Long.parseLong(stats(e.server).get("grace.remaining_ms"));
            assertTrue(left > 20_000 && left <= 30_000, "grace left " + left);
        }
    }

    @Test
    void noServerNoStats() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true);
        assertEquals(1, StatsCommand.run(new String[] {"--server", "127.0.0.1:1"}, sink, new PrintStream(err, true)));
        assertTrue(err.toString().contains("no c9fs-serve answers"), err.toString());
        assertEquals(2, StatsCommand.run(new String[] {}, sink, sink));
        assertEquals(2, StatsCommand.run(new String[] {"--bogus"}, sink, sink));
        assertEquals(0, StatsCommand.run(new String[] {"--help"}, sink, sink));
    }
}
